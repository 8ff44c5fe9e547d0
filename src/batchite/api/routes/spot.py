"""Spot evictions on demand: Batchite's own operation (not part of the Batch API), signed with SharedKey."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api.request import RequestContext, json_response, operation


@operation("Batchite_PreemptNodes", "POST", "/_batchite/admin/pools/{poolId}/preempt", batch_api=False)
async def preempt_nodes(ctx: RequestContext) -> Response:
    """Preempt a pool's low-priority nodes now (body: {"nodeIds": [...]}, or none for all of them)."""
    body = await ctx.json_body(required=False)
    node_ids = body.get("nodeIds")
    ids = [str(n) for n in node_ids] if isinstance(node_ids, list) else None
    done = ctx.batch.nodes.preempt(ctx.account, ctx.path("poolId"), ids)
    return json_response({"preemptedNodeIds": done})


ROUTES = [Route("/_batchite/admin/pools/{poolId}/preempt", preempt_nodes, methods=["POST"])]
