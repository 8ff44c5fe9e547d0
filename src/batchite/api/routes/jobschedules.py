"""Job schedule operations, and the jobs a schedule made (Jobs_ListJobsFromSchedule)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from batchite.api import conditions
from batchite.api.paging import list_options, list_response
from batchite.api.request import RequestContext, entity_headers, operation
from batchite.wire.models import BatchJobScheduleCreateOptions, BatchJobScheduleUpdateOptions


def _path(schedule_id: str) -> str:
    return f"/jobschedules/{schedule_id}"


def _guard(ctx: RequestContext, read: bool = False) -> None:
    rec = ctx.batch.job_schedules.get(ctx.account, ctx.path("jobScheduleId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=read)


@operation("JobSchedules_CreateJobSchedule", "POST", "/jobschedules")
async def create_job_schedule(ctx: RequestContext) -> Response:
    body = await ctx.model(BatchJobScheduleCreateOptions)
    rec = ctx.batch.job_schedules.create(ctx.account, body)
    return ctx.entity_done(rec, _path(rec.id), 201)


@operation("JobSchedules_ListJobSchedules", "GET", "/jobschedules")
async def list_job_schedules(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobschedules")
    page = ctx.batch.job_schedules.list(ctx.account, opts.after, opts.max_results, opts.flt)
    items = [{**r.doc, "url": f"{ctx.base_url}{_path(r.id)}"} for r in page.records]
    return list_response(ctx, "jobschedules", items, page.next_after)


@operation("JobSchedules_JobScheduleExists", "HEAD", "/jobschedules/{jobScheduleId}")
async def job_schedule_exists(ctx: RequestContext) -> Response:
    rec = ctx.batch.job_schedules.get(ctx.account, ctx.path("jobScheduleId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=True)
    return Response(status_code=200, headers=entity_headers(rec))


@operation("JobSchedules_GetJobSchedule", "GET", "/jobschedules/{jobScheduleId}")
async def get_job_schedule(ctx: RequestContext) -> Response:
    rec = ctx.batch.job_schedules.get(ctx.account, ctx.path("jobScheduleId"))
    conditions.check(ctx.headers, rec.etag, rec.last_modified, read=True)
    return ctx.render(rec, "jobschedules", _path(rec.id))


@operation("JobSchedules_UpdateJobSchedule", "PATCH", "/jobschedules/{jobScheduleId}")
async def update_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    body = await ctx.model(BatchJobScheduleUpdateOptions)
    rec = ctx.batch.job_schedules.update(ctx.account, ctx.path("jobScheduleId"), body)
    return ctx.entity_done(rec, _path(rec.id), 200)


@operation("JobSchedules_ReplaceJobSchedule", "PUT", "/jobschedules/{jobScheduleId}")
async def replace_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    # The body is a BatchJobSchedule; only its updatable properties (those of the update options) count.
    body = await ctx.model(BatchJobScheduleUpdateOptions)
    rec = ctx.batch.job_schedules.replace(ctx.account, ctx.path("jobScheduleId"), body)
    return ctx.entity_done(rec, _path(rec.id), 200)


@operation("JobSchedules_DeleteJobSchedule", "DELETE", "/jobschedules/{jobScheduleId}")
async def delete_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.flag("force")
    ctx.batch.job_schedules.delete(ctx.account, ctx.path("jobScheduleId"))
    return Response(status_code=202)


@operation("JobSchedules_DisableJobSchedule", "POST", "/jobschedules/{jobScheduleId}/disable")
async def disable_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    rec = ctx.batch.job_schedules.disable(ctx.account, ctx.path("jobScheduleId"))
    return ctx.entity_done(rec, _path(rec.id), 204)


@operation("JobSchedules_EnableJobSchedule", "POST", "/jobschedules/{jobScheduleId}/enable")
async def enable_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    rec = ctx.batch.job_schedules.enable(ctx.account, ctx.path("jobScheduleId"))
    return ctx.entity_done(rec, _path(rec.id), 204)


@operation("JobSchedules_TerminateJobSchedule", "POST", "/jobschedules/{jobScheduleId}/terminate")
async def terminate_job_schedule(ctx: RequestContext) -> Response:
    _guard(ctx)
    ctx.flag("force")  # nodes here always process a termination at once
    rec = ctx.batch.job_schedules.terminate(ctx.account, ctx.path("jobScheduleId"))
    return ctx.entity_done(rec, _path(rec.id), 202)


@operation("Jobs_ListJobsFromSchedule", "GET", "/jobschedules/{jobScheduleId}/jobs")
async def list_jobs_from_schedule(ctx: RequestContext) -> Response:
    opts = list_options(ctx, "jobsfromschedule")
    schedule_id = ctx.path("jobScheduleId")
    page = ctx.batch.job_schedules.list_jobs(ctx.account, schedule_id, opts.after, opts.max_results, opts.flt)
    items = [{**r.doc, "url": f"{ctx.base_url}/jobs/{r.id}"} for r in page.records]
    return list_response(ctx, "jobs", items, page.next_after)


ROUTES = [
    Route("/jobschedules", create_job_schedule, methods=["POST"]),
    Route("/jobschedules", list_job_schedules, methods=["GET"]),
    Route("/jobschedules/{jobScheduleId}", job_schedule_exists, methods=["HEAD"]),
    Route("/jobschedules/{jobScheduleId}", get_job_schedule, methods=["GET"]),
    Route("/jobschedules/{jobScheduleId}", update_job_schedule, methods=["PATCH"]),
    Route("/jobschedules/{jobScheduleId}", replace_job_schedule, methods=["PUT"]),
    Route("/jobschedules/{jobScheduleId}", delete_job_schedule, methods=["DELETE"]),
    Route("/jobschedules/{jobScheduleId}/disable", disable_job_schedule, methods=["POST"]),
    Route("/jobschedules/{jobScheduleId}/enable", enable_job_schedule, methods=["POST"]),
    Route("/jobschedules/{jobScheduleId}/terminate", terminate_job_schedule, methods=["POST"]),
    Route("/jobschedules/{jobScheduleId}/jobs", list_jobs_from_schedule, methods=["GET"]),
]
