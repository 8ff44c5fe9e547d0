"""The job page: properties and actions, task counts and charts kept live over server-sent
events, and the task table (paged, sorted and filtered on the server; swapped by htmx, plain
links without JavaScript)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError
from batchite.portal import charts, live
from batchite.portal.context import Signed, account_page
from batchite.service.task_table import PAGE_SIZES, TaskQuery, TaskSort, TaskTablePage

TABLE_ID = "task-table"
CHART_EVERY = 5.0  # seconds between redraws of the charts while tasks run (else when counts change)
COLUMNS: list[tuple[TaskSort, str]] = [
    (TaskSort.ID, "Task ID"),
    (TaskSort.STATE, "State"),
    (TaskSort.EXIT_CODE, "Exit code"),
    (TaskSort.NODE, "Node"),
    (TaskSort.CREATED, "Created"),
    (TaskSort.STARTED, "Started"),
    (TaskSort.ENDED, "Ended"),
]


def _job_id(signed: Signed) -> str:
    job_id: str = signed.request.path_params["job"]
    return job_id


def job_url(signed: Signed, job_id: str) -> str:
    return f"{signed.base}/jobs/{quote(job_id, safe='')}"


# -- the task table -----------------------------------------------------------------------------
def table_query(signed: Signed) -> TaskQuery:
    q = signed.query
    return TaskQuery.of(q("filter"), q("sort"), q("order"), q("page"), q("size"))


def query_params(query: TaskQuery) -> dict[str, str]:
    params = {"sort": str(query.sort), "order": "desc" if query.descending else "asc"}
    if query.filter:
        params["filter"] = query.filter
    params["size"] = str(query.size)
    if query.page > 1:
        params["page"] = str(query.page)
    return params


def linker(base: str, query: TaskQuery) -> Callable[..., str]:
    """`link(sort=..., page=...)`: the URL of the table with those changed."""

    def link(**changes: Any) -> str:
        return f"{base}?{urlencode(query_params(replace(query, **changes)))}"

    return link


@dataclass(frozen=True)
class TableView:
    page: TaskTablePage | None
    error: BatchError | None
    query: TaskQuery

    @property
    def status(self) -> int:
        return self.error.status if self.error is not None else 200


async def table_view(signed: Signed, job_id: str, query: TaskQuery) -> TableView:
    try:
        page = await signed.batch.task_table.page(signed.account, job_id, query)
    except BatchError as err:
        if err.code in ("JobNotFound",):
            raise
        return TableView(None, err, query)
    return TableView(page, None, page.query)


def table_values(signed: Signed, job_id: str, view: TableView) -> dict[str, Any]:
    base = job_url(signed, job_id)
    return {
        "table": view,
        "job_id": job_id,
        "job_url": base,
        "link": linker(base, view.query),
        "columns": COLUMNS,
        "page_sizes": PAGE_SIZES,
        "table_id": TABLE_ID,
    }


# -- live parts -----------------------------------------------------------------------------------
def _fragment(signed: Signed, template: str, **values: Any) -> str:
    html: str = signed.portal.templates.get_template(template).render(
        {"account": signed.account, "base": signed.base, **values}
    )
    return html


def counts_html(signed: Signed, job_id: str) -> str:
    try:
        job = signed.batch.jobs.get(signed.account, job_id)
        counts = signed.batch.jobs.task_counts(signed.account, job_id).task_counts
    except BatchError as err:
        return _fragment(signed, "jobs/_live_error.html", error=err)
    return _fragment(signed, "jobs/_counts.html", job=job, counts=counts)


async def charts_html(signed: Signed, job_id: str) -> str:
    table = signed.batch.task_table
    try:
        job = signed.batch.jobs.get(signed.account, job_id)
        data = await table.charts(signed.account, job_id)
    except BatchError as err:
        return _fragment(signed, "jobs/_live_error.html", error=err)
    now = signed.batch.clock.now().timestamp()
    info = job.wire.execution_info
    end = info.end_time.timestamp() if info is not None and info.end_time is not None else now
    times, runs = data.times, data.runs
    samples = charts.state_series(times, job.wire.creation_time.timestamp(), end)
    line = charts.timeline(runs.runs, now)
    return _fragment(
        signed,
        "jobs/_charts.html",
        states_svg=charts.state_chart_svg(samples),
        timeline_svg=charts.timeline_svg(line, len(runs.runs), runs.total) if runs.runs else "",
        shown=len(runs.runs),
        total=runs.total,
        tasks=len(times),
    )


@dataclass(frozen=True)
class Drawing:
    key: tuple[object, ...]  # the job (its creation time), its state and counts when drawn
    at: float  # time.monotonic()
    html: str


DRAWINGS: OrderedDict[tuple[str, str], Drawing] = OrderedDict()  # (account, job key): its last charts
KEPT_DRAWINGS = 64


def _chart_key(signed: Signed, job_id: str) -> tuple[tuple[object, ...], bool]:
    """What changes the charts (the job's state and counts), and whether tasks run (bars grow)."""
    try:
        job = signed.batch.jobs.get(signed.account, job_id).wire
        c = signed.batch.jobs.task_counts(signed.account, job_id).task_counts
    except BatchError:
        return ("gone",), False
    key = (job.creation_time, job.state, c.active, c.running, c.completed, c.succeeded, c.failed)
    return key, c.running > 0


async def charts_now(signed: Signed, job_id: str) -> str:
    """The charts, drawn again when the job's counts changed, or every CHART_EVERY s while tasks
    run; else the last drawing (shared by the page, its live stream and every viewer of the job)."""
    key, running = _chart_key(signed, job_id)
    name = (signed.account, job_id.lower())
    last = DRAWINGS.get(name)
    now = time.monotonic()
    if last is not None and last.key == key and (not running or now - last.at < CHART_EVERY):
        return last.html
    html = await charts_html(signed, job_id)
    DRAWINGS[name] = Drawing(key, now, html)
    DRAWINGS.move_to_end(name)
    while len(DRAWINGS) > KEPT_DRAWINGS:
        DRAWINGS.popitem(last=False)
    return html


# -- pages ------------------------------------------------------------------------------------------
@account_page
async def job_detail(signed: Signed) -> Response:
    job_id = _job_id(signed)
    job = signed.batch.jobs.get(signed.account, job_id)
    view = await table_view(signed, job_id, table_query(signed))
    values = table_values(signed, job.id, view)
    if signed.htmx and signed.request.headers.get("hx-target") == TABLE_ID:
        return signed.render("jobs/_table.html", view.status, **values)
    layout = {"layout": "base.html"} if signed.request.headers.get("hx-history-restore-request") else {}
    return signed.render(
        "jobs/job.html",
        view.status,
        job=job,
        counts_html=counts_html(signed, job.id),
        charts_html=await charts_now(signed, job.id),
        **values,
        **layout,
    )


@account_page
async def job_live(signed: Signed) -> Response:
    job_id = _job_id(signed)
    signed.batch.jobs.get(signed.account, job_id)  # JobNotFound before streaming
    sources: dict[str, live.Source] = {
        "counts": lambda: counts_html(signed, job_id),
        "charts": lambda: charts_now(signed, job_id),
    }
    return live.stream(signed.request, sources)


routes: list[BaseRoute] = [
    Route("/jobs/{job}", job_detail, methods=["GET"]),
    Route("/jobs/{job}/live", job_live, methods=["GET"]),
]
