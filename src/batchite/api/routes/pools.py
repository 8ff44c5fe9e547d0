"""Pool operations and the account-level lists (supported images, node counts)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api import conditions
from batchite.api.paging import list_options, list_response, slice_items
from batchite.api.request import RequestContext, json_response, operation
from batchite.service.images import supported_images
from batchite.wire.models import (
    BatchNodeRemoveOptions,
    BatchPoolCreateOptions,
    BatchPoolEnableAutoScaleOptions,
    BatchPoolEvaluateAutoScaleOptions,
    BatchPoolReplaceOptions,
    BatchPoolResizeOptions,
    BatchPoolUpdateOptions,
)


def _url(pool_id: str) -> str:
    return f"/pools/{pool_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    rec = ctx.batch.pools.get(ctx.account, ctx.path("poolId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=read)


@operation("Pools_CreatePool", "POST", "/pools")
async def create_pool(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchPoolCreateOptions)
    rec = ctx.batch.pools.create(ctx.account, body)
    return ctx.entity_done(rec, _url(rec.id), 201)


@operation("Pools_ListPools", "GET", "/pools")
async def list_pools(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "pools")
    page = ctx.batch.pools.list(ctx.account, opts.after, opts.max_results, opts.flt)
    items = [{**r.doc, "url": f"{ctx.base_url}/pools/{r.id}"} for r in page.records]
    return list_response(ctx, "pools", items, page.next_after)


@operation("Pools_GetPool", "GET", "/pools/{poolId}")
async def get_pool(ctx: RequestContext) -> Response:
    rec = ctx.batch.pools.get(ctx.account, ctx.path("poolId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=True)
    return ctx.render(rec, "pools", _url(rec.id))


@operation("Pools_PoolExists", "HEAD", "/pools/{poolId}")
async def pool_exists(ctx: RequestContext) -> Response:
    rec = ctx.batch.pools.get(ctx.account, ctx.path("poolId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=True)
    return ctx.entity_done(rec, _url(rec.id), 200)


@operation("Pools_UpdatePool", "PATCH", "/pools/{poolId}")
async def update_pool(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchPoolUpdateOptions)
    rec = ctx.batch.pools.update(ctx.account, ctx.path("poolId"), body)
    return ctx.entity_done(rec, _url(rec.id), 200)


@operation("Pools_ReplacePoolProperties", "POST", "/pools/{poolId}/updateproperties")
async def replace_pool(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchPoolReplaceOptions)
    rec = ctx.batch.pools.replace_properties(ctx.account, ctx.path("poolId"), body)
    return ctx.entity_done(rec, _url(rec.id), 204)


@operation("Pools_DeletePool", "DELETE", "/pools/{poolId}")
async def delete_pool(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.batch.pools.delete(ctx.account, ctx.path("poolId"))
    return Response(status_code=202)


@operation("Pools_ResizePool", "POST", "/pools/{poolId}/resize")
async def resize_pool(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchPoolResizeOptions, required=False)
    rec = ctx.batch.pools.resize(ctx.account, ctx.path("poolId"), body)
    return ctx.entity_done(rec, _url(rec.id), 202)


@operation("Pools_StopPoolResize", "POST", "/pools/{poolId}/stopresize")
async def stop_resize(ctx: RequestContext) -> Response:
    _guard(ctx)
    rec = ctx.batch.pools.stop_resize(ctx.account, ctx.path("poolId"))
    return ctx.entity_done(rec, _url(rec.id), 202)


@operation("Pools_RemoveNodes", "POST", "/pools/{poolId}/removenodes")
async def remove_nodes(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchNodeRemoveOptions)
    rec = ctx.batch.nodes.remove(
        ctx.account, ctx.path("poolId"), list(body["nodeList"]), body.get("nodeDeallocationOption")
    )
    return ctx.entity_done(rec, _url(rec.id), 202)


@operation("Pools_EnablePoolAutoScale", "POST", "/pools/{poolId}/enableautoscale")
async def enable_autoscale(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchPoolEnableAutoScaleOptions, required=False)
    rec = ctx.batch.autoscale.enable(ctx.account, ctx.path("poolId"), body)
    return ctx.entity_done(rec, _url(rec.id), 200)


@operation("Pools_DisablePoolAutoScale", "POST", "/pools/{poolId}/disableautoscale")
async def disable_autoscale(ctx: RequestContext) -> Response:
    rec = ctx.batch.autoscale.disable(ctx.account, ctx.path("poolId"))
    return ctx.entity_done(rec, _url(rec.id), 200)


@operation("Pools_EvaluatePoolAutoScale", "POST", "/pools/{poolId}/evaluateautoscale")
async def evaluate_autoscale(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchPoolEvaluateAutoScaleOptions)
    pool_id = ctx.path("poolId")
    run = ctx.batch.autoscale.evaluate(ctx.account, pool_id, str(body["autoScaleFormula"]))
    response = json_response(
        {"odata.metadata": f"{ctx.base_url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun", **run}
    )
    response.headers["DataServiceId"] = f"{ctx.base_url}/pools/{pool_id}"
    return response


@operation("Pools_ListSupportedImages", "GET", "/supportedimages")
async def list_supported_images(ctx: RequestContext) -> Response:
    items, after = slice_items(supported_images(), list_options(ctx, "supportedimages"))
    return list_response(ctx, "supportedimages", items, after)


@operation("Pools_ListPoolNodeCounts", "GET", "/nodecounts")
async def list_pool_node_counts(ctx: RequestContext) -> Response:
    items, after = slice_items(ctx.batch.pools.node_counts(ctx.account), list_options(ctx, "nodecounts"))
    return list_response(ctx, "poolnodecounts", items, after)


ROUTES = [
    Route("/pools", create_pool, methods=["POST"]),
    Route("/pools", list_pools, methods=["GET"]),
    Route("/pools/{poolId}", pool_exists, methods=["HEAD"]),
    Route("/pools/{poolId}", get_pool, methods=["GET"]),
    Route("/pools/{poolId}", update_pool, methods=["PATCH"]),
    Route("/pools/{poolId}", delete_pool, methods=["DELETE"]),
    Route("/pools/{poolId}/updateproperties", replace_pool, methods=["POST"]),
    Route("/pools/{poolId}/resize", resize_pool, methods=["POST"]),
    Route("/pools/{poolId}/stopresize", stop_resize, methods=["POST"]),
    Route("/pools/{poolId}/removenodes", remove_nodes, methods=["POST"]),
    Route("/pools/{poolId}/enableautoscale", enable_autoscale, methods=["POST"]),
    Route("/pools/{poolId}/disableautoscale", disable_autoscale, methods=["POST"]),
    Route("/pools/{poolId}/evaluateautoscale", evaluate_autoscale, methods=["POST"]),
    Route("/supportedimages", list_supported_images, methods=["GET"]),
    Route("/nodecounts", list_pool_node_counts, methods=["GET"]),
]
