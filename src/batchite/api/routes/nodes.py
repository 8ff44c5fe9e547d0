"""Compute node operations (node files are in files.py)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api.paging import list_options, list_response, slice_items
from batchite.api.request import RequestContext, json_response, operation, select
from batchite.wire.models import (
    BatchNodeDeallocateOptions,
    BatchNodeDisableSchedulingOptions,
    BatchNodeRebootOptions,
    BatchNodeReimageOptions,
    BatchNodeUserCreateOptions,
    BatchNodeUserReplaceOptions,
    UploadBatchServiceLogsOptions,
)


def _ids(ctx: RequestContext) -> tuple[str, str, str]:
    return ctx.account, ctx.path("poolId"), ctx.path("nodeId")


def _node_url(pool_id: str, node_id: str) -> str:
    return f"/pools/{pool_id}/nodes/{node_id}"


@operation("Nodes_ListNodes", "GET", "/pools/{poolId}/nodes")
async def list_nodes(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "nodes")
    pool_id = ctx.path("poolId")
    page = ctx.batch.nodes.list(ctx.account, pool_id, opts.after, opts.max_results, opts.flt)
    items = [{**r.doc, "url": f"{ctx.base_url}{_node_url(pool_id, r.id)}"} for r in page.records]
    return list_response(ctx, "nodes", items, page.next_after)


@operation("Nodes_GetNode", "GET", "/pools/{poolId}/nodes/{nodeId}")
async def get_node(ctx: RequestContext) -> Response:
    rec = ctx.batch.nodes.get(*_ids(ctx))
    return ctx.render(rec, "nodes", _node_url(ctx.path("poolId"), rec.id))


async def _action(ctx: RequestContext, action: str, option_field: str, model: type) -> Response:
    body = await ctx.model(model, required=False)
    rec = ctx.batch.nodes.act(*_ids(ctx), action, body.get(option_field))
    return ctx.entity_done(rec, _node_url(ctx.path("poolId"), rec.id), 202)


@operation("Nodes_RebootNode", "POST", "/pools/{poolId}/nodes/{nodeId}/reboot")
async def reboot_node(ctx: RequestContext) -> Response:
    return await _action(ctx, "reboot", "nodeRebootOption", BatchNodeRebootOptions)


@operation("Nodes_ReimageNode", "POST", "/pools/{poolId}/nodes/{nodeId}/reimage")
async def reimage_node(ctx: RequestContext) -> Response:
    return await _action(ctx, "reimage", "nodeReimageOption", BatchNodeReimageOptions)


@operation("Nodes_DeallocateNode", "POST", "/pools/{poolId}/nodes/{nodeId}/deallocate")
async def deallocate_node(ctx: RequestContext) -> Response:
    return await _action(ctx, "deallocate", "nodeDeallocateOption", BatchNodeDeallocateOptions)


@operation("Nodes_StartNode", "POST", "/pools/{poolId}/nodes/{nodeId}/start")
async def start_node(ctx: RequestContext) -> Response:
    rec = ctx.batch.nodes.start(*_ids(ctx))
    return ctx.entity_done(rec, _node_url(ctx.path("poolId"), rec.id), 202)


@operation("Nodes_DisableNodeScheduling", "POST", "/pools/{poolId}/nodes/{nodeId}/disablescheduling")
async def disable_scheduling(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchNodeDisableSchedulingOptions, required=False)
    rec = ctx.batch.nodes.set_scheduling(*_ids(ctx), False, body.get("nodeDisableSchedulingOption"))
    return ctx.entity_done(rec, _node_url(ctx.path("poolId"), rec.id), 200)


@operation("Nodes_EnableNodeScheduling", "POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling")
async def enable_scheduling(ctx: RequestContext) -> Response:
    rec = ctx.batch.nodes.set_scheduling(*_ids(ctx), True, None)
    return ctx.entity_done(rec, _node_url(ctx.path("poolId"), rec.id), 200)


@operation("Nodes_CreateNodeUser", "POST", "/pools/{poolId}/nodes/{nodeId}/users")
async def create_user(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchNodeUserCreateOptions)
    rec = ctx.batch.nodes.create_user(*_ids(ctx), body)
    return ctx.entity_done(rec, f"{_node_url(ctx.path('poolId'), rec.id)}/users/{body['name']}", 201)


@operation("Nodes_ReplaceNodeUser", "PUT", "/pools/{poolId}/nodes/{nodeId}/users/{userName}")
async def replace_user(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchNodeUserReplaceOptions, required=False)
    rec = ctx.batch.nodes.replace_user(*_ids(ctx), ctx.path("userName"), body)
    return ctx.entity_done(rec, f"{_node_url(ctx.path('poolId'), rec.id)}/users/{ctx.path('userName')}", 200)


@operation("Nodes_DeleteNodeUser", "DELETE", "/pools/{poolId}/nodes/{nodeId}/users/{userName}")
async def delete_user(ctx: RequestContext) -> Response:
    ctx.batch.nodes.delete_user(*_ids(ctx), ctx.path("userName"))
    return Response(status_code=200)


@operation("Nodes_GetNodeRemoteLoginSettings", "GET", "/pools/{poolId}/nodes/{nodeId}/remoteloginsettings")
async def remote_login_settings(ctx: RequestContext) -> Response:
    settings = ctx.batch.nodes.remote_login_settings(*_ids(ctx))
    return json_response({"odata.metadata": f"{ctx.base_url}/$metadata#remoteloginsettings/@Element", **settings})


@operation("Nodes_UploadNodeLogs", "POST", "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs")
async def upload_logs(ctx: RequestContext) -> Response:
    body = await ctx.model(UploadBatchServiceLogsOptions)
    result = ctx.batch.nodes.upload_logs(*_ids(ctx), body)
    return json_response({"odata.metadata": f"{ctx.base_url}/$metadata#uploadbatchservicelogsresult", **result})


@operation("Nodes_ListNodeExtensions", "GET", "/pools/{poolId}/nodes/{nodeId}/extensions")
async def list_extensions(ctx: RequestContext) -> Response:
    items, after = slice_items(ctx.batch.nodes.extensions(*_ids(ctx)), list_options(ctx))
    return list_response(ctx, "extensions", items, after)


@operation("Nodes_GetNodeExtension", "GET", "/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}")
async def get_extension(ctx: RequestContext) -> Response:
    ext = ctx.batch.nodes.extension(*_ids(ctx), ctx.path("extensionName"))
    body = {"odata.metadata": f"{ctx.base_url}/$metadata#extensions/@Element", **ext}
    return json_response(select(body, ctx.query.get("$select")))


ROUTES = [
    Route("/pools/{poolId}/nodes", list_nodes, methods=["GET"]),
    Route("/pools/{poolId}/nodes/{nodeId}", get_node, methods=["GET"]),
    Route("/pools/{poolId}/nodes/{nodeId}/reboot", reboot_node, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/reimage", reimage_node, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/deallocate", deallocate_node, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/start", start_node, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/disablescheduling", disable_scheduling, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/enablescheduling", enable_scheduling, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/users", create_user, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/users/{userName}", replace_user, methods=["PUT"]),
    Route("/pools/{poolId}/nodes/{nodeId}/users/{userName}", delete_user, methods=["DELETE"]),
    Route("/pools/{poolId}/nodes/{nodeId}/remoteloginsettings", remote_login_settings, methods=["GET"]),
    Route("/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs", upload_logs, methods=["POST"]),
    Route("/pools/{poolId}/nodes/{nodeId}/extensions", list_extensions, methods=["GET"]),
    Route("/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}", get_extension, methods=["GET"]),
]
