"""A job's running totals (`JobTotals`): what one task adds to them, and adding or taking it away.

A task's share is what its ended runs used (`TaskInternal.usage`), its retry count, and one
succeeded or failed task once it has completed. Whoever changes a task takes its share before
the change and adds the share after it, so the totals stay the sums over the job's tasks.
"""

from __future__ import annotations

from batchite.domain.entities import JobTotals, RunUsage, Task
from batchite.domain.states import TaskState
from batchite.wire.enums import BatchTaskExecutionResult


def share(task: Task) -> JobTotals:
    """What the task adds to its job's totals now."""
    usage = task.internal.usage or RunUsage()
    info = task.wire.execution_info
    completed = task.wire.state == TaskState.COMPLETED and info is not None
    result = info.result if completed and info is not None else None
    return JobTotals(
        wall_clock_seconds=usage.wall_clock_seconds,
        user_cpu_seconds=usage.user_cpu_seconds,
        kernel_cpu_seconds=usage.kernel_cpu_seconds,
        read_blocks=usage.read_blocks,
        write_blocks=usage.write_blocks,
        succeeded=int(result == BatchTaskExecutionResult.SUCCESS),
        failed=int(result == BatchTaskExecutionResult.FAILURE),
        retries=info.retry_count if info is not None else 0,
    )


def add(totals: JobTotals, part: JobTotals, sign: int = 1) -> None:
    """Add (sign 1) or take away (sign -1) a share; the sums never go below zero."""
    totals.wall_clock_seconds = max(0.0, totals.wall_clock_seconds + sign * part.wall_clock_seconds)
    totals.user_cpu_seconds = max(0.0, totals.user_cpu_seconds + sign * part.user_cpu_seconds)
    totals.kernel_cpu_seconds = max(0.0, totals.kernel_cpu_seconds + sign * part.kernel_cpu_seconds)
    totals.read_blocks = max(0, totals.read_blocks + sign * part.read_blocks)
    totals.write_blocks = max(0, totals.write_blocks + sign * part.write_blocks)
    totals.succeeded = max(0, totals.succeeded + sign * part.succeeded)
    totals.failed = max(0, totals.failed + sign * part.failed)
    totals.retries = max(0, totals.retries + sign * part.retries)


def of_tasks(tasks: list[Task]) -> JobTotals:
    """The totals computed from the tasks themselves (a job stored before jobs kept them)."""
    totals = JobTotals()
    for task in tasks:
        add(totals, share(task))
    return totals
