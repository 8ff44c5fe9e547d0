"""Batchite's own admin operations (not part of the Batch API): preempt low-priority nodes on demand."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import render
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.wire.types import encode

router = Router()
PREEMPT = "/_batchite/admin/pools/{poolId}/preempt"


@router.operation("Batchite_PreemptNodes", "POST", PREEMPT, batch_api=False)
async def preempt_nodes(ctx: RequestContext) -> Response:
    body = await ctx.json_object(required=False)
    node_ids = [str(n) for n in body.get("nodeIds") or []] or None
    done = ctx.batch.nodes.preempt(ctx.account, ctx.path("poolId"), node_ids)
    return render.json_response(encode({"preemptedNodeIds": done}))
