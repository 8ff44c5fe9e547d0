"""`$expand=stats`: the statistics of a pool, a job, a job schedule or a task, as Azure defines them,
from what the service knows: the runs' times, exit results and retries, what each run's process
used (CPU time and file system blocks, from wait4 on the node), and the nodes' lifetimes.

Azure refreshes statistics about every 30 minutes; Batchite computes them when asked, so
`lastUpdateTime` is the time of the request (or a task's end). What no node measures here is 0:
the pools' resourceStats (CPU percentage, memory, disk, network) and network I/O.

A job's come from the totals the scheduler keeps on it (`JobTotals`, updated as its runs end), and
the time so far of its running tasks (read from the store's state index: no more than the slots
its pool has); a schedule's are those of its jobs, added. No request reads every task of a job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

from batchite.domain import job_totals, vmsizes
from batchite.domain.entities import Entity, Job, JobSchedule, JobTotals, Pool, RunUsage, Task
from batchite.domain.states import TaskState
from batchite.service.context import ServiceContext
from batchite.wire.enums import BatchTaskState
from batchite.wire.models import (
    BatchJobScheduleStatistics,
    BatchJobStatistics,
    BatchPoolResourceStatistics,
    BatchPoolStatistics,
    BatchPoolUsageStatistics,
    BatchTaskStatistics,
)
from batchite.wire.types import Duration, Int64String

BLOCK = 512  # bytes of a file system block operation (getrusage's ru_inblock / ru_oublock)
GIB = float(1 << 30)


def _duration(seconds: float) -> Duration:
    return Duration(seconds=max(0.0, round(seconds, 3)))


def task_wall_clock(task: Task, now: datetime) -> float:
    """Seconds of every run of the task: the ended ones, and the one running until now."""
    usage = task.internal.usage
    seconds = usage.wall_clock_seconds if usage is not None else 0.0
    info = task.wire.execution_info
    if task.wire.state == BatchTaskState.RUNNING and info is not None and info.start_time is not None:
        seconds += max(0.0, (now - info.start_time).total_seconds())
    return seconds


class StatisticsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def of(self, entity: Entity[Any, Any], url: str) -> tuple[str, msgspec.Struct] | None:
        """The statistics of a pool, job, job schedule or task, and the wire field they go in."""
        if isinstance(entity, Task):
            return "task_statistics", self.task(entity, url)
        if isinstance(entity, Job):
            return "job_statistics", self.job(entity, url)
        if isinstance(entity, Pool):
            return "pool_statistics", self.pool(entity, url)
        if isinstance(entity, JobSchedule):
            return "job_schedule_statistics", self.job_schedule(entity, url)
        return None

    # -- tasks ----------------------------------------------------------------------------
    def task(self, task: Task, url: str) -> BatchTaskStatistics:
        """A task's: its runs' wall clock, CPU and I/O, and its wait (creation to its last start)."""
        now = self.ctx.clock.now()
        wire = task.wire
        info = wire.execution_info
        created = wire.creation_time or now
        start = info.start_time if info is not None else None
        end = info.end_time if info is not None and wire.state == BatchTaskState.COMPLETED else None
        usage = task.internal.usage or RunUsage()
        return BatchTaskStatistics(
            url=url,
            start_time=created,
            last_update_time=end or now,
            user_cpu_time=_duration(usage.user_cpu_seconds),
            kernel_cpu_time=_duration(usage.kernel_cpu_seconds),
            wall_clock_time=_duration(task_wall_clock(task, now)),
            read_iops=Int64String(usage.read_blocks),
            write_iops=Int64String(usage.write_blocks),
            read_io_gib=usage.read_blocks * BLOCK / GIB,
            write_io_gib=usage.write_blocks * BLOCK / GIB,
            wait_time=_duration(((start or now) - created).total_seconds()),
        )

    # -- jobs -----------------------------------------------------------------------------
    def _add_job(self, totals: JobTotals, job: Job, now: datetime) -> None:
        """A job's kept totals, and the time its running tasks have run so far."""
        job_totals.add(totals, job.internal.totals or JobTotals())
        for task in self.ctx.store.tasks.list(job.account, job.key, states=[TaskState.RUNNING]):
            info = task.wire.execution_info
            if info is not None and info.start_time is not None:
                totals.wall_clock_seconds += max(0.0, (now - info.start_time).total_seconds())

    def job(self, job: Job, url: str) -> BatchJobStatistics:
        """A job's: the sums over its tasks. `waitTime` is 0, as Azure documents it: it is reported
        in the account's lifetime statistics only."""
        now = self.ctx.clock.now()
        totals = JobTotals()
        self._add_job(totals, job, now)
        end = job.wire.execution_info.end_time if job.wire.execution_info is not None else None
        return _summed(BatchJobStatistics, url, job.wire.creation_time or now, end or now, totals)

    def job_schedule(self, schedule: JobSchedule, url: str) -> BatchJobScheduleStatistics:
        """A job schedule's: the sums over the jobs it created that still exist."""
        now = self.ctx.clock.now()
        totals = JobTotals()
        for job in self.ctx.store.jobs.of_schedule(schedule.account, schedule.key):
            self._add_job(totals, job, now)
        return _summed(BatchJobScheduleStatistics, url, schedule.wire.creation_time or now, now, totals)

    # -- pools ----------------------------------------------------------------------------
    def pool(self, pool: Pool, url: str) -> BatchPoolStatistics:
        """A pool's: usageStats.dedicatedCoreTime is the time its dedicated nodes (those it has, and
        those that left since it was created) were allocated, times the cores of its VM size."""
        now = self.ctx.clock.now()
        created = pool.wire.creation_time or now
        store = self.ctx.store
        seconds = 0.0
        for node in store.nodes.list(pool.account, pool.key):
            if node.wire.is_dedicated is not False and node.wire.allocation_time is not None:
                seconds += max(0.0, (now - node.wire.allocation_time).total_seconds())
        for left in store.node_usage.list(pool.account, pool.key):
            # not of an earlier pool of the same id, nor a low-priority node (older records: dedicated)
            if left.wire.start >= created and left.wire.dedicated is not False:
                seconds += max(0.0, (left.wire.end - left.wire.start).total_seconds())
        return BatchPoolStatistics(
            url=url,
            start_time=created,
            last_update_time=now,
            usage_statistics=BatchPoolUsageStatistics(
                start_time=created,
                last_update_time=now,
                dedicated_core_time=_duration(seconds * vmsizes.cores(pool.wire.vm_size)),
            ),
            resource_statistics=BatchPoolResourceStatistics(
                start_time=created,
                last_update_time=now,
                avg_cpu_percentage=0.0,
                avg_memory_gib=0.0,
                peak_memory_gib=0.0,
                avg_disk_gib=0.0,
                peak_disk_gib=0.0,
                disk_read_iops=Int64String(Int64String(0)),
                disk_write_iops=Int64String(Int64String(0)),
                disk_read_gib=0.0,
                disk_write_gib=0.0,
                network_read_gib=0.0,
                network_write_gib=0.0,
            ),
        )


_Summed = TypeVar("_Summed", BatchJobStatistics, BatchJobScheduleStatistics)


def _summed(cls: type[_Summed], url: str, start: datetime, last_update: datetime, totals: JobTotals) -> _Summed:
    """A job's or a job schedule's statistics (the same fields) from the sums over its tasks;
    `waitTime` is 0, as Azure reports it in the account's lifetime statistics only."""
    return cls(
        url=url,
        start_time=start,
        last_update_time=last_update,
        user_cpu_time=_duration(totals.user_cpu_seconds),
        kernel_cpu_time=_duration(totals.kernel_cpu_seconds),
        wall_clock_time=_duration(totals.wall_clock_seconds),
        read_iops=Int64String(totals.read_blocks),
        write_iops=Int64String(totals.write_blocks),
        read_io_gib=totals.read_blocks * BLOCK / GIB,
        write_io_gib=totals.write_blocks * BLOCK / GIB,
        succeeded_tasks_count=Int64String(totals.succeeded),
        failed_tasks_count=Int64String(totals.failed),
        task_retries_count=Int64String(totals.retries),
        wait_time=_duration(0),
    )
