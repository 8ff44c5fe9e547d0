"""Account-level lists: applications and pool usage metrics."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response

from batchite.api import render
from batchite.api.contract import LISTED, PAGED, Contract, Query
from batchite.api.paging import list_options, list_response, slice_items
from batchite.api.request import RequestContext, invalid_query
from batchite.api.routing import Router
from batchite.clock import parse_time
from batchite.service.usage import pool_usage_metrics
from batchite.wire.models import BatchApplication, BatchPoolUsageMetrics

router = Router()


@router.operation(
    "Applications_ListApplications", "GET", "/applications", Contract(query=PAGED, returns=BatchApplication, page=True)
)
async def list_applications(ctx: RequestContext) -> Response:
    opts = list_options(ctx)
    page = ctx.batch.applications.list(ctx.account, opts.after, opts.max_results)
    return list_response(ctx, "applications", [a.wire for a in page.items], page.next_after)


@router.operation(
    "Applications_GetApplication", "GET", "/applications/{applicationId}", Contract(returns=BatchApplication)
)
async def get_application(ctx: RequestContext) -> Response:
    app = ctx.batch.applications.get(ctx.account, ctx.path("applicationId"))
    return render.model(ctx, app.wire, "applications/@Element")


def _time(ctx: RequestContext, name: str) -> datetime | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise invalid_query(name, raw, "The value must be an ISO 8601 date and time.") from exc


@router.operation(
    "Pools_ListPoolUsageMetrics",
    "GET",
    "/poolusagemetrics",
    Contract(query=(*LISTED, Query.START_TIME, Query.END_TIME), returns=BatchPoolUsageMetrics, page=True),
)
async def list_usage_metrics(ctx: RequestContext) -> Response:
    items = pool_usage_metrics(ctx.batch.ctx, ctx.account, _time(ctx, "starttime"), _time(ctx, "endtime"))
    window, after = slice_items(items, list_options(ctx, "poolusagemetrics"))
    return list_response(ctx, "poolusagemetrics", window, after)
