"""Job schedules: create, read, update, replace, disable, enable, terminate, delete, and recurrence.

The service owns job schedules (their lifecycle and timeline; schedule_timeline.py says how it
moves). A schedule makes jobs `{scheduleId}:job-{n}` from its jobSpecification through
JobService. One clock timer per schedule (`ScheduleTimers`, kept by the scheduler) is armed at the
next moment that can change anything; job completions arrive as `JobEnded` events.
"""

from __future__ import annotations

import builtins
import logging
from datetime import datetime

import msgspec

from batchite.domain.entities import Job, JobSchedule
from batchite.domain.entities.records import ScheduleInternal
from batchite.domain.errors import BatchError, conflict, exists, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.domain.states import JobState, ScheduleState, transition
from batchite.scheduler.events import JobEnded
from batchite.service.conflicts import schedule_busy
from batchite.service.context import ServiceContext, require
from batchite.service.jobs import JobService, check_job_settings, check_pool_info
from batchite.service.schedule_timeline import Timing, check_schedule, step
from batchite.store.base import Page
from batchite.wire.models import (
    BatchJobSchedule,
    BatchJobScheduleConfiguration,
    BatchJobScheduleCreateOptions,
    BatchJobScheduleExecutionInfo,
    BatchJobScheduleUpdateOptions,
    BatchJobSpecification,
    BatchMetadataItem,
    RecentBatchJob,
)
from batchite.wire.types import clone

log = logging.getLogger("batchite.service.jobschedules")

ACTIVE_JOB_STATES = frozenset(
    {JobState.ACTIVE, JobState.DISABLING, JobState.DISABLED, JobState.ENABLING, JobState.TERMINATING}
)


def check_job_specification(spec: BatchJobSpecification) -> None:
    check_pool_info(spec.pool_info, "jobSpecification.poolInfo")
    check_job_settings(spec)


class JobScheduleService:
    def __init__(self, ctx: ServiceContext, jobs: JobService) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.timers = ctx.scheduler.timers
        self.timers.register(self.evaluate)
        ctx.scheduler.events.subscribe(JobEnded, self._job_ended)
        self._busy: set[tuple[str, str]] = set()
        self._finishing: set[tuple[str, str]] = set()  # schedules whose jobs are being deleted now
        self._again: set[tuple[str, str]] = set()

    # -- reads --------------------------------------------------------------------------
    def get(self, account: str, schedule_id: str) -> JobSchedule:
        return require(self.ctx.store.schedules.get(account, "", schedule_id), not_found("jobschedule"))

    def list(self, account: str, after: int, limit: int, flt: Filter | None = None) -> Page[JobSchedule]:
        return self.ctx.store.schedules.page(account, "", after, limit, flt)

    def list_jobs(self, account: str, schedule_id: str, after: int, limit: int, flt: Filter | None = None) -> Page[Job]:
        schedule = self.get(account, schedule_id)
        return self.ctx.store.jobs.page_of_schedule(account, schedule.key, after, limit, flt)

    def _save(self, schedule: JobSchedule) -> JobSchedule:
        return self.ctx.store.schedules.update(schedule)

    # -- writes -------------------------------------------------------------------------
    def create(self, account: str, body: BatchJobScheduleCreateOptions) -> JobSchedule:
        schedule_id = check_id(body.id)
        existing = self.ctx.store.schedules.get(account, "", schedule_id)
        if existing is not None:
            if existing.wire.state == ScheduleState.DELETING:
                raise schedule_busy(ScheduleState.DELETING) or exists("jobschedule")
            raise exists("jobschedule")
        self.jobs.check_active_quota(account)
        if self.ctx.store.jobs.get(account, "", schedule_id) is not None:
            raise conflict(
                "JobWithSameIdExists",
                "A job with the specified job schedule id exists. Job and job schedule cannot have the same id.",
            )
        check_schedule(body.schedule)
        check_job_specification(body.job_specification)
        now = self.ctx.clock.now()
        wire = BatchJobSchedule(
            id=schedule_id,
            display_name=body.display_name,
            creation_time=now,
            state=ScheduleState.ACTIVE,
            state_transition_time=now,
            schedule=body.schedule,
            job_specification=body.job_specification,
            execution_info=BatchJobScheduleExecutionInfo(),
            metadata=body.metadata,
        )
        internal = ScheduleInternal(next=Timing.of(body.schedule).first_run(now, None))
        self.ctx.store.schedules.insert(JobSchedule(account, "", wire, internal))
        self.evaluate(account, schedule_id)
        return self.get(account, schedule_id)

    def _modifiable(self, account: str, schedule_id: str) -> JobSchedule:
        schedule = self.get(account, schedule_id)
        busy = schedule_busy(schedule.wire.state)
        if busy is not None:
            raise busy
        return schedule

    def _apply(
        self,
        schedule: JobSchedule,
        config: BatchJobScheduleConfiguration | None,
        spec: BatchJobSpecification | None,
        metadata: builtins.list[BatchMetadataItem] | msgspec.UnsetType | None,
    ) -> JobSchedule:
        if config is not None:
            check_schedule(config)
        if spec is not None:
            check_job_specification(spec)
        wire = schedule.wire
        if spec is not None:
            wire.job_specification = spec
        if metadata is not msgspec.UNSET:
            wire.metadata = metadata
        if config is not None:
            wire.schedule = config
            schedule.internal.next = Timing.of(config).first_run(self.ctx.clock.now(), schedule.internal.last_due)
            self._show_next(schedule)
        self._save(schedule)
        self.evaluate(schedule.account, schedule.id)
        return self.get(schedule.account, schedule.id)

    def update(self, account: str, schedule_id: str, body: BatchJobScheduleUpdateOptions) -> JobSchedule:
        """PATCH: only the properties given change (each one as a whole)."""
        schedule = self._modifiable(account, schedule_id)
        metadata = body.metadata if body.metadata is not None else msgspec.UNSET
        return self._apply(schedule, body.schedule, body.job_specification, metadata)

    def replace(self, account: str, schedule_id: str, body: BatchJobScheduleUpdateOptions) -> JobSchedule:
        """PUT: every updatable property is set; a missing schedule is the default (one job, now)."""
        schedule = self._modifiable(account, schedule_id)
        if body.job_specification is None:
            raise missing_property("jobSpecification")
        config = body.schedule or BatchJobScheduleConfiguration()
        return self._apply(schedule, config, body.job_specification, body.metadata)

    def disable(self, account: str, schedule_id: str) -> JobSchedule:
        schedule = self.get(account, schedule_id)
        state = schedule.wire.state
        if state == ScheduleState.DISABLED:
            return schedule
        if state != ScheduleState.ACTIVE:
            raise schedule_busy(state) or not_found("jobschedule")
        transition(schedule.wire, ScheduleState.DISABLED, self.ctx.clock.now())
        schedule.internal.pending = None
        self.timers.cancel(account, schedule.id)
        return self._save(schedule)

    def enable(self, account: str, schedule_id: str) -> JobSchedule:
        schedule = self.get(account, schedule_id)
        state = schedule.wire.state
        if state == ScheduleState.ACTIVE:
            return schedule
        if state != ScheduleState.DISABLED:
            raise schedule_busy(state) or not_found("jobschedule")
        now = self.ctx.clock.now()
        transition(schedule.wire, ScheduleState.ACTIVE, now)
        schedule.internal.next = Timing.of(schedule.wire.schedule).skip_missed(schedule.internal.next, now)
        self._show_next(schedule)
        self._save(schedule)
        self.evaluate(account, schedule.id)
        return self.get(account, schedule.id)

    def terminate(self, account: str, schedule_id: str) -> JobSchedule:
        schedule = self.get(account, schedule_id)
        state = schedule.wire.state
        if state == ScheduleState.TERMINATING:
            return schedule
        if state in (ScheduleState.COMPLETED, ScheduleState.DELETING):
            raise schedule_busy(state) or not_found("jobschedule")
        transition(schedule.wire, ScheduleState.TERMINATING, self.ctx.clock.now())
        self._save(schedule)
        self._finish_terminate(schedule)
        return self.get(account, schedule.id)

    def _finish_terminate(self, schedule: JobSchedule) -> None:
        self.timers.cancel(schedule.account, schedule.id)
        job = self._active_job(schedule)
        if job is not None and job.wire.state not in (JobState.TERMINATING, JobState.DELETING):
            self.jobs.terminate(schedule.account, job.id, "TerminateJobSchedule")
        self._complete(self.get(schedule.account, schedule.id))

    def delete(self, account: str, schedule_id: str) -> None:
        """The schedule is `deleting` until every job it made is gone (409 JobScheduleBeingDeleted
        meanwhile, for deleting it again too), then it goes."""
        schedule = self.get(account, schedule_id)
        if schedule.wire.state == ScheduleState.DELETING:  # as a pool or a job being deleted
            raise schedule_busy(ScheduleState.DELETING) or not_found("jobschedule")
        transition(schedule.wire, ScheduleState.DELETING, self.ctx.clock.now())
        self._save(schedule)
        self._finish_delete(schedule)

    def _finish_delete(self, schedule: JobSchedule) -> None:
        """Its jobs are deleted; the schedule stays `deleting` until the last of them is gone."""
        key = (schedule.account, schedule.key)
        if key in self._finishing:  # a job deleted below went at once and came back here
            return
        self._finishing.add(key)
        try:
            self.timers.cancel(schedule.account, schedule.id)
            for job in list(self.ctx.store.jobs.of_schedule(schedule.account, schedule.key)):
                if job.wire.state != JobState.DELETING:  # one being deleted goes on its own
                    self.jobs.delete(schedule.account, job.id)
        finally:
            self._finishing.discard(key)
        if any(True for _ in self.ctx.store.jobs.of_schedule(schedule.account, schedule.key)):
            return  # _job_ended comes back here when a job of it is gone
        self._release_auto_pool(schedule)
        self.ctx.store.schedules.delete(schedule.account, "", schedule.id)

    def _release_auto_pool(self, schedule: JobSchedule) -> None:
        """An auto pool with poolLifetimeOption jobschedule lives as long as its schedule (unless keepAlive)."""
        pool_id = schedule.internal.auto_pool
        auto = schedule.wire.job_specification.pool_info.auto_pool_specification
        keep = auto is not None and auto.keep_alive
        if pool_id and not keep:
            self.jobs.pools.release(schedule.account, pool_id)

    # -- time and events ----------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: finish what was under way and re-arm every timer."""
        for schedule in list(self.ctx.store.schedules.every()):
            state = schedule.wire.state
            if state == ScheduleState.DELETING:
                self._finish_delete(schedule)
            elif state == ScheduleState.TERMINATING:
                self._finish_terminate(schedule)
            elif state == ScheduleState.ACTIVE:
                self.evaluate(schedule.account, schedule.id)

    def _job_ended(self, event: JobEnded) -> None:
        """A job that a schedule made completed or went away: the schedule may move on (or, when
        it is being deleted and this was its last job, go)."""
        if not event.job.internal.schedule:
            return
        schedule = self.ctx.store.schedules.get(event.job.account, "", event.job.internal.schedule.lower())
        if schedule is not None and schedule.wire.state == ScheduleState.DELETING:
            if event.deleted:
                self._finish_delete(schedule)
            return
        self.evaluate(event.job.account, event.job.internal.schedule)

    def evaluate(self, account: str, schedule_key: str) -> None:
        """Bring a schedule up to now: make a due job, complete it, arm its timer. Re-entrant safe."""
        key = (account, schedule_key.lower())
        if key in self._busy:  # a job we are making completed at once: look again when done
            self._again.add(key)
            return
        self._busy.add(key)
        try:
            while True:
                self._again.discard(key)
                self._evaluate_once(account, schedule_key)
                if key not in self._again:
                    break
        finally:
            self._busy.discard(key)

    def _evaluate_once(self, account: str, schedule_key: str) -> None:
        schedule = self.ctx.store.schedules.get(account, "", schedule_key)
        if schedule is None or schedule.wire.state != ScheduleState.ACTIVE:
            self.timers.cancel(account, schedule_key)
            return
        before = msgspec.json.encode((schedule.internal, schedule.wire.execution_info))
        now = self.ctx.clock.now()
        active = self._active_job(schedule)
        moved = step(
            Timing.of(schedule.wire.schedule),
            schedule.internal.next,
            schedule.internal.pending,
            now,
            active is not None,
        )
        schedule.internal.next, schedule.internal.pending = moved.next, moved.pending
        self._show_next(schedule)
        if moved.due is not None:
            active = self._make_job(schedule, moved.due) or active
        if msgspec.json.encode((schedule.internal, schedule.wire.execution_info)) != before:
            self._save(schedule)
        if moved.complete(active is not None):
            self._complete(schedule)
        elif moved.wake is not None:
            self.timers.arm(account, schedule.id, moved.wake)
        else:
            self.timers.cancel(account, schedule.id)

    def _active_job(self, schedule: JobSchedule) -> Job | None:
        recent = schedule.internal.recent
        job = self.ctx.store.jobs.get(schedule.account, "", recent) if recent else None
        return job if job is not None and job.wire.state in ACTIVE_JOB_STATES else None

    def _make_job(self, schedule: JobSchedule, due: datetime) -> Job | None:
        internal = schedule.internal
        internal.jobs += 1
        internal.last_due = due
        job_id = f"{schedule.id}:job-{internal.jobs}"
        try:
            job = self.jobs.create(
                schedule.account, clone(schedule.wire.job_specification), job_id=job_id, schedule=schedule.key
            )
        except BatchError as err:
            log.warning("job schedule %s: could not create job %s: %s %s", schedule.id, job_id, err.code, err.message)
            return None
        internal.recent = job.id
        if job.internal.auto_pool:  # poolLifetimeOption jobschedule: the schedule's jobs share it
            internal.auto_pool = job.internal.auto_pool
        info = schedule.wire.execution_info
        info.recent_job = RecentBatchJob(id=job.id, url=self.ctx.urls.job(schedule.account, job.id))
        return self.ctx.store.jobs.get(job.account, "", job.id)

    def _show_next(self, schedule: JobSchedule) -> None:
        state = schedule.wire.state
        shown = state in (ScheduleState.ACTIVE, ScheduleState.DISABLED)
        schedule.wire.execution_info.next_run_time = schedule.internal.next if shown else None

    def _complete(self, schedule: JobSchedule) -> None:
        now = self.ctx.clock.now()
        self.timers.cancel(schedule.account, schedule.id)
        transition(schedule.wire, ScheduleState.COMPLETED, now)
        schedule.wire.execution_info.end_time = now
        schedule.internal.next = schedule.internal.pending = None
        self._show_next(schedule)
        self._save(schedule)
        self._release_auto_pool(schedule)
