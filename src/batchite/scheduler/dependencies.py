"""Task dependencies: a task waits until every task it depends on has completed in a way that
satisfies it (success, or an exit condition whose dependencyAction is `satisfy`).

Event-driven: each completion looks up who waits for it (an index by task id, and a scan of the
waiters with id ranges), so a dependent starts in the same event-loop tick as its last dependency
finishes. Nothing polls.
"""

from __future__ import annotations

from typing import Any

from batchite.domain.exits import satisfies_dependents
from batchite.domain.record import Record
from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, TaskRt


def parse_depends_on(doc: dict[str, Any]) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    depends = doc.get("dependsOn") or {}
    ids = tuple(str(i).lower() for i in depends.get("taskIds") or [])
    ranges = tuple((int(r["start"]), int(r["end"])) for r in depends.get("taskIdRanges") or [])
    return ids, ranges


def _number(key: str) -> int | None:
    return int(key) if key.isdigit() else None


class Dependencies(SchedulerBase):
    def admit(self, job: JobRt, task: TaskRt, doc: dict[str, Any]) -> None:
        """A new (or reactivated, or recovered) task: queue it, or let it wait for its dependencies."""
        task.depends_on, task.depends_ranges = parse_depends_on(doc)
        if self._ready(job, task):
            self.enqueue(job, task, front=task.job_manager)
            return
        task.state = "active"
        job.tasks[task.key] = task
        job.waiting[task.key] = task
        for dep in task.depends_on:
            job.dependents.setdefault(dep, set()).add(task.key)

    def _ready(self, job: JobRt, task: TaskRt) -> bool:
        if any(dep not in job.satisfied for dep in task.depends_on):
            return False
        for start, end in task.depends_ranges:
            for key in (*job.tasks, *job.blocking):
                number = _number(key)
                if number is not None and start <= number <= end and key != task.key:
                    return False
        return True

    def dependency_done(self, job: JobRt, task_key: str, rec: Record) -> None:
        """A task completed: record whether it satisfies dependents and release those now ready."""
        if satisfies_dependents(rec.doc, rec.extra.get("failureStage")):
            job.satisfied.add(task_key)
            job.blocking.discard(task_key)
        else:
            job.blocking.add(task_key)
            job.satisfied.discard(task_key)
        if not job.waiting:
            return
        candidates = set(job.dependents.pop(task_key, ()))
        number = _number(task_key)
        if number is not None:
            candidates.update(
                k for k, t in job.waiting.items() if any(s <= number <= e for s, e in t.depends_ranges)
            )
        for key in sorted(candidates, key=lambda k: job.waiting[k].seq if k in job.waiting else 0):
            waiter = job.waiting.get(key)
            if waiter is not None and self._ready(job, waiter):
                del job.waiting[key]
                self.enqueue(job, waiter)

    def dependency_forget(self, job: JobRt, task_key: str) -> None:
        """A completed task is reactivated or deleted: it no longer satisfies or blocks anyone."""
        job.satisfied.discard(task_key)
        job.blocking.discard(task_key)
        job.waiting.pop(task_key, None)
