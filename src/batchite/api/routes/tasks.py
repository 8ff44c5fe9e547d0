"""Task operations."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from batchite.api import conditions, render
from batchite.api.contract import CONDITIONAL, LISTED_EXPANDED, SHOWN, Contract, Query
from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext, body_error
from batchite.api.routing import Router
from batchite.service.tasks import check_collection_size
from batchite.wire.bodies import TaskReplaceBody
from batchite.wire.models import BatchSubtask, BatchTask, BatchTaskCreateOptions, BatchTaskCreateResult, BatchTaskGroup
from batchite.wire.types import WireError, decode, encode

router = Router()
COLLECTION_LIMIT = 1024 * 1024


def _url(job_id: str, task_id: str) -> str:
    return f"/jobs/{job_id}/tasks/{task_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    task = ctx.batch.tasks.get(ctx.account, ctx.path("jobId"), ctx.path("taskId"))
    conditions.check(ctx.headers, task.etag, task.last_modified, read=read)


@router.operation("Tasks_CreateTask", "POST", "/jobs/{jobId}/tasks", Contract(201, BatchTaskCreateOptions))
async def create_task(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchTaskCreateOptions)
    job_id = ctx.path("jobId")
    task = ctx.batch.tasks.create(ctx.account, job_id, body)
    return render.entity_done(ctx, task, _url(job_id, task.id), 201)


@router.operation(
    "Tasks_CreateTaskCollection",
    "POST",
    "/jobs/{jobId}/addtaskcollection",
    Contract(body=BatchTaskGroup, returns=BatchTaskCreateResult, page=True),
)
async def create_task_collection(ctx: RequestContext) -> Response:
    data = await ctx.body_bytes(limit=COLLECTION_LIMIT)
    try:
        group = decode(BatchTaskGroup, data, strict=False)
    except WireError as err:
        check_collection_size(_count(data))
        raise body_error(err, data) from None
    results = ctx.batch.tasks.create_collection(ctx.account, ctx.path("jobId"), group.task_values)
    body = b'{"odata.metadata":' + encode(f"{ctx.base_url}/$metadata#taskaddresult") + b',"value":'
    return render.json_response(body + encode(results) + b"}")


def _count(data: bytes) -> int:
    """How many tasks a collection that did not validate holds (the limit is told first)."""
    try:
        value = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return 0
    tasks = value.get("value") if isinstance(value, dict) else None
    return len(tasks) if isinstance(tasks, list) else 0


@router.operation(
    "Tasks_ListTasks", "GET", "/jobs/{jobId}/tasks", Contract(query=LISTED_EXPANDED, returns=BatchTask, page=True)
)
async def list_tasks(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "tasks")
    job_id = ctx.path("jobId")
    page = ctx.batch.tasks.list(ctx.account, job_id, opts.after, opts.max_results, opts.flt)
    items = [render.expanded(ctx, t, f"{ctx.base_url}{_url(job_id, t.id)}") for t in page.items]
    return list_response(ctx, "tasks", items, page.next_after)


@router.operation(
    "Tasks_GetTask",
    "GET",
    "/jobs/{jobId}/tasks/{taskId}",
    Contract(headers=CONDITIONAL, query=SHOWN, returns=BatchTask),
)
async def get_task(ctx: RequestContext) -> Response:
    job_id = ctx.path("jobId")
    task = ctx.batch.tasks.get(ctx.account, job_id, ctx.path("taskId"))
    conditions.check(ctx.headers, task.etag, task.last_modified, read=True)
    response = render.entity(ctx, task, "tasks", _url(job_id, task.id))
    response.headers["DataServiceId"] = f"{ctx.base_url}{_url(job_id, task.id)}"
    return response


@router.operation("Tasks_ReplaceTask", "PUT", "/jobs/{jobId}/tasks/{taskId}", Contract(body=TaskReplaceBody))
async def replace_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(TaskReplaceBody)
    job_id = ctx.path("jobId")
    task = ctx.batch.tasks.replace(ctx.account, job_id, ctx.path("taskId"), body.constraints)
    return render.entity_done(ctx, task, _url(job_id, task.id), 200)


@router.operation("Tasks_DeleteTask", "DELETE", "/jobs/{jobId}/tasks/{taskId}", Contract())
async def delete_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.batch.tasks.delete(ctx.account, ctx.path("jobId"), ctx.path("taskId"))
    return Response(status_code=200)


@router.operation("Tasks_TerminateTask", "POST", "/jobs/{jobId}/tasks/{taskId}/terminate", Contract(204))
async def terminate_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    job_id = ctx.path("jobId")
    task = ctx.batch.tasks.terminate(ctx.account, job_id, ctx.path("taskId"))
    return render.entity_done(ctx, task, _url(job_id, task.id), 204)


@router.operation("Tasks_ReactivateTask", "POST", "/jobs/{jobId}/tasks/{taskId}/reactivate", Contract(204))
async def reactivate_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    job_id = ctx.path("jobId")
    task = ctx.batch.tasks.reactivate(ctx.account, job_id, ctx.path("taskId"))
    return render.entity_done(ctx, task, _url(job_id, task.id), 204)


@router.operation(
    "Tasks_ListSubTasks",
    "GET",
    "/jobs/{jobId}/tasks/{taskId}/subtasksinfo",
    Contract(query=(Query.SELECTION,), returns=BatchSubtask, page=True),
)
async def list_subtasks(ctx: RequestContext) -> Response:
    items = ctx.batch.tasks.subtasks(ctx.account, ctx.path("jobId"), ctx.path("taskId"))
    return list_response(ctx, "subtaskinformations", items, None)
