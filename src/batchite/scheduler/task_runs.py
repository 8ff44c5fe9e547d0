"""Task lifecycle on nodes: start, exit, retries, requeues, wall-clock limits, retention, stops.

The one writer of a task's state and executionInfo once it exists: every move goes through
`transition` and is stored here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import msgspec

from batchite import metrics
from batchite.agent.container_tasks import container_name
from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend
from batchite.domain.entities import JobTotals, RunUsage, Task
from batchite.domain.job_totals import add, share
from batchite.domain.states import TaskState, transition
from batchite.domain.urls import Urls
from batchite.scheduler.events import EventBus, RunEnded, RunStarted, TaskCompleted
from batchite.scheduler.failures import TASK_ENDED, failure_info, failure_stage, outcome_failure
from batchite.scheduler.job_tasks import JobPreparation
from batchite.scheduler.launches import node_info, task_launch
from batchite.scheduler.live import KillReason, LiveJob, LiveNode, LiveTask, Projection, Run
from batchite.scheduler.multi_instance import MultiInstance
from batchite.scheduler.queue import ReadyQueue
from batchite.scheduler.retention import Retention
from batchite.scheduler.runs import RunTable
from batchite.scheduler.staging import Staging
from batchite.scheduler.successor_runs import SuccessorRuns, may_be_followed
from batchite.store.base import Store
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.models import BatchTaskContainerExecutionInfo, BatchTaskExecutionInfo


def execution_info(task: Task) -> BatchTaskExecutionInfo:
    if task.wire.execution_info is None:
        task.wire.execution_info = BatchTaskExecutionInfo(retry_count=0, requeue_count=0)
    return task.wire.execution_info


class TaskRunner(SuccessorRuns):
    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        projection: Projection,
        runs: RunTable,
        staging: Staging,
        preparation: JobPreparation,
        multi: MultiInstance,
        queue: ReadyQueue,
        events: EventBus,
        urls: Urls,
    ) -> None:
        self.store = store
        self.backend = backend
        self.clock = clock
        self.projection = projection
        self.runs = runs
        self.staging = staging
        self.preparation = preparation
        self.multi = multi
        self.queue = queue
        self.events = events
        self.urls = urls
        self.retention = Retention(store, backend, clock, projection)

    def _task(self, job: LiveJob, task: LiveTask) -> Task | None:
        return self.store.tasks.get(job.account, job.key, task.id)

    # -- start --------------------------------------------------------------------------
    def start(self, job: LiveJob, task: LiveTask, node: LiveNode, slots: int) -> None:
        entity = self._task(job, task)
        if entity is None:
            job.tasks.pop(task.key, None)
            return
        metrics.task_started(task.ready_at)
        now = self.clock.now()
        run = Run(id="", task=task, node=node, job_key=job.key, slots=slots)
        if task.instances == 1:  # its run id is kept, so that a restarted service finds it again
            run.id = self.runs.new(partial(self._on_exit, job, run))
        self._mark_started(job, entity, run, now)
        self._take(job, run)
        if not self.preparation.ensure_prepared(job, node, partial(self._prepared, job, run)):
            transition(entity.wire, TaskState.PREPARING, now)  # waits for the job preparation task
            self.store.tasks.update(entity)
            return
        transition(entity.wire, TaskState.RUNNING, now)
        self.store.tasks.update(entity)
        self._launch(job, run, entity)

    def _mark_started(self, job: LiveJob, entity: Task, run: Run, now: datetime) -> None:
        info = execution_info(entity)
        info.end_time = info.exit_code = info.result = info.failure_info = None
        info.start_time = now
        entity.wire.node_info = node_info(self.urls, run.node, job.id, run.task.id)
        entity.internal.run_id = run.id or None
        entity.internal.waiting_on_node = None
        info.container_info = None
        if entity.wire.container_settings is not None and run.id:
            info.container_info = BatchTaskContainerExecutionInfo(container_id=container_name(run.id), state="running")

    def _take(self, job: LiveJob, run: Run) -> None:
        run.task.run = run
        job.running += 1
        run.node.used += run.slots
        run.node.runs.add(run)
        self.events.publish(RunStarted(run.node, job, run.task))

    def restore(self, job: LiveJob, task: LiveTask, entity: Task, node: LiveNode) -> bool:
        """After a restart: a task that was running on a node whose agent may still run it keeps
        its run (and slots) until the agent says; False when it cannot be kept."""
        run_id = entity.internal.run_id
        if not run_id or task.instances > 1 or entity.wire.state != TaskState.RUNNING:
            return False
        slots = node.slots if task.exclusive else task.required_slots
        run = Run(id=run_id, task=task, node=node, job_key=job.key, slots=slots, started=True)
        job.tasks[task.key] = task
        self.runs.adopt(run_id, partial(self._on_exit, job, run))
        self._take(job, run)
        limit = entity.wire.constraints.max_wall_clock_time if entity.wire.constraints else None
        info = entity.wire.execution_info
        if limit is not None and not limit.unlimited and info is not None and info.start_time is not None:
            remaining = max(timedelta(0), info.start_time + limit - self.clock.now())
            run.wall_timer = self.clock.call_later(remaining, partial(self._wall_clock_expired, run))
        return True

    def lost(self, run: Run) -> None:
        """A run its node no longer has (the agent does not know it): the task runs again."""
        job = self.projection.job_of(run)
        if run.held and job is not None:
            self._drop_held(job, run)
            return
        self.runs.forget(run.id)
        if job is not None and run.task.run is run:
            self.stop(job, run.task, KillReason.REQUEUE)
        self._drop(run)

    def abandon(self, node: LiveNode) -> None:
        """The node is gone with its processes: no end will come for what ran there."""
        for run in list(node.runs):
            self.runs.forget(run.id)
            self._drop(run)

    def _drop(self, run: Run) -> None:
        job = self.projection.job_of(run)
        if job is not None:
            self._release(job, run)
            if run.successor is not None:
                self._unfollow(job, run.successor)
        else:
            run.node.runs.discard(run)
            run.node.used = max(0, run.node.used - run.slots)

    def _prepared(self, job: LiveJob, run: Run, ok: bool) -> None:
        """The job preparation task on the run's node finished: run the task, or requeue it elsewhere."""
        if run.detached or run.task.run is not run:
            return
        entity = self._task(job, run.task)
        if entity is None:
            return
        if not ok:
            self._release(job, run)
            entity.wire.node_info = None
            transition(entity.wire, TaskState.ACTIVE, self.clock.now())
            self.store.tasks.update(entity)
            self.events.publish(RunEnded(run.node, job, run.task, None))
            self.queue.enqueue(job, run.task, front=True)
            return
        transition(entity.wire, TaskState.RUNNING, self.clock.now())
        self.store.tasks.update(entity)
        self._launch(job, run, entity)

    def _launch(self, job: LiveJob, run: Run, entity: Task) -> None:
        if run.task.instances > 1:
            env = job.environment(entity.wire.environment_settings)
            self.multi.launch(job, run, entity, env, partial(self._on_exit, job, run))
        else:
            self.backend.start(run.node.spec, self._task_launch(job, run, entity))
        self._started(job, run, entity)

    def _task_launch(self, job: LiveJob, run: Run, entity: Task) -> TaskLaunch:
        return task_launch(job, run, entity, self.projection.pool_of(run.node), self.staging)

    def _started(self, job: LiveJob, run: Run, entity: Task) -> None:
        """Its process was asked for: its wall clock runs, and it may take a successor."""
        run.started = True
        constraints = entity.wire.constraints
        limit = constraints.max_wall_clock_time if constraints else None
        if limit is not None and not limit.unlimited:
            run.wall_timer = self.clock.call_later(limit, partial(self._wall_clock_expired, run))
        if may_be_followed(run, entity) and self.backend.takes_successors(run.node.spec):
            job.followable.add(run)

    def _wall_clock_expired(self, run: Run) -> None:
        run.wall_timer = None
        if not run.detached and run.started and run in run.node.runs:
            run.kill_reason = KillReason.WALL_CLOCK
            self._kill(run)

    def _kill(self, run: Run) -> None:
        if run.id:
            self.backend.kill(run.node.spec, run.id)
        self.multi.kill(run)

    # -- exit ---------------------------------------------------------------------------
    def _release(self, job: LiveJob, run: Run) -> None:
        """The run's slots are free (its successor, if it has one, is the caller's to hand over or stop)."""
        if run.wall_timer is not None:
            run.wall_timer.cancel()
            run.wall_timer = None
        job.followable.discard(run)
        if run in run.node.runs:
            run.node.runs.discard(run)
            run.node.used -= run.slots
            job.running -= 1
        if run.task.run is run:
            run.task.run = None
        if run.task.sub_runs:
            self.multi.release(job, run.task)

    def _on_exit(self, job: LiveJob, run: Run, outcome: ProcessOutcome) -> None:
        self._exit(job, run, outcome)
        if run.successor is not None:  # once the end is stored: its successor starts after it
            self._hand_over(job, run)

    def _exit(self, job: LiveJob, run: Run, outcome: ProcessOutcome) -> None:
        if run.waiting:  # a successor that never started (its node's agent could not be reached)
            self._unfollow(job, run)
            return
        if run.held:  # after a restart, the end of a successor: it may never have started
            if outcome.exit_code is None and outcome.killed:
                self._drop_held(job, run)
                return
            self.confirm_held(job, run)
        self._release(job, run)
        task, node = run.task, run.node
        entity = None if run.detached else self._task(job, task)
        if entity is None:
            if not run.detached:
                job.tasks.pop(task.key, None)
            self.events.publish(RunEnded(node, job, task, None))
            self.queue.kick()
            return
        before = share(entity)
        now = self.clock.now()
        info = execution_info(entity)
        info.end_time = now  # times come from the service clock, as every other
        if info.container_info is not None:  # its container's state, not the task's
            info.container_info = msgspec.structs.replace(info.container_info, state="exited")
        if outcome.exit_code is not None:
            info.exit_code = outcome.exit_code
        _add_usage(entity, outcome, (now - info.start_time).total_seconds() if info.start_time else 0.0)
        wall_clock = run.kill_reason == KillReason.WALL_CLOCK
        failure = outcome_failure(outcome, wall_clock)
        info.result = BatchTaskExecutionResult.FAILURE if failure else BatchTaskExecutionResult.SUCCESS
        info.failure_info = failure
        entity.internal.failure_stage = failure_stage(outcome) if run.kill_reason is None else None
        entity.internal.run_id = None
        constraints = entity.wire.constraints
        max_retries = (constraints.max_task_retry_count or 0) if constraints else 0
        if failure and not wall_clock and (max_retries < 0 or info.retry_count < max_retries):
            info.retry_count += 1
            info.last_retry_time = now
            transition(entity.wire, TaskState.ACTIVE, now)
            self.store.tasks.update(entity)
            self.count(job.account, job.key, before, entity)
            self.events.publish(RunEnded(node, job, task, None))
            self.queue.enqueue(job, task, front=True)
            return
        self._complete(job, task, entity, before)
        metrics.task_completed(failure is None)
        self.events.publish(RunEnded(node, job, task, failure is None))
        self.queue.kick()

    def _complete(self, job: LiveJob, task: LiveTask, entity: Task, before: JobTotals) -> None:
        transition(entity.wire, TaskState.COMPLETED, self.clock.now())
        self.store.tasks.update(entity)
        self.count(job.account, job.key, before, entity)
        job.tasks.pop(task.key, None)
        self.retention.completed(entity)
        self.events.publish(TaskCompleted(job, entity, job.pool_key))

    def count(self, account: str, job_key: str, before: JobTotals | None, after: Task | None) -> None:
        """A task changed: its job's totals lose its share `before` and gain its share now
        (`after`; None when it is deleted). Written with the job, its ETag kept."""
        live = self.projection.jobs.get((account, job_key))
        job = live.entity if live is not None else self.store.jobs.get(account, "", job_key)
        if job is None or job.internal.totals is None:
            return
        if before is not None:
            add(job.internal.totals, before, -1)
        if after is not None:
            add(job.internal.totals, share(after))
        if live is None:
            self.store.jobs.update(job, modified=False)
            return
        # A live job's totals are written once per commit, however many of its tasks changed.
        self.store.write_before_commit(("job totals", account, job_key), partial(self._write_totals, live))

    def _write_totals(self, live: LiveJob) -> None:
        if self.projection.jobs.get((live.account, live.key)) is live:  # not deleted meanwhile
            self.store.jobs.update(live.entity, modified=False)

    # -- stops the API (and the other parts) ask for --------------------------------------
    def stop(self, job: LiveJob, task: LiveTask, reason: KillReason, entity: Task | None = None) -> None:
        """Move a task out of `running` now; its process is killed and its exit only frees the slot.

        REQUEUE: back to active (requeueCount + 1); TERMINATE: completed, TaskEnded; DELETE: the
        task is going away.
        """
        run = task.run
        if run is not None and run.waiting:  # a successor: it never ran; requeued, it is just queued again
            self._unfollow(job, run, requeue=reason == KillReason.REQUEUE)
            if reason == KillReason.REQUEUE:
                return
            run = None
        was_running = run is not None
        if run is not None:
            job.followable.discard(run)
        if run is not None and run.successor is not None:
            self._unfollow(job, run.successor)
        if run is not None:
            run.detached = True
            run.kill_reason = reason
            task.run = None
            self._kill(run)
        if reason == KillReason.DELETE:
            job.tasks.pop(task.key, None)
            job.waiting.pop(task.key, None)
            return
        entity = entity or self._task(job, task)
        if entity is None:
            return
        before = share(entity)
        now = self.clock.now()
        info = execution_info(entity)
        entity.internal.run_id = entity.internal.waiting_on_node = None
        if reason == KillReason.REQUEUE:
            if was_running:
                info.requeue_count += 1
                info.last_requeue_time = now
                transition(entity.wire, TaskState.ACTIVE, now)
                self.store.tasks.update(entity)
                self.queue.enqueue(job, task, front=True)
            return
        info.end_time = now
        info.start_time = info.start_time or now
        info.result = BatchTaskExecutionResult.FAILURE
        info.failure_info = failure_info(*TASK_ENDED)
        self._complete(job, task, entity, before)

    def evict(self, node: LiveNode, reason: KillReason) -> None:
        """Stop every task running on a node (it reboots, leaves, is preempted...)."""
        for run in list(node.runs):
            job = self.projection.job_of(run)
            if job is not None and not run.detached:
                self.stop(job, run.task, reason)


def _add_usage(entity: Task, outcome: ProcessOutcome, wall_clock_seconds: float) -> None:
    """A run ended: what it used joins what the task's earlier runs used (its statistics)."""
    usage = entity.internal.usage or RunUsage()
    usage.wall_clock_seconds += max(0.0, wall_clock_seconds)
    usage.user_cpu_seconds += outcome.user_cpu_seconds
    usage.kernel_cpu_seconds += outcome.kernel_cpu_seconds
    usage.read_blocks += outcome.read_blocks
    usage.write_blocks += outcome.write_blocks
    entity.internal.usage = usage
