"""Batchite's own admin operations (not part of the Batch API): preempt low-priority nodes on demand."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api.request import RequestContext, json_response, operation

PREEMPT = "/_batchite/admin/pools/{poolId}/preempt"


@operation("Batchite_PreemptNodes", "POST", PREEMPT, batch_api=False)
async def preempt_nodes(ctx: RequestContext) -> Response:
    body = await ctx.json_body(required=False)
    node_ids = [str(n) for n in body.get("nodeIds") or []] or None
    done = ctx.batch.nodes.preempt(ctx.account, ctx.path("poolId"), node_ids)
    return json_response({"preemptedNodeIds": done})


ROUTES = [Route(PREEMPT, preempt_nodes, methods=["POST"])]
