"""Job lifecycle in the scheduler: tasks arrive, jobs disable, enable, terminate, complete, go away.

The one writer of jobs (and of the tasks it adds): the service hands new jobs and tasks over,
edits through `edit`, and asks for state changes; every move goes through `transition`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend
from batchite.domain.entities import Job, JobTotals, Task
from batchite.domain.exits import task_exit_options
from batchite.domain.job_totals import share
from batchite.domain.states import JobState, TaskState, transition
from batchite.scheduler.dependencies import Dependencies
from batchite.scheduler.events import EventBus, JobEnded, NodeRebooted, RunEnded, TaskCompleted
from batchite.scheduler.job_tasks import JobPreparation
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import KillReason, LiveJob, LiveTask, Projection, Run
from batchite.scheduler.multi_instance import subtask_parent
from batchite.scheduler.task_runs import TaskRunner, execution_info
from batchite.store.base import Store
from batchite.wire.enums import (
    BatchAllTasksCompleteMode,
    BatchJobActionKind,
    BatchTaskExecutionResult,
    BatchTaskFailureMode,
    DisableBatchJobOption,
)
from batchite.wire.models import BatchJobExecutionInfo

# While a job ends, it may still be completed from these states.
ENDING_FROM = frozenset({JobState.TERMINATING, JobState.ACTIVE, JobState.DISABLED, JobState.DISABLING})


class JobLifecycle:
    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        projection: Projection,
        tasks: TaskRunner,
        preparation: JobPreparation,
        dependencies: Dependencies,
        events: EventBus,
        kick: Kick,
    ) -> None:
        self.store = store
        self.backend = backend
        self.clock = clock
        self.projection = projection
        self.tasks = tasks
        self.preparation = preparation
        self.dependencies = dependencies
        self.events = events
        self.kick = kick
        self._stopping: dict[tuple[str, str], tuple[LiveJob, list[Run]]] = {}  # jobs being deleted
        events.subscribe(TaskCompleted, lambda e: self._task_completed(e.job, e.task))
        events.subscribe(RunEnded, lambda e: self._run_ended(e.job))
        events.subscribe(NodeRebooted, lambda e: self._node_rebooted(e.node.spec.account, e.node.id, e.fresh))

    # -- jobs ---------------------------------------------------------------------------
    def live(self, job: Job) -> LiveJob:
        """The job's live record (at creation, and at start for the jobs that have not completed)."""
        live = LiveJob(job)
        self.preparation.recover(live)
        self.projection.jobs[(job.account, job.key)] = live
        self._arm_wall_clock(live)
        return live

    def add(self, job: Job) -> LiveJob:
        if job.internal.totals is None:
            job.internal.totals = JobTotals()
        self.store.jobs.insert(job)
        live = self.live(job)
        if job.wire.job_manager_task is None:  # with one, the job has a task from the start
            self.check_complete(live)
        return live

    @contextmanager
    def edit(self, live: LiveJob) -> Iterator[Job]:
        """Change a job's properties; stored, and seen by dispatch, when the block ends."""
        yield live.entity
        self.store.jobs.update(live.entity)
        self._arm_wall_clock(live)
        self.check_complete(live)
        self.kick()

    def _arm_wall_clock(self, job: LiveJob) -> None:
        if job.wall_timer is not None:
            job.wall_timer.cancel()
            job.wall_timer = None
        constraints = job.entity.wire.constraints
        limit = constraints.max_wall_clock_time if constraints else None
        if limit is None or limit.unlimited:
            return
        delay = max(timedelta(0), job.entity.wire.creation_time + limit - self.clock.now())
        job.wall_timer = self.clock.call_later(delay, partial(self._wall_clock_expired, job))

    def _wall_clock_expired(self, job: LiveJob) -> None:
        job.wall_timer = None
        if self.projection.jobs.get((job.account, job.key)) is job and job.state not in (
            JobState.COMPLETED,
            JobState.TERMINATING,
            JobState.DELETING,
        ):
            self.terminate(job.entity, "MaxWallClockTimeExpiry")

    # -- tasks --------------------------------------------------------------------------
    def add_tasks(self, job: LiveJob, tasks: list[Task]) -> None:
        for task in tasks:
            self.store.tasks.insert(task)
        for task in tasks:
            self.dependencies.admit(job, LiveTask.of(task))

    @contextmanager
    def edit_task(self, task: Task) -> Iterator[Task]:
        yield task
        self.store.tasks.update(task)

    def terminate_task(self, job: LiveJob, task: Task) -> None:
        live = job.tasks.get(task.key)
        if live is not None:
            self.tasks.stop(job, live, KillReason.TERMINATE, task)

    def delete_task(self, account: str, job_key: str, task: Task) -> None:
        job = self.projection.jobs.get((account, job_key))
        if job is not None:
            self.dependencies.forget(job, task.key)
            live = job.tasks.get(task.key)
            if live is not None:
                self.tasks.stop(job, live, KillReason.DELETE)
                self.check_complete(job)
        self.store.subtasks.delete_all(account, subtask_parent(job_key, task.key))
        self.store.tasks.delete(account, job_key, task.id)
        self.tasks.count(account, job_key, share(task), None)

    def reactivate_task(self, job: LiveJob, task: Task) -> None:
        """A failed task runs again, from the start (its retry count back to 0)."""
        before = share(task)
        info = execution_info(task)
        task.wire.execution_info = type(info)(retry_count=0, requeue_count=info.requeue_count)
        task.wire.node_info = None
        transition(task.wire, TaskState.ACTIVE, self.clock.now())
        self.store.tasks.update(task)
        self.tasks.count(job.account, job.key, before, task)
        self.dependencies.forget(job, task.key)
        self.dependencies.admit(job, LiveTask.of(task))

    # -- user actions -------------------------------------------------------------------
    def disable(self, job: LiveJob, option: DisableBatchJobOption) -> None:
        transition(job.entity.wire, JobState.DISABLING, self.clock.now())
        self.store.jobs.update(job.entity)
        if option in (DisableBatchJobOption.REQUEUE, DisableBatchJobOption.TERMINATE):
            reason = KillReason.REQUEUE if option == DisableBatchJobOption.REQUEUE else KillReason.TERMINATE
            for task in [t for t in job.tasks.values() if t.run is not None]:
                self.tasks.stop(job, task, reason)
        self.check_complete(job)

    def enable(self, job: LiveJob) -> None:
        now = self.clock.now()
        if job.state in (JobState.DISABLED, JobState.DISABLING):
            transition(job.entity.wire, JobState.ENABLING, now)
        transition(job.entity.wire, JobState.ACTIVE, now)
        self.store.jobs.update(job.entity)
        self.kick()

    def terminate(self, job: Job, reason: str) -> None:
        """Stop the job's running tasks, run its release tasks, then it is completed."""
        if job.wire.state != JobState.TERMINATING:
            transition(job.wire, JobState.TERMINATING, self.clock.now())
            self.store.jobs.update(job)
        live = self.projection.jobs.pop((job.account, job.key), None)
        if live is None:
            self._finish_terminate(job, reason)
            return
        if live.wall_timer is not None:
            live.wall_timer.cancel()
        for task in [t for t in live.tasks.values() if t.run is not None]:
            self.tasks.stop(live, task, KillReason.TERMINATE)
        live.ready.clear()
        self.preparation.release(live, partial(self._finish_terminate, job, reason))

    def _finish_terminate(self, job: Job, reason: str) -> None:
        current = self.store.jobs.get(job.account, "", job.id)  # it may have been deleted meanwhile
        if current is None or current.wire.state not in ENDING_FROM:
            return
        now = self.clock.now()
        transition(current.wire, JobState.COMPLETED, now)
        info = current.wire.execution_info or BatchJobExecutionInfo(start_time=now)
        info.end_time = now
        info.termination_reason = reason
        current.wire.execution_info = info
        self.store.jobs.update(current)
        self.events.publish(JobEnded(current, deleted=False))

    def delete(self, job: Job) -> None:
        """Stop the job's tasks; once their processes have ended, run its release tasks (if it was
        still running), then remove it. It is `deleting` meanwhile."""
        if job.wire.state != JobState.DELETING:
            transition(job.wire, JobState.DELETING, self.clock.now())
            self.store.jobs.update(job)
        live = self.projection.jobs.pop((job.account, job.key), None)
        if live is None:
            self._finish_delete(job)
            return
        if live.wall_timer is not None:
            live.wall_timer.cancel()
        stopping = [r for t in live.tasks.values() for r in (t.run, *t.sub_runs) if r is not None]
        for task in list(live.tasks.values()):
            self.tasks.stop(live, task, KillReason.DELETE)
        live.ready.clear()
        self._stopping[(job.account, job.key)] = (live, stopping)
        self._check_stopped(live)

    def recheck_deleting(self) -> None:
        """Runs that ended without a report (their node was lost) no longer hold a delete up."""
        for live, _ in list(self._stopping.values()):
            self._check_stopped(live)

    def _check_stopped(self, live: LiveJob) -> None:
        """A job being deleted whose killed runs have all ended (their agents said so) moves on."""
        key = (live.account, live.key)
        found = self._stopping.get(key)
        if found is None or found[0] is not live or any(r in r.node.runs for r in found[1]):
            return
        del self._stopping[key]
        self.preparation.release(live, partial(self._finish_delete, live.entity))

    def _finish_delete(self, job: Job) -> None:
        account, key = job.account, job.key
        for node in self.projection.nodes_of(account):
            self.backend.remove_directory(node.spec, f"workitems/{job.id}")
        for multi in self.store.tasks.multi_instance(account, key):
            self.store.subtasks.delete_all(account, subtask_parent(key, multi.key))
        self.store.tasks.delete_all(account, key)
        self.store.prep_statuses.delete_all(account, key)
        gone = self.store.jobs.get(account, "", job.id)
        self.store.jobs.delete(account, "", job.id)
        if gone is not None:
            self.events.publish(JobEnded(gone, deleted=True))

    # -- completion ---------------------------------------------------------------------
    def _task_completed(self, job: LiveJob, task: Task) -> None:
        """A job manager with killJobOnCompletion ends its job; otherwise, with onTaskFailure
        performexitoptionsjobaction, apply the matching exit condition's jobAction."""
        self._job_action(job, task)
        self.check_complete(job)

    def _job_action(self, job: LiveJob, task: Task) -> None:
        if task.internal.job_manager and task.internal.kill_job_on_completion and job.state == JobState.ACTIVE:
            self.terminate(job.entity, "JMComplete")
            return
        failure_mode = job.entity.wire.task_failure_mode
        if failure_mode != BatchTaskFailureMode.PERFORM_EXIT_OPTIONS_JOB_ACTION or job.state != JobState.ACTIVE:
            return
        options = task_exit_options(task.wire, task.internal.failure_stage)
        info = task.wire.execution_info
        failed = info is not None and info.result == BatchTaskExecutionResult.FAILURE
        if not (failed or options.explicit):
            return
        if options.job_action == BatchJobActionKind.TERMINATE:
            self.terminate(job.entity, "TaskFailed")
        elif options.job_action == BatchJobActionKind.DISABLE:
            self.disable(job, DisableBatchJobOption.REQUEUE)

    def check_complete(self, job: LiveJob) -> None:
        if self.projection.jobs.get((job.account, job.key)) is not job:
            return
        if job.state == JobState.DISABLING and not any(t.run is not None for t in job.tasks.values()):
            transition(job.entity.wire, JobState.DISABLED, self.clock.now())
            self.store.jobs.update(job.entity)
        on_complete = job.entity.wire.all_tasks_complete_mode
        if not job.tasks and on_complete == BatchAllTasksCompleteMode.TERMINATE_JOB and job.state == JobState.ACTIVE:
            self.terminate(job.entity, "AllTasksComplete")

    def _run_ended(self, job: LiveJob) -> None:
        if (job.account, job.key) in self._stopping:
            self._check_stopped(job)
        if job.state == JobState.DISABLING:  # a disabling job is disabled once nothing runs
            self.check_complete(job)

    def _node_rebooted(self, account: str, node_id: str, fresh: bool) -> None:
        for job in list(self.projection.jobs.values()):
            if job.account == account:
                self.preparation.forget_node(job, node_id, fresh)
