"""A job's task table: sorted, filtered pages of its tasks; and its tasks' times, for its charts.

The queries read every task of the job when they sort on a document field or filter, so they run
on a worker thread (`asyncio.to_thread`), through the store's read-only connections: the event
loop never waits for them. The `$filter` is the REST API's list tasks filter, parsed the same way,
so a bad one is the same `InvalidQueryParameterValue`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from batchite.domain.entities import Job, Task
from batchite.domain.errors import not_found
from batchite.domain.filters import Filter
from batchite.domain.odata import parse_list_filter
from batchite.service.context import ServiceContext, require
from batchite.store.base import TaskSort, TaskTimes

__all__ = ["PAGE_SIZES", "JobCharts", "JobRuns", "TaskQuery", "TaskSort", "TaskTable", "TaskTablePage", "TaskTimes"]

PAGE_SIZES = (50, 100, 200)
DEFAULT_PAGE_SIZE = 100
RECENT_RUNS = 2000  # the node x time timeline shows at most this many runs


@dataclass(frozen=True)
class TaskQuery:
    """What the table shows: the `$filter` text, the sort, the page (1-based) and its size."""

    filter: str = ""
    sort: TaskSort = TaskSort.ID
    descending: bool = False
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def of(cls, filter: str, sort: str, order: str, page: str, size: str) -> TaskQuery:
        """From the page's query parameters; anything unknown is the default."""
        try:
            chosen = TaskSort(sort)
        except ValueError:
            chosen = TaskSort.ID
        number = int(page) if page.isdigit() and int(page) >= 1 else 1
        rows = int(size) if size.isdigit() and int(size) in PAGE_SIZES else DEFAULT_PAGE_SIZE
        return cls(filter.strip(), chosen, order == "desc", number, rows)


@dataclass(frozen=True)
class TaskTablePage:
    tasks: list[Task]
    total: int  # tasks matching the filter
    query: TaskQuery  # as shown: the page clamped to the last one

    @property
    def first(self) -> int:
        """The 1-based row number of the page's first task (0 when there is none)."""
        return (self.query.page - 1) * self.query.size + 1 if self.tasks else 0

    @property
    def last(self) -> int:
        return self.first + len(self.tasks) - 1 if self.tasks else 0

    @property
    def has_previous(self) -> bool:
        return self.query.page > 1

    @property
    def has_next(self) -> bool:
        return self.query.page * self.query.size < self.total


@dataclass(frozen=True)
class JobRuns:
    """The latest task runs of a job on its nodes, and how many there are in all."""

    runs: list[TaskTimes]
    total: int


RAN_STATES = frozenset({"running", "preparing", "completed"})


def latest_runs(times: list[TaskTimes], limit: int = RECENT_RUNS) -> JobRuns:
    """The `limit` latest-started runs on nodes (running or completed tasks), latest first."""
    ran = [t for t in times if t.state in RAN_STATES and t.started is not None and t.node]
    ran.sort(key=lambda t: t.started or 0.0, reverse=True)
    return JobRuns(ran[:limit], len(ran))


@dataclass(frozen=True)
class JobCharts:
    """What the job page's charts are drawn from: every task's times, and the latest runs."""

    times: list[TaskTimes]
    runs: JobRuns


class TaskTable:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _job(self, account: str, job_id: str) -> Job:
        return require(self.ctx.store.jobs.get(account, "", job_id), not_found("job"))

    async def page(self, account: str, job_id: str, query: TaskQuery) -> TaskTablePage:
        flt = parse_list_filter("tasks", query.filter) if query.filter else None
        job = self._job(account, job_id)
        return await asyncio.to_thread(self._page, account, job.key, query, flt)

    def _page(self, account: str, job_key: str, query: TaskQuery, flt: Filter | None) -> TaskTablePage:
        tasks = self.ctx.store.tasks
        total = tasks.count_matching(account, job_key, flt)
        pages = max(1, -(-total // query.size))
        shown = replace(query, page=min(query.page, pages))
        found = tasks.sorted_page(
            account,
            job_key,
            sort=shown.sort,
            descending=shown.descending,
            offset=(shown.page - 1) * shown.size,
            limit=shown.size,
            flt=flt,
        )
        return TaskTablePage(found, total, shown)

    async def charts(self, account: str, job_id: str, limit: int = RECENT_RUNS) -> JobCharts:
        """Every task of the job with its times and result, and its latest `limit` runs: one
        read of the job's tasks, on a worker thread."""
        job = self._job(account, job_id)
        return await asyncio.to_thread(self._charts, account, job.key, limit)

    def _charts(self, account: str, job_key: str, limit: int) -> JobCharts:
        times = self.ctx.store.tasks.times(account, job_key)
        return JobCharts(times, latest_runs(times, limit))
