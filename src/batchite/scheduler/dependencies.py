"""Task dependencies: a task waits until every task it depends on has completed in a way that
satisfies it (success, or an exit condition whose dependencyAction is `satisfy`).

Event-driven: each completion looks up who waits for it (an index by task id, and a scan of the
waiters with id ranges), so a dependent starts in the same event-loop tick as its last dependency
finishes. Nothing polls.
"""

from __future__ import annotations

from batchite.domain.entities import Task
from batchite.domain.exits import satisfies_dependents
from batchite.scheduler.events import EventBus, TaskCompleted
from batchite.scheduler.live import LiveJob, LiveTask
from batchite.scheduler.queue import ReadyQueue


def _number(key: str) -> int | None:
    return int(key) if key.isdigit() else None


class Dependencies:
    def __init__(self, queue: ReadyQueue, events: EventBus) -> None:
        self.queue = queue
        events.subscribe(TaskCompleted, lambda e: self.done(e.job, e.task))

    def admit(self, job: LiveJob, task: LiveTask) -> None:
        """A new (or reactivated, or recovered) task: queue it, or let it wait for its dependencies."""
        if self._ready(job, task):
            self.queue.enqueue(job, task, front=task.job_manager)
            return
        job.tasks[task.key] = task
        job.waiting[task.key] = task
        for dep in task.depends_on:
            job.dependents.setdefault(dep, set()).add(task.key)

    def _ready(self, job: LiveJob, task: LiveTask) -> bool:
        if any(dep not in job.satisfied for dep in task.depends_on):
            return False
        for start, end in task.depends_ranges:
            for key in (*job.tasks, *job.blocking):
                number = _number(key)
                if number is not None and start <= number <= end and key != task.key:
                    return False
        return True

    def done(self, job: LiveJob, task: Task) -> None:
        """A task completed: record whether it satisfies dependents and release those now ready.

        Only a job that uses task dependencies keeps these records (no task of another job can
        depend on anything): a job of many tasks without them keeps no set of their ids."""
        if not job.entity.wire.uses_task_dependencies:
            return
        key = task.key
        if satisfies_dependents(task.wire, task.internal.failure_stage):
            job.satisfied.add(key)
            job.blocking.discard(key)
        else:
            job.blocking.add(key)
            job.satisfied.discard(key)
        if not job.waiting:
            return
        candidates = set(job.dependents.pop(key, ()))
        number = _number(key)
        if number is not None:
            candidates.update(k for k, t in job.waiting.items() if any(s <= number <= e for s, e in t.depends_ranges))
        for waiter_key in sorted(candidates, key=lambda k: job.waiting[k].seq if k in job.waiting else 0):
            waiter = job.waiting.get(waiter_key)
            if waiter is not None and self._ready(job, waiter):
                del job.waiting[waiter_key]
                self.queue.enqueue(job, waiter)

    def forget(self, job: LiveJob, task_key: str) -> None:
        """A completed task is reactivated or deleted: it no longer satisfies or blocks anyone."""
        job.satisfied.discard(task_key)
        job.blocking.discard(task_key)
        job.waiting.pop(task_key, None)

    def recovered(self, job: LiveJob, task: Task) -> None:
        """At start: a task that completed before the restart satisfies (or blocks) as it did."""
        self.done(job, task)
