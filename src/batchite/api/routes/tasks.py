"""Task operations."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api import conditions
from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext, json_response, operation, validate
from batchite.domain.errors import BatchError
from batchite.wire.bodies import TaskReplaceBody
from batchite.wire.models import BatchTaskCreateOptions, BatchTaskGroup

COLLECTION_LIMIT = 1024 * 1024


def _url(job_id: str, task_id: str) -> str:
    return f"/jobs/{job_id}/tasks/{task_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    rec = ctx.batch.tasks.get(ctx.account, ctx.path("jobId"), ctx.path("taskId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=read)


@operation("Tasks_CreateTask", "POST", "/jobs/{jobId}/tasks")
async def create_task(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchTaskCreateOptions)
    job_id = ctx.path("jobId")
    rec = ctx.batch.tasks.create(ctx.account, job_id, body)
    return ctx.entity_done(rec, _url(job_id, rec.id), 201)


@operation("Tasks_CreateTaskCollection", "POST", "/jobs/{jobId}/addtaskcollection")
async def create_task_collection(ctx: RequestContext) -> Response:
    raw = await ctx.json_body(limit=COLLECTION_LIMIT)
    tasks = raw.get("value")
    if isinstance(tasks, list) and len(tasks) > 100:
        raise BatchError(
            413,
            "RequestBodyTooLarge",
            "The request body is too large and exceeds the maximum permissible limit.",
            [("MaxLimit", "100")],
        )
    body = validate(BatchTaskGroup, raw)
    results = ctx.batch.tasks.create_collection(ctx.account, ctx.path("jobId"), list(body["value"]))
    return json_response({"odata.metadata": f"{ctx.base_url}/$metadata#taskaddresult", "value": results})


@operation("Tasks_ListTasks", "GET", "/jobs/{jobId}/tasks")
async def list_tasks(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "tasks")
    job_id = ctx.path("jobId")
    page = ctx.batch.tasks.list(ctx.account, job_id, opts.after, opts.max_results, opts.flt)
    items = [{**r.doc, "url": f"{ctx.base_url}{_url(job_id, r.id)}"} for r in page.records]
    return list_response(ctx, "tasks", items, page.next_after)


@operation("Tasks_GetTask", "GET", "/jobs/{jobId}/tasks/{taskId}")
async def get_task(ctx: RequestContext) -> Response:
    job_id = ctx.path("jobId")
    rec = ctx.batch.tasks.get(ctx.account, job_id, ctx.path("taskId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=True)
    response = ctx.render(rec, "tasks", _url(job_id, rec.id))
    response.headers["DataServiceId"] = f"{ctx.base_url}{_url(job_id, rec.id)}"
    return response


@operation("Tasks_ReplaceTask", "PUT", "/jobs/{jobId}/tasks/{taskId}")
async def replace_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(TaskReplaceBody)
    job_id = ctx.path("jobId")
    rec = ctx.batch.tasks.replace(ctx.account, job_id, ctx.path("taskId"), body)
    return ctx.entity_done(rec, _url(job_id, rec.id), 200)


@operation("Tasks_DeleteTask", "DELETE", "/jobs/{jobId}/tasks/{taskId}")
async def delete_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.batch.tasks.delete(ctx.account, ctx.path("jobId"), ctx.path("taskId"))
    return Response(status_code=200)


@operation("Tasks_TerminateTask", "POST", "/jobs/{jobId}/tasks/{taskId}/terminate")
async def terminate_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    job_id = ctx.path("jobId")
    rec = ctx.batch.tasks.terminate(ctx.account, job_id, ctx.path("taskId"))
    return ctx.entity_done(rec, _url(job_id, rec.id), 204)


@operation("Tasks_ReactivateTask", "POST", "/jobs/{jobId}/tasks/{taskId}/reactivate")
async def reactivate_task(ctx: RequestContext) -> Response:
    _guard(ctx)
    job_id = ctx.path("jobId")
    rec = ctx.batch.tasks.reactivate(ctx.account, job_id, ctx.path("taskId"))
    return ctx.entity_done(rec, _url(job_id, rec.id), 204)


@operation("Tasks_ListSubTasks", "GET", "/jobs/{jobId}/tasks/{taskId}/subtasksinfo")
async def list_subtasks(ctx: RequestContext) -> Response:
    items = ctx.batch.tasks.subtasks(ctx.account, ctx.path("jobId"), ctx.path("taskId"))
    return list_response(ctx, "subtaskinformations", items, None)


ROUTES = [
    Route("/jobs/{jobId}/tasks", create_task, methods=["POST"]),
    Route("/jobs/{jobId}/tasks", list_tasks, methods=["GET"]),
    Route("/jobs/{jobId}/addtaskcollection", create_task_collection, methods=["POST"]),
    Route("/jobs/{jobId}/tasks/{taskId}", get_task, methods=["GET"]),
    Route("/jobs/{jobId}/tasks/{taskId}", replace_task, methods=["PUT"]),
    Route("/jobs/{jobId}/tasks/{taskId}", delete_task, methods=["DELETE"]),
    Route("/jobs/{jobId}/tasks/{taskId}/terminate", terminate_task, methods=["POST"]),
    Route("/jobs/{jobId}/tasks/{taskId}/reactivate", reactivate_task, methods=["POST"]),
    Route("/jobs/{jobId}/tasks/{taskId}/subtasksinfo", list_subtasks, methods=["GET"]),
]
