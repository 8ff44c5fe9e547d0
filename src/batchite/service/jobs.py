"""Jobs: create, read, update, replace, disable, enable, terminate, delete; task counts; auto pools.

The service checks what a request may do and builds the job; the scheduler's JobLifecycle, the
one writer of jobs, stores it and moves it through its states.
"""

from __future__ import annotations

import uuid

from batchite.domain.entities import Job, PreparationStatus
from batchite.domain.entities.records import JobInternal
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.domain.states import JobState, ScheduleState, TaskState
from batchite.scheduler.events import JobEnded
from batchite.scheduler.live import LiveJob
from batchite.service.conflicts import job_busy
from batchite.service.context import ServiceContext, require
from batchite.service.pools import PoolService
from batchite.service.tasks import job_manager_task
from batchite.store.base import Page
from batchite.wire.bodies import JobReplaceBody
from batchite.wire.enums import (
    BatchAllTasksCompleteMode,
    BatchPoolLifetimeOption,
    BatchTaskExecutionResult,
    BatchTaskFailureMode,
    DisableBatchJobOption,
)
from batchite.wire.models import (
    BatchAutoPoolSpecification,
    BatchJob,
    BatchJobConstraints,
    BatchJobCreateOptions,
    BatchJobExecutionInfo,
    BatchJobSpecification,
    BatchJobUpdateOptions,
    BatchPoolInfo,
    BatchTaskCounts,
    BatchTaskCountsResult,
    BatchTaskSlotCounts,
)
from batchite.wire.types import UNLIMITED, build, clone

JobSettings = BatchJobCreateOptions | BatchJobSpecification | BatchJobUpdateOptions | JobReplaceBody


COUNTED = ("active", "running", "completed", "succeeded", "failed")
RESULT_BUCKETS: dict[str, str] = {
    BatchTaskExecutionResult.SUCCESS: "succeeded",
    BatchTaskExecutionResult.FAILURE: "failed",
}


def check_job_settings(body: JobSettings) -> None:
    if body.priority is not None and not -1000 <= body.priority <= 1000:
        raise invalid_property("priority", body.priority, "The priority must be between -1000 and 1000.")
    mpt = body.max_parallel_tasks
    if mpt is not None and mpt != -1 and mpt < 1:
        raise invalid_property("maxParallelTasks", mpt, "The value must be -1 or greater than 0.")
    retries = body.constraints.max_task_retry_count if body.constraints else None
    if retries is not None and retries < -1:
        raise invalid_property("maxTaskRetryCount", retries, "The value must be -1 or greater.")


def check_pool_info(pool_info: BatchPoolInfo | None, prop: str = "poolInfo") -> None:
    """Exactly one of poolId and autoPoolSpecification (with its pool specification)."""
    auto = pool_info.auto_pool_specification if pool_info else None
    pool_id = pool_info.pool_id if pool_info else None
    if not pool_id and auto is None:
        raise missing_property(f"{prop}.poolId")
    if pool_id and auto is not None:
        raise BatchError(
            400,
            "InvalidPropertyValue",
            "Specify either poolId or autoPoolSpecification, not both.",
            [("PropertyName", f"{prop}.autoPoolSpecification")],
        )
    if auto is not None and auto.pool is None:
        raise missing_property(f"{prop}.autoPoolSpecification.pool")
    prefix = auto.auto_pool_id_prefix or "" if auto is not None else ""
    if len(prefix) > 20:
        raise invalid_property(f"{prop}.autoPoolSpecification.autoPoolIdPrefix", prefix, "At most 20 characters.")


def _constraints(given: BatchJobConstraints | None) -> BatchJobConstraints:
    given = given or BatchJobConstraints()
    return BatchJobConstraints(
        max_wall_clock_time=given.max_wall_clock_time or UNLIMITED, max_task_retry_count=given.max_task_retry_count or 0
    )


class JobService:
    def __init__(self, ctx: ServiceContext, pools: PoolService) -> None:
        self.ctx = ctx
        self.pools = pools  # auto pools are created through it
        ctx.scheduler.events.subscribe(JobEnded, self._job_ended)

    def get(self, account: str, job_id: str) -> Job:
        return require(self.ctx.store.jobs.get(account, "", job_id), not_found("job"))

    def list(self, account: str, after: int, limit: int, flt: Filter | None = None) -> Page[Job]:
        return self.ctx.store.jobs.page(account, "", after, limit, flt)

    def live(self, account: str, job_id: str) -> LiveJob:
        """The job as the scheduler runs it; 409 when it is completed, terminating or being deleted."""
        job = self.get(account, job_id)
        live = self.ctx.scheduler.projection.job(account, job_id)
        busy = job_busy(job.wire.state)
        if busy is not None or live is None:
            raise busy or not_found("job")
        return live

    # -- create -------------------------------------------------------------------------
    def create(
        self,
        account: str,
        body: BatchJobCreateOptions | BatchJobSpecification,
        *,
        job_id: str | None = None,
        schedule: str | None = None,
    ) -> Job:
        """Create a job; `schedule` (a job schedule's key) marks a job that schedule makes, whose
        id (`{scheduleId}:job-{n}`) is the schedule's own and is not checked as a user's id."""
        if job_id is None:
            assert isinstance(body, BatchJobCreateOptions)
            job_id = check_id(body.id)
        check_pool_info(body.pool_info)
        check_job_settings(body)
        existing = self.ctx.store.jobs.get(account, "", job_id)
        if existing is not None:
            being_deleted = job_busy(existing.wire.state) if existing.wire.state == JobState.DELETING else None
            raise being_deleted or exists("job")  # a job being deleted keeps its id until it is gone
        if schedule is None and self.ctx.store.schedules.get(account, "", job_id) is not None:
            raise conflict(
                "JobScheduleWithSameIdExists",
                "A job schedule with the specified job id exists. Job and job schedule cannot have the same id.",
            )
        if schedule is None:
            self.check_active_quota(account)
        manager = body.job_manager_task
        if manager is not None:
            check_id(manager.id, "jobManagerTask.id")
        now = self.ctx.clock.now()
        internal = JobInternal(schedule=schedule)
        pool_id = body.pool_info.pool_id
        auto = body.pool_info.auto_pool_specification
        if auto is not None:
            pool_id = internal.auto_pool = self._auto_pool(account, auto, schedule)
        wire = build(
            BatchJob,
            body,
            id=job_id,
            state=JobState.ACTIVE,
            state_transition_time=now,
            creation_time=now,
            priority=body.priority or 0,
            max_parallel_tasks=-1 if body.max_parallel_tasks is None else body.max_parallel_tasks,
            allow_task_preemption=bool(body.allow_task_preemption),
            uses_task_dependencies=bool(body.uses_task_dependencies),
            all_tasks_complete_mode=body.all_tasks_complete_mode or BatchAllTasksCompleteMode.NO_ACTION,
            task_failure_mode=body.task_failure_mode or BatchTaskFailureMode.NO_ACTION,
            constraints=_constraints(body.constraints),
            execution_info=BatchJobExecutionInfo(start_time=now, pool_id=pool_id),
        )
        job = Job(account, "", wire, internal)
        live = self.ctx.scheduler.jobs.add(job)
        manager_task = job_manager_task(job, now)
        if manager_task is not None:
            self.ctx.scheduler.jobs.add_tasks(live, [manager_task])
        return job

    def check_active_quota(self, account: str) -> None:
        """Active jobs and job schedules (anything not completed) are bounded per account."""
        store = self.ctx.store
        active = store.jobs.count(account, "", exclude_states=[JobState.COMPLETED])
        active += store.schedules.count(account, "", exclude_states=[ScheduleState.COMPLETED])
        quota = self.ctx.scheduler.quotas_of(account).active_jobs
        if active >= quota:
            raise conflict(
                "ActiveJobAndScheduleQuotaReached",
                "The account has reached its quota of active jobs and job schedules.",
                [("ActiveJobAndScheduleQuota", str(quota))],
            )

    def _auto_pool(self, account: str, auto: BatchAutoPoolSpecification, schedule: str | None) -> str:
        """Create the auto pool of a job (or reuse its schedule's, for poolLifetimeOption jobschedule)."""
        found = self.ctx.store.schedules.get(account, "", schedule) if schedule else None
        if auto.pool_lifetime_option == BatchPoolLifetimeOption.JOB_SCHEDULE and found is not None:
            existing = found.internal.auto_pool
            if existing and self.ctx.store.pools.get(account, "", existing) is not None:
                return existing
        prefix = auto.auto_pool_id_prefix or ""
        pool_id = f"{prefix}_{uuid.uuid4()}" if prefix else str(uuid.uuid4())
        assert auto.pool is not None
        self.pools.create_auto_pool(account, pool_id, clone(auto.pool))
        return pool_id  # the schedule records it (JobScheduleService) for its next jobs

    def _job_ended(self, event: JobEnded) -> None:
        """An auto pool with poolLifetimeOption job goes away with its job, unless keepAlive."""
        job = event.job
        pool_id = job.internal.auto_pool
        auto = job.wire.pool_info.auto_pool_specification
        if not pool_id or auto is None or auto.pool_lifetime_option != BatchPoolLifetimeOption.JOB or auto.keep_alive:
            return
        self.pools.release(job.account, pool_id)  # `deleting` until its nodes have left

    # -- changes ------------------------------------------------------------------------
    def _apply(self, live: LiveJob, body: BatchJobUpdateOptions | JobReplaceBody, replace: bool) -> Job:
        check_job_settings(body)
        wire = live.entity.wire
        complete = body.all_tasks_complete_mode
        if wire.all_tasks_complete_mode == BatchAllTasksCompleteMode.TERMINATE_JOB and (
            complete == BatchAllTasksCompleteMode.NO_ACTION
        ):
            raise invalid_property(
                "onAllTasksComplete", "noaction", "onAllTasksComplete cannot be changed from terminatejob to noaction."
            )
        pool_info = body.pool_info
        if replace and pool_info is None:
            raise missing_property("poolInfo")
        if pool_info is not None:
            changes_pool = (pool_info.pool_id or "").lower() != (wire.pool_info.pool_id or "").lower()
            if changes_pool and wire.state != JobState.DISABLED:
                raise conflict("JobNotDisabled", "The pool of a job can be changed only while the job is disabled.")
        with self.ctx.scheduler.jobs.edit(live) as job:
            w = job.wire
            if replace:
                w.priority = body.priority or 0
                w.max_parallel_tasks = -1 if body.max_parallel_tasks is None else body.max_parallel_tasks
                w.allow_task_preemption = bool(body.allow_task_preemption)
                w.constraints = _constraints(body.constraints)
                w.all_tasks_complete_mode = complete or w.all_tasks_complete_mode
                w.metadata = body.metadata
            else:
                for name in ("priority", "max_parallel_tasks", "allow_task_preemption", "metadata"):
                    if getattr(body, name) is not None:
                        setattr(w, name, getattr(body, name))
                if complete is not None:
                    w.all_tasks_complete_mode = complete
                if body.constraints is not None:
                    current = w.constraints or BatchJobConstraints()
                    for name in ("max_wall_clock_time", "max_task_retry_count"):
                        if getattr(body.constraints, name) is not None:
                            setattr(current, name, getattr(body.constraints, name))
                    w.constraints = current
            if body.network_configuration is not None:
                w.network_configuration = body.network_configuration
            if pool_info is not None:
                w.pool_info = pool_info
                w.execution_info = w.execution_info or BatchJobExecutionInfo(start_time=w.creation_time)
                w.execution_info.pool_id = pool_info.pool_id
        return live.entity

    def update(self, account: str, job_id: str, body: BatchJobUpdateOptions) -> Job:
        return self._apply(self.live(account, job_id), body, replace=False)

    def replace(self, account: str, job_id: str, body: JobReplaceBody) -> Job:
        return self._apply(self.live(account, job_id), body, replace=True)

    def disable(self, account: str, job_id: str, option: DisableBatchJobOption) -> Job:
        job = self.get(account, job_id)
        state = job.wire.state
        if state in (JobState.DISABLING, JobState.DISABLED):
            return job
        if state != JobState.ACTIVE:
            raise job_busy(state) or conflict("InvalidJobState", f"The job is {state} and cannot be disabled.")
        live = self.live(account, job_id)
        self.ctx.scheduler.jobs.disable(live, option)
        return live.entity

    def enable(self, account: str, job_id: str) -> Job:
        job = self.get(account, job_id)
        state = job.wire.state
        if state in (JobState.ACTIVE, JobState.ENABLING):
            return job
        if state not in (JobState.DISABLED, JobState.DISABLING):
            raise job_busy(state) or conflict("InvalidJobState", f"The job is {state}.")
        live = self.live(account, job_id)
        self.ctx.scheduler.jobs.enable(live)
        return live.entity

    def terminate(self, account: str, job_id: str, reason: str | None) -> Job:
        live = self.live(account, job_id)
        self.ctx.scheduler.jobs.terminate(live.entity, reason or "UserTerminate")
        return self.get(account, job_id)

    def delete(self, account: str, job_id: str) -> None:
        """The job goes `deleting` until its tasks have stopped and its release tasks ran; deleting
        it again meanwhile is 409 JobBeingDeleted."""
        job = self.get(account, job_id)
        if job.wire.state == JobState.DELETING:
            raise job_busy(JobState.DELETING) or not_found("job")
        live = self.ctx.scheduler.projection.job(account, job_id)
        self.ctx.scheduler.jobs.delete(live.entity if live is not None else job)

    # -- reads of what runs ---------------------------------------------------------------
    def preparation_status(
        self, account: str, job_id: str, after: int, limit: int, flt: Filter | None = None
    ) -> Page[PreparationStatus]:
        job = self.get(account, job_id)
        if job.wire.job_preparation_task is None:
            raise conflict("JobPreparationTaskNotSpecified", "The specified job does not have a job preparation task.")
        return self.ctx.store.prep_statuses.page(account, job.key, after, limit, flt)

    def task_counts(self, account: str, job_id: str) -> BatchTaskCountsResult:
        job = self.get(account, job_id)
        tasks = dict.fromkeys(COUNTED, 0)
        slots = dict.fromkeys(COUNTED, 0)
        for row in self.ctx.store.tasks.counts(account, job.key):
            buckets = ["active" if row.state == TaskState.PREPARING else row.state]  # preparing counts as active
            if row.state == TaskState.COMPLETED and row.result in RESULT_BUCKETS:
                buckets.append(RESULT_BUCKETS[row.result])
            for bucket in buckets:
                if bucket in tasks:
                    tasks[bucket] += row.tasks
                    slots[bucket] += row.slots
        return BatchTaskCountsResult(
            task_counts=BatchTaskCounts(**tasks), task_slot_counts=BatchTaskSlotCounts(**slots)
        )
