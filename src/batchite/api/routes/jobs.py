"""Job operations."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import conditions, render
from batchite.api.contract import CONDITIONAL, LISTED, LISTED_EXPANDED, SHOWN, Contract
from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.wire.bodies import JobReplaceBody
from batchite.wire.models import (
    BatchJob,
    BatchJobCreateOptions,
    BatchJobDisableOptions,
    BatchJobPreparationAndReleaseTaskStatus,
    BatchJobTerminateOptions,
    BatchJobUpdateOptions,
    BatchTaskCountsResult,
)

router = Router()


def _url(job_id: str) -> str:
    return f"/jobs/{job_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    job = ctx.batch.jobs.get(ctx.account, ctx.path("jobId"))
    conditions.check(ctx.headers, job.etag, job.last_modified, read=read)


@router.operation("Jobs_CreateJob", "POST", "/jobs", Contract(201, BatchJobCreateOptions))
async def create_job(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchJobCreateOptions)
    job = ctx.batch.jobs.create(ctx.account, body)
    return render.entity_done(ctx, job, _url(job.id), 201)


@router.operation("Jobs_ListJobs", "GET", "/jobs", Contract(query=LISTED_EXPANDED, returns=BatchJob, page=True))
async def list_jobs(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobs")
    page = ctx.batch.jobs.list(ctx.account, opts.after, opts.max_results, opts.flt)
    items = [render.expanded(ctx, j, f"{ctx.base_url}{_url(j.id)}") for j in page.items]
    return list_response(ctx, "jobs", items, page.next_after)


@router.operation("Jobs_GetJob", "GET", "/jobs/{jobId}", Contract(headers=CONDITIONAL, query=SHOWN, returns=BatchJob))
async def get_job(ctx: RequestContext) -> Response:
    job = ctx.batch.jobs.get(ctx.account, ctx.path("jobId"))
    conditions.check(ctx.headers, job.etag, job.last_modified, read=True)
    return render.entity(ctx, job, "jobs", _url(job.id))


@router.operation("Jobs_UpdateJob", "PATCH", "/jobs/{jobId}", Contract(body=BatchJobUpdateOptions))
async def update_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchJobUpdateOptions)
    job = ctx.batch.jobs.update(ctx.account, ctx.path("jobId"), body)
    return render.entity_done(ctx, job, _url(job.id), 200)


@router.operation("Jobs_ReplaceJob", "PUT", "/jobs/{jobId}", Contract(body=JobReplaceBody))
async def replace_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(JobReplaceBody)
    job = ctx.batch.jobs.replace(ctx.account, ctx.path("jobId"), body)
    return render.entity_done(ctx, job, _url(job.id), 200)


@router.operation("Jobs_DeleteJob", "DELETE", "/jobs/{jobId}", Contract(202))
async def delete_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.batch.jobs.delete(ctx.account, ctx.path("jobId"))
    return Response(status_code=202)


@router.operation("Jobs_DisableJob", "POST", "/jobs/{jobId}/disable", Contract(202, BatchJobDisableOptions))
async def disable_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchJobDisableOptions)
    job = ctx.batch.jobs.disable(ctx.account, ctx.path("jobId"), body.disable_tasks)
    return render.entity_done(ctx, job, _url(job.id), 202)


@router.operation("Jobs_EnableJob", "POST", "/jobs/{jobId}/enable", Contract(202))
async def enable_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    job = ctx.batch.jobs.enable(ctx.account, ctx.path("jobId"))
    return render.entity_done(ctx, job, _url(job.id), 202)


@router.operation(
    "Jobs_TerminateJob", "POST", "/jobs/{jobId}/terminate", Contract(202, BatchJobTerminateOptions, body_required=False)
)
async def terminate_job(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchJobTerminateOptions, required=False)
    job = ctx.batch.jobs.terminate(ctx.account, ctx.path("jobId"), body.termination_reason)
    return render.entity_done(ctx, job, _url(job.id), 202)


@router.operation("Jobs_GetJobTaskCounts", "GET", "/jobs/{jobId}/taskcounts", Contract(returns=BatchTaskCountsResult))
async def get_task_counts(ctx: RequestContext) -> Response:
    return render.model(ctx, ctx.batch.jobs.task_counts(ctx.account, ctx.path("jobId")), "taskcounts/@Element")


@router.operation(
    "Jobs_ListJobPreparationAndReleaseTaskStatus",
    "GET",
    "/jobs/{jobId}/jobpreparationandreleasetaskstatus",
    Contract(query=LISTED, returns=BatchJobPreparationAndReleaseTaskStatus, page=True),
)
async def list_preparation_status(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobpreparationandreleasetaskstatus")
    page = ctx.batch.jobs.preparation_status(ctx.account, ctx.path("jobId"), opts.after, opts.max_results, opts.flt)
    items = [s.wire for s in page.items]
    return list_response(ctx, "jobpreparationandreleasetaskstatuslist", items, page.next_after)
