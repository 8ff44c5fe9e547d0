"""Job schedule operations, and the jobs a schedule made (Jobs_ListJobsFromSchedule)."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import conditions, render
from batchite.api.contract import CONDITIONAL, LISTED_EXPANDED, SHOWN, Contract, Query
from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.wire.models import (
    BatchJob,
    BatchJobSchedule,
    BatchJobScheduleCreateOptions,
    BatchJobScheduleUpdateOptions,
)

router = Router()


def _path(schedule_id: str) -> str:
    return f"/jobschedules/{schedule_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    schedule = ctx.batch.job_schedules.get(ctx.account, ctx.path("jobScheduleId"))
    conditions.check(ctx.headers, schedule.etag, schedule.last_modified, read=read)


@router.operation(
    "JobSchedules_CreateJobSchedule", "POST", "/jobschedules", Contract(201, BatchJobScheduleCreateOptions)
)
async def create_job_schedule(ctx: RequestContext) -> Response:
    body = await ctx.body(BatchJobScheduleCreateOptions)
    schedule = ctx.batch.job_schedules.create(ctx.account, body)
    return render.entity_done(ctx, schedule, _path(schedule.id), 201)


@router.operation(
    "JobSchedules_ListJobSchedules",
    "GET",
    "/jobschedules",
    Contract(query=LISTED_EXPANDED, returns=BatchJobSchedule, page=True),
)
async def list_job_schedules(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobschedules")
    page = ctx.batch.job_schedules.list(ctx.account, opts.after, opts.max_results, opts.flt)
    items = [render.expanded(ctx, s, f"{ctx.base_url}{_path(s.id)}") for s in page.items]
    return list_response(ctx, "jobschedules", items, page.next_after)


@router.operation(
    "JobSchedules_JobScheduleExists", "HEAD", "/jobschedules/{jobScheduleId}", Contract(headers=CONDITIONAL)
)
async def job_schedule_exists(ctx: RequestContext) -> Response:
    schedule = ctx.batch.job_schedules.get(ctx.account, ctx.path("jobScheduleId"))
    conditions.check(ctx.headers, schedule.etag, schedule.last_modified, read=True)
    return Response(status_code=200, headers=render.entity_headers(schedule))


@router.operation(
    "JobSchedules_GetJobSchedule",
    "GET",
    "/jobschedules/{jobScheduleId}",
    Contract(headers=CONDITIONAL, query=SHOWN, returns=BatchJobSchedule),
)
async def get_job_schedule(ctx: RequestContext) -> Response:
    schedule = ctx.batch.job_schedules.get(ctx.account, ctx.path("jobScheduleId"))
    conditions.check(ctx.headers, schedule.etag, schedule.last_modified, read=True)
    return render.entity(ctx, schedule, "jobschedules", _path(schedule.id))


@router.operation(
    "JobSchedules_UpdateJobSchedule",
    "PATCH",
    "/jobschedules/{jobScheduleId}",
    Contract(body=BatchJobScheduleUpdateOptions),
)
async def update_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.body(BatchJobScheduleUpdateOptions)
    schedule = ctx.batch.job_schedules.update(ctx.account, ctx.path("jobScheduleId"), body)
    return render.entity_done(ctx, schedule, _path(schedule.id), 200)


@router.operation(
    "JobSchedules_ReplaceJobSchedule",
    "PUT",
    "/jobschedules/{jobScheduleId}",
    Contract(body=BatchJobScheduleUpdateOptions),
)
async def replace_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    # The body is a BatchJobSchedule; only its updatable properties (those of the update options) count.
    body = await ctx.body(BatchJobScheduleUpdateOptions)
    schedule = ctx.batch.job_schedules.replace(ctx.account, ctx.path("jobScheduleId"), body)
    return render.entity_done(ctx, schedule, _path(schedule.id), 200)


@router.operation(
    "JobSchedules_DeleteJobSchedule", "DELETE", "/jobschedules/{jobScheduleId}", Contract(202, query=(Query.FORCE,))
)
async def delete_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.flag("force")
    ctx.batch.job_schedules.delete(ctx.account, ctx.path("jobScheduleId"))
    return Response(status_code=202)


@router.operation("JobSchedules_DisableJobSchedule", "POST", "/jobschedules/{jobScheduleId}/disable", Contract(204))
async def disable_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    schedule = ctx.batch.job_schedules.disable(ctx.account, ctx.path("jobScheduleId"))
    return render.entity_done(ctx, schedule, _path(schedule.id), 204)


@router.operation("JobSchedules_EnableJobSchedule", "POST", "/jobschedules/{jobScheduleId}/enable", Contract(204))
async def enable_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    schedule = ctx.batch.job_schedules.enable(ctx.account, ctx.path("jobScheduleId"))
    return render.entity_done(ctx, schedule, _path(schedule.id), 204)


@router.operation(
    "JobSchedules_TerminateJobSchedule",
    "POST",
    "/jobschedules/{jobScheduleId}/terminate",
    Contract(202, query=(Query.FORCE,)),
)
async def terminate_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.flag("force")  # nodes here always process a termination at once
    schedule = ctx.batch.job_schedules.terminate(ctx.account, ctx.path("jobScheduleId"))
    return render.entity_done(ctx, schedule, _path(schedule.id), 202)


@router.operation(
    "Jobs_ListJobsFromSchedule",
    "GET",
    "/jobschedules/{jobScheduleId}/jobs",
    Contract(query=LISTED_EXPANDED, returns=BatchJob, page=True),
)
async def list_jobs_from_schedule(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobsfromschedule")
    schedule_id = ctx.path("jobScheduleId")
    page = ctx.batch.job_schedules.list_jobs(ctx.account, schedule_id, opts.after, opts.max_results, opts.flt)
    items = [render.expanded(ctx, j, f"{ctx.base_url}/jobs/{j.id}") for j in page.items]
    return list_response(ctx, "jobs", items, page.next_after)
