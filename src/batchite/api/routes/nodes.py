"""Compute node operations (node files are in files.py)."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import render
from batchite.api.contract import LISTED, PAGED, SHOWN, Contract, Query
from batchite.api.paging import list_options, list_response, slice_items
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.domain.node_actions import NodeAction
from batchite.wire.models import (
    BatchNode,
    BatchNodeDeallocateOptions,
    BatchNodeDisableSchedulingOptions,
    BatchNodeRebootOptions,
    BatchNodeReimageOptions,
    BatchNodeRemoteLoginSettings,
    BatchNodeUserCreateOptions,
    BatchNodeUserReplaceOptions,
    BatchNodeVMExtension,
    UploadBatchServiceLogsOptions,
    UploadBatchServiceLogsResult,
)

router = Router()


def _ids(ctx: RequestContext) -> tuple[str, str, str]:
    return ctx.account, ctx.path("poolId"), ctx.path("nodeId")


def _node_url(pool_id: str, node_id: str) -> str:
    return f"/pools/{pool_id}/nodes/{node_id}"


@router.operation(
    "Nodes_ListNodes", "GET", "/pools/{poolId}/nodes", Contract(query=LISTED, returns=BatchNode, page=True)
)
async def list_nodes(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "nodes")
    pool_id = ctx.path("poolId")
    page = ctx.batch.nodes.list(ctx.account, pool_id, opts.after, opts.max_results, opts.flt)
    items = [render.shown(n, f"{ctx.base_url}{_node_url(pool_id, n.id)}") for n in page.items]
    return list_response(ctx, "nodes", items, page.next_after)


@router.operation("Nodes_GetNode", "GET", "/pools/{poolId}/nodes/{nodeId}", Contract(query=SHOWN, returns=BatchNode))
async def get_node(ctx: RequestContext) -> Response:
    node = ctx.batch.nodes.get(*_ids(ctx))
    return render.entity(ctx, node, "nodes", _node_url(ctx.path("poolId"), node.id))


@router.operation(
    "Nodes_RebootNode",
    "POST",
    "/pools/{poolId}/nodes/{nodeId}/reboot",
    Contract(202, BatchNodeRebootOptions, body_required=False),
)
async def reboot_node(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchNodeRebootOptions, required=False)
    node = ctx.batch.nodes.act(*_ids(ctx), NodeAction.REBOOT, body.node_reboot_kind)
    return render.entity_done(ctx, node, _node_url(ctx.path("poolId"), node.id), 202)


@router.operation(
    "Nodes_ReimageNode",
    "POST",
    "/pools/{poolId}/nodes/{nodeId}/reimage",
    Contract(202, BatchNodeReimageOptions, body_required=False),
)
async def reimage_node(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchNodeReimageOptions, required=False)
    node = ctx.batch.nodes.act(*_ids(ctx), NodeAction.REIMAGE, body.node_reimage_option)
    return render.entity_done(ctx, node, _node_url(ctx.path("poolId"), node.id), 202)


@router.operation(
    "Nodes_DeallocateNode",
    "POST",
    "/pools/{poolId}/nodes/{nodeId}/deallocate",
    Contract(202, BatchNodeDeallocateOptions, body_required=False),
)
async def deallocate_node(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchNodeDeallocateOptions, required=False)
    node = ctx.batch.nodes.act(*_ids(ctx), NodeAction.DEALLOCATE, body.node_deallocate_option)
    return render.entity_done(ctx, node, _node_url(ctx.path("poolId"), node.id), 202)


@router.operation("Nodes_StartNode", "POST", "/pools/{poolId}/nodes/{nodeId}/start", Contract(202))
async def start_node(ctx: RequestContext) -> Response:
    node = ctx.batch.nodes.start(*_ids(ctx))
    return render.entity_done(ctx, node, _node_url(ctx.path("poolId"), node.id), 202)


@router.operation(
    "Nodes_DisableNodeScheduling",
    "POST",
    "/pools/{poolId}/nodes/{nodeId}/disablescheduling",
    Contract(body=BatchNodeDisableSchedulingOptions, body_required=False),
)
async def disable_scheduling(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchNodeDisableSchedulingOptions, required=False)
    node = ctx.batch.nodes.set_scheduling(*_ids(ctx), False, body.node_disable_scheduling_option)
    return render.entity_done(ctx, node, _node_url(ctx.path("poolId"), node.id), 200)


@router.operation("Nodes_EnableNodeScheduling", "POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling", Contract())
async def enable_scheduling(ctx: RequestContext) -> Response:
    node = ctx.batch.nodes.set_scheduling(*_ids(ctx), True, None)
    return render.entity_done(ctx, node, _node_url(ctx.path("poolId"), node.id), 200)


@router.operation(
    "Nodes_CreateNodeUser", "POST", "/pools/{poolId}/nodes/{nodeId}/users", Contract(201, BatchNodeUserCreateOptions)
)
async def create_user(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchNodeUserCreateOptions)
    user = ctx.batch.nodes.create_user(*_ids(ctx), body)
    return render.entity_done(ctx, user, f"{_node_url(ctx.path('poolId'), ctx.path('nodeId'))}/users/{body.name}", 201)


@router.operation(
    "Nodes_ReplaceNodeUser",
    "PUT",
    "/pools/{poolId}/nodes/{nodeId}/users/{userName}",
    Contract(body=BatchNodeUserReplaceOptions, body_required=False),
)
async def replace_user(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchNodeUserReplaceOptions, required=False)
    name = ctx.path("userName")
    user = ctx.batch.nodes.replace_user(*_ids(ctx), name, body)
    return render.entity_done(ctx, user, f"{_node_url(ctx.path('poolId'), ctx.path('nodeId'))}/users/{name}", 200)


@router.operation("Nodes_DeleteNodeUser", "DELETE", "/pools/{poolId}/nodes/{nodeId}/users/{userName}", Contract())
async def delete_user(ctx: RequestContext) -> Response:
    ctx.batch.nodes.delete_user(*_ids(ctx), ctx.path("userName"))
    return Response(status_code=200)


@router.operation(
    "Nodes_GetNodeRemoteLoginSettings",
    "GET",
    "/pools/{poolId}/nodes/{nodeId}/remoteloginsettings",
    Contract(returns=BatchNodeRemoteLoginSettings),
)
async def remote_login_settings(ctx: RequestContext) -> Response:
    return render.model(ctx, ctx.batch.nodes.remote_login_settings(*_ids(ctx)), "remoteloginsettings/@Element")


@router.operation(
    "Nodes_UploadNodeLogs",
    "POST",
    "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs",
    Contract(body=UploadBatchServiceLogsOptions, returns=UploadBatchServiceLogsResult),
)
async def upload_logs(ctx: RequestContext) -> Response:
    body = await ctx.body(UploadBatchServiceLogsOptions)
    result = await ctx.batch.nodes.upload_logs(*_ids(ctx), body)
    return render.model(ctx, result, "uploadbatchservicelogsresult")


@router.operation(
    "Nodes_ListNodeExtensions",
    "GET",
    "/pools/{poolId}/nodes/{nodeId}/extensions",
    Contract(query=(*PAGED, Query.SELECTION), returns=BatchNodeVMExtension, page=True),
)
async def list_extensions(ctx: RequestContext) -> Response:
    items, after = slice_items(ctx.batch.nodes.extensions(*_ids(ctx)), list_options(ctx))
    return list_response(ctx, "extensions", items, after)


@router.operation(
    "Nodes_GetNodeExtension",
    "GET",
    "/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}",
    Contract(query=(Query.SELECTION,), returns=BatchNodeVMExtension),
)
async def get_extension(ctx: RequestContext) -> Response:
    return render.model(ctx, ctx.batch.nodes.extension(*_ids(ctx), ctx.path("extensionName")), "extensions/@Element")
