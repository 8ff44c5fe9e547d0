"""Task files and node files: list, get (with ocp-range), properties (HEAD), delete."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from batchite.api import conditions
from batchite.api.contract import FILE, FILE_CONDITIONAL, LISTED, Contract, Header, Query
from batchite.api.paging import list_options, list_response, slice_items
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.clock import http_date
from batchite.domain.errors import BatchError
from batchite.service.files import FileInfo, FileLocation
from batchite.wire.models import BatchNodeFile, FileProperties
from batchite.wire.types import Int64String

router = Router()
_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})\Z")  # offsets within int64
FILE_CONDITIONS = ("if-modified-since", "if-unmodified-since")
OCTET = "application/octet-stream"


def _task_location(ctx: RequestContext, path: str = "") -> FileLocation:
    return ctx.batch.files.task_location(ctx.account, ctx.path("jobId"), ctx.path("taskId"), path)


def _node_location(ctx: RequestContext, path: str = "") -> FileLocation:
    return ctx.batch.files.node_location(ctx.account, ctx.path("poolId"), ctx.path("nodeId"), path)


def _file_headers(loc: FileLocation, info: FileInfo) -> dict[str, str]:
    return {
        "ocp-creation-time": http_date(info.creation_time),
        "ocp-batch-file-isdirectory": "True" if info.is_directory else "False",
        "ocp-batch-file-url": quote(loc.url, safe=":/"),
        "ocp-batch-file-mode": info.mode,
        "Last-Modified": http_date(info.last_modified),
        "Content-Type": OCTET,
    }


def _range(ctx: RequestContext) -> tuple[int | None, int | None]:
    raw = ctx.headers.get("ocp-range")
    if not raw:
        return None, None
    match = _RANGE.match(raw.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value provided for one of the HTTP headers was not in the correct format.",
            [("HeaderName", "ocp-range"), ("HeaderValue", raw)],
        )
    start = int(match.group(1)) if match.group(1) else None
    end = int(match.group(2)) if match.group(2) else None
    if start is not None and end is not None and end < start:
        raise BatchError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
    return start, end


async def _get(ctx: RequestContext, loc: FileLocation) -> Response:
    info = await ctx.batch.files.stat(loc)
    conditions.check(ctx.headers, None, info.last_modified, read=True, allowed=FILE_CONDITIONS)
    start, end = _range(ctx)
    if start is None and end is not None:  # suffix range: the last N bytes
        start, end = max(0, info.size - end), None
    if info.is_directory:
        raise BatchError(400, "InvalidUri", "The specified path is a directory, not a file.")
    chunks = await ctx.batch.files.read(loc, start, end)
    return StreamingResponse(chunks, status_code=200, headers=_file_headers(loc, info), media_type=OCTET)


async def _head(ctx: RequestContext, loc: FileLocation) -> Response:
    info = await ctx.batch.files.stat(loc)
    conditions.check(ctx.headers, None, info.last_modified, read=True, allowed=FILE_CONDITIONS)
    headers = _file_headers(loc, info)
    headers["Content-Length"] = str(info.size)
    return Response(status_code=200, headers=headers)


async def _list(ctx: RequestContext, loc: FileLocation, url_prefix: str) -> Response:
    items = [
        BatchNodeFile(
            name=f.name,
            url=f"{url_prefix}/{quote(f.name)}",
            is_directory=f.is_directory,
            properties=FileProperties(
                creation_time=f.creation_time,
                last_modified=f.last_modified,
                content_length=Int64String(f.size),
                content_type=OCTET,
                file_mode=f.mode,
            ),
        )
        for f in await ctx.batch.files.list(loc, ctx.flag("recursive"))
    ]
    window, after = slice_items(items, list_options(ctx, "files"))
    return list_response(ctx, "files", window, after)


@router.operation(
    "Tasks_ListTaskFiles",
    "GET",
    "/jobs/{jobId}/tasks/{taskId}/files",
    Contract(query=(*LISTED, Query.RECURSIVE), returns=BatchNodeFile, page=True),
)
async def list_task_files(ctx: RequestContext) -> Response:
    url = f"{ctx.base_url}/jobs/{ctx.path('jobId')}/tasks/{ctx.path('taskId')}/files"
    try:
        loc = _task_location(ctx)
    except BatchError as err:
        if err.code != "TaskFilesUnavailable":
            raise
        return list_response(ctx, "files", [], None)
    return await _list(ctx, loc, url)


@router.operation(
    "Tasks_GetTaskFileProperties",
    "HEAD",
    "/jobs/{jobId}/tasks/{taskId}/files/{filePath}",
    Contract(headers=FILE_CONDITIONAL),
)
async def get_task_file_properties(ctx: RequestContext) -> Response:
    return await _head(ctx, _task_location(ctx, ctx.path("filePath")))


@router.operation(
    "Tasks_GetTaskFile",
    "GET",
    "/jobs/{jobId}/tasks/{taskId}/files/{filePath}",
    Contract(headers=(*FILE_CONDITIONAL, Header.OCP_RANGE), content=FILE),
)
async def get_task_file(ctx: RequestContext) -> Response:
    return await _get(ctx, _task_location(ctx, ctx.path("filePath")))


@router.operation(
    "Tasks_DeleteTaskFile",
    "DELETE",
    "/jobs/{jobId}/tasks/{taskId}/files/{filePath}",
    Contract(query=(Query.RECURSIVE,)),
)
async def delete_task_file(ctx: RequestContext) -> Response:
    await ctx.batch.files.delete(_task_location(ctx, ctx.path("filePath")), ctx.flag("recursive"))
    return Response(status_code=200)


@router.operation(
    "Nodes_ListNodeFiles",
    "GET",
    "/pools/{poolId}/nodes/{nodeId}/files",
    Contract(query=(*LISTED, Query.RECURSIVE), returns=BatchNodeFile, page=True),
)
async def list_node_files(ctx: RequestContext) -> Response:
    url = f"{ctx.base_url}/pools/{ctx.path('poolId')}/nodes/{ctx.path('nodeId')}/files"
    return await _list(ctx, _node_location(ctx), url)


@router.operation(
    "Nodes_GetNodeFileProperties",
    "HEAD",
    "/pools/{poolId}/nodes/{nodeId}/files/{filePath}",
    Contract(headers=FILE_CONDITIONAL),
)
async def get_node_file_properties(ctx: RequestContext) -> Response:
    return await _head(ctx, _node_location(ctx, ctx.path("filePath")))


@router.operation(
    "Nodes_GetNodeFile",
    "GET",
    "/pools/{poolId}/nodes/{nodeId}/files/{filePath}",
    Contract(headers=(*FILE_CONDITIONAL, Header.OCP_RANGE), content=FILE),
)
async def get_node_file(ctx: RequestContext) -> Response:
    return await _get(ctx, _node_location(ctx, ctx.path("filePath")))


@router.operation(
    "Nodes_DeleteNodeFile",
    "DELETE",
    "/pools/{poolId}/nodes/{nodeId}/files/{filePath}",
    Contract(query=(Query.RECURSIVE,)),
)
async def delete_node_file(ctx: RequestContext) -> Response:
    await ctx.batch.files.delete(_node_location(ctx, ctx.path("filePath")), ctx.flag("recursive"))
    return Response(status_code=200)
