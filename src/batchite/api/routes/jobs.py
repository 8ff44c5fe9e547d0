"""Job operations."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api import conditions
from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext, json_response, operation
from batchite.wire.bodies import JobReplaceBody
from batchite.wire.models import (
    BatchJobCreateOptions,
    BatchJobDisableOptions,
    BatchJobTerminateOptions,
    BatchJobUpdateOptions,
)


def _guard(ctx: RequestContext, read: bool = False) -> None:
    rec = ctx.batch.jobs.get(ctx.account, ctx.path("jobId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=read)


@operation("Jobs_CreateJob", "POST", "/jobs")
async def create_job(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchJobCreateOptions)
    rec = ctx.batch.jobs.create(ctx.account, body)
    return ctx.entity_done(rec, f"/jobs/{rec.id}", 201)


@operation("Jobs_ListJobs", "GET", "/jobs")
async def list_jobs(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobs")
    page = ctx.batch.jobs.list(ctx.account, opts.after, opts.max_results, opts.flt)
    items = [{**r.doc, "url": f"{ctx.base_url}/jobs/{r.id}"} for r in page.records]
    return list_response(ctx, "jobs", items, page.next_after)


@operation("Jobs_GetJob", "GET", "/jobs/{jobId}")
async def get_job(ctx: RequestContext) -> Response:
    rec = ctx.batch.jobs.get(ctx.account, ctx.path("jobId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=True)
    return ctx.render(rec, "jobs", f"/jobs/{rec.id}")


@operation("Jobs_UpdateJob", "PATCH", "/jobs/{jobId}")
async def update_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchJobUpdateOptions)
    rec = ctx.batch.jobs.update(ctx.account, ctx.path("jobId"), body)
    return ctx.entity_done(rec, f"/jobs/{rec.id}", 200)


@operation("Jobs_ReplaceJob", "PUT", "/jobs/{jobId}")
async def replace_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(JobReplaceBody)
    rec = ctx.batch.jobs.replace(ctx.account, ctx.path("jobId"), body)
    return ctx.entity_done(rec, f"/jobs/{rec.id}", 200)


@operation("Jobs_DeleteJob", "DELETE", "/jobs/{jobId}")
async def delete_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.batch.jobs.delete(ctx.account, ctx.path("jobId"))
    return Response(status_code=202)


@operation("Jobs_DisableJob", "POST", "/jobs/{jobId}/disable")
async def disable_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchJobDisableOptions)
    rec = ctx.batch.jobs.disable(ctx.account, ctx.path("jobId"), str(body["disableTasks"]))
    return ctx.entity_done(rec, f"/jobs/{rec.id}", 202)


@operation("Jobs_EnableJob", "POST", "/jobs/{jobId}/enable")
async def enable_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    rec = ctx.batch.jobs.enable(ctx.account, ctx.path("jobId"))
    return ctx.entity_done(rec, f"/jobs/{rec.id}", 202)


@operation("Jobs_TerminateJob", "POST", "/jobs/{jobId}/terminate")
async def terminate_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchJobTerminateOptions, required=False)
    rec = ctx.batch.jobs.terminate(ctx.account, ctx.path("jobId"), body.get("terminateReason"))
    return ctx.entity_done(rec, f"/jobs/{rec.id}", 202)


@operation("Jobs_GetJobTaskCounts", "GET", "/jobs/{jobId}/taskcounts")
async def get_task_counts(ctx: RequestContext) -> Response:
    result = ctx.batch.jobs.task_counts(ctx.account, ctx.path("jobId"))
    return json_response({"odata.metadata": f"{ctx.base_url}/$metadata#taskcounts/@Element", **result})


@operation("Jobs_ListJobPreparationAndReleaseTaskStatus", "GET", "/jobs/{jobId}/jobpreparationandreleasetaskstatus")
async def list_preparation_status(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobpreparationandreleasetaskstatus")
    page = ctx.batch.jobs.preparation_status(ctx.account, ctx.path("jobId"), opts.after, opts.max_results, opts.flt)
    return list_response(ctx, "jobpreparationandreleasetaskstatuslist", [r.doc for r in page.records], page.next_after)


ROUTES = [
    Route("/jobs", create_job, methods=["POST"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{jobId}", get_job, methods=["GET"]),
    Route("/jobs/{jobId}", update_job, methods=["PATCH"]),
    Route("/jobs/{jobId}", replace_job, methods=["PUT"]),
    Route("/jobs/{jobId}", delete_job, methods=["DELETE"]),
    Route("/jobs/{jobId}/disable", disable_job, methods=["POST"]),
    Route("/jobs/{jobId}/enable", enable_job, methods=["POST"]),
    Route("/jobs/{jobId}/terminate", terminate_job, methods=["POST"]),
    Route("/jobs/{jobId}/taskcounts", get_task_counts, methods=["GET"]),
    Route("/jobs/{jobId}/jobpreparationandreleasetaskstatus", list_preparation_status, methods=["GET"]),
]
