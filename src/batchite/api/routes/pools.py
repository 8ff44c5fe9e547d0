"""Pool operations and the account-level lists (supported images, node counts)."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import conditions, render
from batchite.api.contract import CONDITIONAL, LISTED, LISTED_EXPANDED, SHOWN, Contract
from batchite.api.paging import list_options, list_response, slice_items
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.service.images import supported_images
from batchite.wire.models import (
    AutoScaleRun,
    BatchNodeRemoveOptions,
    BatchPool,
    BatchPoolCreateOptions,
    BatchPoolEnableAutoScaleOptions,
    BatchPoolEvaluateAutoScaleOptions,
    BatchPoolNodeCounts,
    BatchPoolReplaceOptions,
    BatchPoolResizeOptions,
    BatchPoolUpdateOptions,
    BatchSupportedImage,
)

router = Router()


def _url(pool_id: str) -> str:
    return f"/pools/{pool_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    pool = ctx.batch.pools.get(ctx.account, ctx.path("poolId"))
    conditions.check(ctx.headers, pool.etag, pool.last_modified, read=read)


@router.operation("Pools_CreatePool", "POST", "/pools", Contract(201, BatchPoolCreateOptions))
async def create_pool(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchPoolCreateOptions)
    pool = ctx.batch.pools.create(ctx.account, body)
    return render.entity_done(ctx, pool, _url(pool.id), 201)


@router.operation("Pools_ListPools", "GET", "/pools", Contract(query=LISTED_EXPANDED, returns=BatchPool, page=True))
async def list_pools(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "pools")
    page = ctx.batch.pools.list(ctx.account, opts.after, opts.max_results, opts.flt)
    items = [render.expanded(ctx, p, f"{ctx.base_url}{_url(p.id)}") for p in page.items]
    return list_response(ctx, "pools", items, page.next_after)


@router.operation("Pools_PoolExists", "HEAD", "/pools/{poolId}", Contract(headers=CONDITIONAL))
async def pool_exists(ctx: RequestContext) -> Response:
    pool = ctx.batch.pools.get(ctx.account, ctx.path("poolId"))
    conditions.check(ctx.headers, pool.etag, pool.last_modified, read=True)
    return render.entity_done(ctx, pool, _url(pool.id), 200)


@router.operation(
    "Pools_GetPool", "GET", "/pools/{poolId}", Contract(headers=CONDITIONAL, query=SHOWN, returns=BatchPool)
)
async def get_pool(ctx: RequestContext) -> Response:
    pool = ctx.batch.pools.get(ctx.account, ctx.path("poolId"))
    conditions.check(ctx.headers, pool.etag, pool.last_modified, read=True)
    return render.entity(ctx, pool, "pools", _url(pool.id))


@router.operation("Pools_UpdatePool", "PATCH", "/pools/{poolId}", Contract(body=BatchPoolUpdateOptions))
async def update_pool(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchPoolUpdateOptions)
    pool = ctx.batch.pools.update(ctx.account, ctx.path("poolId"), body)
    return render.entity_done(ctx, pool, _url(pool.id), 200)


@router.operation("Pools_DeletePool", "DELETE", "/pools/{poolId}", Contract(202))
async def delete_pool(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.batch.pools.delete(ctx.account, ctx.path("poolId"))
    return Response(status_code=202)


@router.operation(
    "Pools_ReplacePoolProperties", "POST", "/pools/{poolId}/updateproperties", Contract(204, BatchPoolReplaceOptions)
)
async def replace_pool(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchPoolReplaceOptions)
    pool = ctx.batch.pools.replace_properties(ctx.account, ctx.path("poolId"), body)
    return render.entity_done(ctx, pool, _url(pool.id), 204)


@router.operation(
    "Pools_ResizePool", "POST", "/pools/{poolId}/resize", Contract(202, BatchPoolResizeOptions, body_required=False)
)
async def resize_pool(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchPoolResizeOptions, required=False)
    pool = ctx.batch.pools.resize(ctx.account, ctx.path("poolId"), body)
    return render.entity_done(ctx, pool, _url(pool.id), 202)


@router.operation("Pools_StopPoolResize", "POST", "/pools/{poolId}/stopresize", Contract(202))
async def stop_resize(ctx: RequestContext) -> Response:
    _guard(ctx)
    pool = ctx.batch.pools.stop_resize(ctx.account, ctx.path("poolId"))
    return render.entity_done(ctx, pool, _url(pool.id), 202)


@router.operation("Pools_RemoveNodes", "POST", "/pools/{poolId}/removenodes", Contract(202, BatchNodeRemoveOptions))
async def remove_nodes(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchNodeRemoveOptions)
    pool = ctx.batch.nodes.remove(ctx.account, ctx.path("poolId"), list(body.node_ids), body.node_deallocation_option)
    return render.entity_done(ctx, pool, _url(pool.id), 202)


@router.operation(
    "Pools_EnablePoolAutoScale",
    "POST",
    "/pools/{poolId}/enableautoscale",
    Contract(body=BatchPoolEnableAutoScaleOptions, body_required=False),
)
async def enable_autoscale(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchPoolEnableAutoScaleOptions, required=False)
    pool = ctx.batch.autoscale.enable(ctx.account, ctx.path("poolId"), body)
    return render.entity_done(ctx, pool, _url(pool.id), 200)


@router.operation("Pools_DisablePoolAutoScale", "POST", "/pools/{poolId}/disableautoscale", Contract())
async def disable_autoscale(ctx: RequestContext) -> Response:
    pool = ctx.batch.autoscale.disable(ctx.account, ctx.path("poolId"))
    return render.entity_done(ctx, pool, _url(pool.id), 200)


@router.operation(
    "Pools_EvaluatePoolAutoScale",
    "POST",
    "/pools/{poolId}/evaluateautoscale",
    Contract(body=BatchPoolEvaluateAutoScaleOptions, returns=AutoScaleRun),
)
async def evaluate_autoscale(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchPoolEvaluateAutoScaleOptions)
    pool_id = ctx.path("poolId")
    run = ctx.batch.autoscale.evaluate(ctx.account, pool_id, body.auto_scale_formula)
    metadata = "Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun"
    return render.model(ctx, run, metadata, headers={"DataServiceId": f"{ctx.base_url}{_url(pool_id)}"})


@router.operation(
    "Pools_ListSupportedImages",
    "GET",
    "/supportedimages",
    Contract(query=LISTED, returns=BatchSupportedImage, page=True),
)
async def list_supported_images(ctx: RequestContext) -> Response:
    items, after = slice_items(supported_images(), list_options(ctx, "supportedimages"))
    return list_response(ctx, "supportedimages", items, after)


@router.operation(
    "Pools_ListPoolNodeCounts", "GET", "/nodecounts", Contract(query=LISTED, returns=BatchPoolNodeCounts, page=True)
)
async def list_pool_node_counts(ctx: RequestContext) -> Response:
    items, after = slice_items(ctx.batch.pools.node_counts(ctx.account), list_options(ctx, "nodecounts"))
    return list_response(ctx, "poolnodecounts", items, after)
