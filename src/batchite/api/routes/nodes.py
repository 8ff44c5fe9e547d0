"""Compute node operations."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext, operation


@operation("Nodes_ListNodes", "GET", "/pools/{poolId}/nodes")
async def list_nodes(ctx: RequestContext) -> Response:
    opts = list_options(ctx)
    pool_id = ctx.path("poolId")
    page = ctx.batch.nodes.list(ctx.account, pool_id, opts.after, opts.max_results)
    items = [{**r.doc, "url": f"{ctx.base_url}/pools/{pool_id}/nodes/{r.id}"} for r in page.records]
    return list_response(ctx, "nodes", items, page.next_after)


@operation("Nodes_GetNode", "GET", "/pools/{poolId}/nodes/{nodeId}")
async def get_node(ctx: RequestContext) -> Response:
    pool_id = ctx.path("poolId")
    rec = ctx.batch.nodes.get(ctx.account, pool_id, ctx.path("nodeId"))
    return ctx.render(rec, "nodes", f"/pools/{pool_id}/nodes/{rec.id}")


ROUTES = [
    Route("/pools/{poolId}/nodes", list_nodes, methods=["GET"]),
    Route("/pools/{poolId}/nodes/{nodeId}", get_node, methods=["GET"]),
]
