"""TaskRunner's successors (see `Run.successor`): a task queued on a node's agent behind one of
its job's running tasks, handed the slots when that one ends, or put back where it was; and,
after a restart, a successor the agent may have started while the service was away.

A part of TaskRunner (it is mixed in), kept apart because it is a lifecycle of its own.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from batchite import metrics
from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend
from batchite.domain.entities import Task
from batchite.domain.states import TaskState, transition
from batchite.scheduler.live import LiveJob, LiveNode, LiveTask, Run
from batchite.scheduler.queue import ReadyQueue
from batchite.scheduler.runs import RunTable
from batchite.store.base import Store


def may_be_followed(run: Run, entity: Task) -> bool:
    """A run whose end cannot change its job (no job manager, no exit conditions) and whose
    process is one: a successor may wait behind it."""
    internal = entity.internal
    return run.task.instances == 1 and not internal.job_manager and entity.wire.exit_conditions is None


class SuccessorRuns:
    store: Store
    backend: NodeBackend
    clock: Clock
    runs: RunTable
    queue: ReadyQueue

    if TYPE_CHECKING:  # TaskRunner's

        def _task(self, job: LiveJob, task: LiveTask) -> Task | None: ...
        def _mark_started(self, job: LiveJob, entity: Task, run: Run, now: datetime) -> None: ...
        def _take(self, job: LiveJob, run: Run) -> None: ...
        def _started(self, job: LiveJob, run: Run, entity: Task) -> None: ...
        def _task_launch(self, job: LiveJob, run: Run, entity: Task) -> TaskLaunch: ...
        def _release(self, job: LiveJob, run: Run) -> None: ...
        def _on_exit(self, job: LiveJob, run: Run, outcome: ProcessOutcome) -> None: ...

    def follow(self, job: LiveJob, task: LiveTask, before: Run) -> None:
        """Queue a task on `before`'s node to start the moment `before` ends, on its slots."""
        entity = self._task(job, task)
        if entity is None:
            job.tasks.pop(task.key, None)
            return
        run = Run(id="", task=task, node=before.node, job_key=job.key, slots=before.slots, waiting_on=before)
        run.id = self.runs.new(partial(self._on_exit, job, run))
        task.run, before.successor = run, run
        job.followable.discard(before)
        # Stored before the agent hears of it: a service that restarts knows it may have started.
        entity.internal.run_id, entity.internal.waiting_on_node = run.id, (run.node.spec.pool_id, run.node.id)
        self.store.tasks.update_internal(entity)
        self.backend.start(run.node.spec, self._task_launch(job, run, entity), after=before.id)

    def _hand_over(self, job: LiveJob, before: Run) -> None:
        """`before` ended: its successor (started by the agent already) runs on its slots now, or is
        stopped and queued again if the job, the node or the task no longer lets it run."""
        run = before.successor
        if run is None:
            return
        before.successor = run.waiting_on = None
        entity = None
        if run.task.run is run and job.can_run_more() and run.node.accepts(run.slots):
            entity = self._task(job, run.task)
        if entity is None:
            self._unfollow(job, run)
            return
        metrics.task_started(run.task.ready_at)
        now = self.clock.now()
        self._mark_started(job, entity, run, now)
        self._take(job, run)
        transition(entity.wire, TaskState.RUNNING, now)
        self.store.tasks.update(entity)
        self._started(job, run, entity)

    def _unfollow(self, job: LiveJob, run: Run, requeue: bool = True) -> None:
        """A successor that will not run here: stopped on the node, its task queued again as it was
        (unless it is being stopped itself)."""
        if run.waiting_on is not None:
            run.waiting_on.successor = None
            run.waiting_on = None
        self.runs.forget(run.id)
        self.backend.kill(run.node.spec, run.id)
        self._forget_waiting(job, run)
        if run.task.run is run:
            run.task.run = None
            if requeue:
                self.queue.enqueue(job, run.task, front=True)

    def _forget_waiting(self, job: LiveJob, run: Run) -> None:
        entity = self._task(job, run.task)
        if entity is not None and entity.internal.run_id == run.id:
            entity.internal.run_id = entity.internal.waiting_on_node = None
            self.store.tasks.update_internal(entity)

    # -- after a restart: successors that may have started ---------------------------------
    def hold(self, job: LiveJob, task: LiveTask, entity: Task, node: LiveNode) -> None:
        """A successor stored as waiting on a node whose agent is being looked for: it keeps its
        slots until the agent says whether it started (`confirm_held`) or not (`lost`)."""
        assert entity.internal.run_id is not None
        run = Run(id=entity.internal.run_id, task=task, node=node, job_key=job.key, slots=task.required_slots)
        run.started = run.held = True
        job.tasks[task.key] = task
        self.runs.adopt(run.id, partial(self._on_exit, job, run))
        self._take(job, run)

    def confirm_held(self, job: LiveJob, run: Run) -> None:
        """It started: it is running, from now."""
        run.held = False
        entity = self._task(job, run.task)
        if entity is None:
            return
        now = self.clock.now()
        self._mark_started(job, entity, run, now)
        transition(entity.wire, TaskState.RUNNING, now)
        self.store.tasks.update(entity)

    def _drop_held(self, job: LiveJob, run: Run) -> None:
        """It never started: queued again as it was."""
        self.runs.forget(run.id)
        self._release(job, run)
        self._forget_waiting(job, run)
        if job.tasks.get(run.task.key) is run.task:
            self.queue.enqueue(job, run.task, front=True)
