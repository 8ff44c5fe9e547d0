"""The ready queues: a job's tasks that may run now, in order; the dispatcher drains them."""

from __future__ import annotations

from batchite import metrics
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import LiveJob, LiveTask


class ReadyQueue:
    def __init__(self, kick: Kick) -> None:
        self.kick = kick

    def enqueue(self, job: LiveJob, task: LiveTask, front: bool = False) -> None:
        """The task may run now (a retry or requeue goes to the front), and a pass is due."""
        job.tasks[task.key] = task
        task.ready_at = metrics.now()
        if front:
            job.ready.appendleft(task)
        else:
            job.ready.append(task)
        self.kick()

    @staticmethod
    def is_queued(job: LiveJob, task: LiveTask) -> bool:
        """A queue entry is stale once its task runs, completed or was deleted."""
        return task.run is None and job.tasks.get(task.key) is task and task.key not in job.waiting
