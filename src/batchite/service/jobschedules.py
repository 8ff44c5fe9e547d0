"""Job schedules: create, read, update, replace, disable, enable, terminate, delete, and recurrence.

A schedule makes jobs `{scheduleId}:job-{n}` from its jobSpecification through JobService. Its
timeline (kept in the record's `extra`, beside the wire document) is:

- `next`: the next run time; the first is max(now, doNotRunUntil), then every recurrenceInterval
  after it (no recurrenceInterval: exactly one run).
- `pending`: the run that fell due but has no job yet, because the previous job is still active
  (at most one active job per schedule). It lapses at the end of its start window, which never
  reaches past the next run (a due run is not carried forward into the next interval).
- Runs that fall due while the schedule is disabled are skipped. After doNotRunAfter no job is
  created; the schedule completes once no job can follow and none is active (a recurring schedule
  with doNotRunAfter: once that time has passed and no job is active).

One clock timer per schedule (`ScheduleTimers`, owned by the scheduler) is armed at the next
moment that can change anything; job completions arrive as scheduler events.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from batchite.clock import format_time, parse_duration, parse_time
from batchite.domain import states
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.service.context import Page, ServiceContext, require
from batchite.service.jobs import JobService, check_job_settings, check_pool_info
from batchite.store.base import Record

log = logging.getLogger("batchite.service.jobschedules")

KIND = "jobschedule"
MIN_INTERVAL = timedelta(minutes=1)
FOREVER = timedelta(days=365 * 1000)
ACTIVE_JOB_STATES = frozenset({"active", "disabling", "disabled", "enabling", "terminating"})
BUSY_STATES = {
    "completed": ("JobScheduleCompleted", "The specified job schedule is already in completed state."),
    "terminating": ("JobScheduleBeingTerminated", "The specified job schedule is being terminated."),
    "deleting": (
        "JobScheduleBeingDeleted",
        "The specified job schedule has been marked for deletion and is being reclaimed.",
    ),
}


def _time(value: Any) -> datetime | None:
    return parse_time(str(value)) if value else None


def _span(value: Any) -> timedelta | None:
    """A duration; None when absent or so long that it never ends (the "unlimited" literal)."""
    span = parse_duration(value) if value else None
    return span if span is not None and span < FOREVER else None


@dataclass(frozen=True)
class Timing:
    """The `schedule` of a job schedule, parsed."""

    not_before: datetime | None
    not_after: datetime | None
    window: timedelta | None
    every: timedelta | None

    @classmethod
    def of(cls, schedule: dict[str, Any] | None) -> Timing:
        s = schedule or {}
        return cls(
            _time(s.get("doNotRunUntil")),
            _time(s.get("doNotRunAfter")),
            _span(s.get("startWindow")),
            _span(s.get("recurrenceInterval")),
        )

    def window_end(self, due: datetime) -> datetime | None:
        ends = [due + span for span in (self.window, self.every) if span is not None]
        return min(ends) if ends else None

    def next_run(self, now: datetime, last_due: datetime | None) -> datetime:
        """The first run of a new schedule. A recurring one keeps its rhythm from the last job made
        (two jobs start at least recurrenceInterval apart); otherwise it runs at once, or at
        doNotRunUntil (the default schedule is "a single job scheduled to run immediately")."""
        if last_due is not None and self.every is not None:
            run = last_due + self.every
            return max(run, self.not_before) if self.not_before else run
        return max(now, self.not_before) if self.not_before else now


def check_schedule(schedule: dict[str, Any]) -> None:
    for name in ("recurrenceInterval", "startWindow"):
        span = parse_duration(schedule.get(name))
        if span is not None and span < MIN_INTERVAL:
            raise invalid_property(name, schedule.get(name), "The minimum value is 1 minute.")


def check_job_specification(spec: dict[str, Any]) -> None:
    check_pool_info(spec.get("poolInfo") or {}, "jobSpecification.poolInfo")
    check_job_settings(spec)


class JobScheduleService:
    def __init__(self, ctx: ServiceContext, jobs: JobService) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.timers = ctx.scheduler.schedule_timers
        self._busy: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()

    # -- reads --------------------------------------------------------------------------
    def get(self, account: str, schedule_id: str) -> Record:
        return require(self.ctx.store.get(account, KIND, "", schedule_id), not_found("jobschedule"))

    def list(self, account: str, after: int, limit: int, flt: Filter | None = None) -> Page:
        return self.ctx.page(account, KIND, "", after, limit, flt)

    def list_jobs(self, account: str, schedule_id: str, after: int, limit: int, flt: Filter | None = None) -> Page:
        rec = self.get(account, schedule_id)
        return self.jobs.list(account, after, limit, flt, "json_extract(extra, '$.schedule') = ?", (rec.key,))

    # -- writes -------------------------------------------------------------------------
    def create(self, account: str, body: dict[str, Any]) -> Record:
        schedule_id = check_id(body["id"])
        if self.ctx.store.get(account, KIND, "", schedule_id) is not None:
            raise exists("jobschedule")
        self.jobs.check_active_quota(account)
        if self.ctx.store.get(account, "job", "", schedule_id) is not None:
            raise conflict(
                "JobWithSameIdExists",
                "A job with the specified job schedule id exists. Job and job schedule cannot have the same id.",
            )
        schedule = copy.deepcopy(body.get("schedule") or {})
        spec = copy.deepcopy(body["jobSpecification"])
        check_schedule(schedule)
        check_job_specification(spec)
        now = self.ctx.clock.now()
        stamp = format_time(now)
        doc: dict[str, Any] = {"id": schedule_id}
        if body.get("displayName") is not None:
            doc["displayName"] = body["displayName"]
        doc.update(
            {
                "creationTime": stamp,
                "state": "active",
                "stateTransitionTime": stamp,
                "schedule": schedule,
                "jobSpecification": spec,
                "executionInfo": {},
            }
        )
        if body.get("metadata") is not None:
            doc["metadata"] = copy.deepcopy(body["metadata"])
        first = Timing.of(schedule).next_run(now, None)
        extra = {"jobs": 0, "next": format_time(first), "pending": None, "lastDue": None}
        self.ctx.store.insert(Record(account, KIND, "", schedule_id, doc, extra=extra))
        self.evaluate(account, schedule_id)
        return self.get(account, schedule_id)

    def _modifiable(self, account: str, schedule_id: str) -> Record:
        rec = self.get(account, schedule_id)
        busy = BUSY_STATES.get(rec.state)
        if busy:
            raise conflict(*busy)
        return rec

    def _apply(self, rec: Record, changes: dict[str, Any]) -> Record:
        if "schedule" in changes:
            check_schedule(changes["schedule"])
        if "jobSpecification" in changes:
            check_job_specification(changes["jobSpecification"])
        for name, value in changes.items():
            if value is None:
                rec.doc.pop(name, None)
            else:
                rec.doc[name] = copy.deepcopy(value)
        if "schedule" in changes:
            first = Timing.of(rec.doc.get("schedule")).next_run(self.ctx.clock.now(), _time(rec.extra.get("lastDue")))
            rec.extra["next"] = format_time(first)
            self._show_next(rec)
        self.ctx.store.put(rec)
        self.evaluate(rec.account, rec.id)
        return self.get(rec.account, rec.id)

    def update(self, account: str, schedule_id: str, body: dict[str, Any]) -> Record:
        """PATCH: only the properties given change (each one as a whole)."""
        rec = self._modifiable(account, schedule_id)
        changes = {n: body[n] for n in ("schedule", "jobSpecification", "metadata") if body.get(n) is not None}
        return self._apply(rec, changes)

    def replace(self, account: str, schedule_id: str, body: dict[str, Any]) -> Record:
        """PUT: every updatable property is set; a missing schedule is the default (one job, now)."""
        rec = self._modifiable(account, schedule_id)
        if body.get("jobSpecification") is None:
            raise missing_property("jobSpecification")
        changes = {
            "schedule": body.get("schedule") or {},
            "jobSpecification": body["jobSpecification"],
            "metadata": body.get("metadata"),
        }
        return self._apply(rec, changes)

    def disable(self, account: str, schedule_id: str) -> Record:
        rec = self.get(account, schedule_id)
        if rec.state == "disabled":
            return rec
        if rec.state != "active":
            raise conflict(*BUSY_STATES[rec.state])
        states.transition(states.JOB_SCHEDULE, rec.doc, "disabled", self.ctx.clock.now())
        rec.extra["pending"] = None
        self.timers.cancel(account, rec.id)
        return self.ctx.store.put(rec)

    def enable(self, account: str, schedule_id: str) -> Record:
        rec = self.get(account, schedule_id)
        if rec.state == "active":
            return rec
        if rec.state != "disabled":
            raise conflict(*BUSY_STATES[rec.state])
        now = self.ctx.clock.now()
        states.transition(states.JOB_SCHEDULE, rec.doc, "active", now)
        nxt, every = _time(rec.extra.get("next")), Timing.of(rec.doc.get("schedule")).every
        if nxt is not None and nxt < now:  # runs that fell due while disabled are skipped
            nxt = nxt + ((now - nxt) // every + 1) * every if every else None
            rec.extra["next"] = format_time(nxt) if nxt else None
        self._show_next(rec)
        self.ctx.store.put(rec)
        self.evaluate(account, rec.id)
        return self.get(account, rec.id)

    def terminate(self, account: str, schedule_id: str) -> Record:
        rec = self.get(account, schedule_id)
        if rec.state == "terminating":
            return rec
        if rec.state in ("completed", "deleting"):
            raise conflict(*BUSY_STATES[rec.state])
        states.transition(states.JOB_SCHEDULE, rec.doc, "terminating", self.ctx.clock.now())
        self.ctx.store.put(rec)
        self._finish_terminate(rec)
        return self.get(account, rec.id)

    def _finish_terminate(self, rec: Record) -> None:
        self.timers.cancel(rec.account, rec.id)
        job = self._active_job(rec)
        if job is not None and job.state not in ("terminating", "deleting"):
            self.jobs.terminate(rec.account, job.id, "TerminateJobSchedule")
        rec = self.get(rec.account, rec.id)
        self._complete(rec)

    def delete(self, account: str, schedule_id: str) -> None:
        """The schedule and every job it made go away."""
        rec = self.get(account, schedule_id)
        if rec.state != "deleting":
            states.transition(states.JOB_SCHEDULE, rec.doc, "deleting", self.ctx.clock.now())
            self.ctx.store.put(rec)
        self._finish_delete(rec)

    def _finish_delete(self, rec: Record) -> None:
        self.timers.cancel(rec.account, rec.id)
        made = self.ctx.store.list(
            rec.account, "job", "", where="json_extract(extra, '$.schedule') = ?", params=(rec.key,)
        )
        for job in made:
            self.jobs.delete(rec.account, job.id)
        self._release_auto_pool(rec)
        self.ctx.store.delete(rec.account, KIND, "", rec.id)

    def _release_auto_pool(self, rec: Record) -> None:
        """An auto pool with poolLifetimeOption jobschedule lives as long as its schedule (unless keepAlive)."""
        pool_id = rec.extra.get("autoPool")
        auto = ((rec.doc.get("jobSpecification") or {}).get("poolInfo") or {}).get("autoPoolSpecification") or {}
        if pool_id and not auto.get("keepAlive") and self.ctx.store.get(rec.account, "pool", "", pool_id) is not None:
            self.jobs.pools.delete(rec.account, str(pool_id))

    # -- time and events ----------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: finish what was under way and re-arm every timer."""
        for rec in list(self.ctx.store.all(KIND)):
            if rec.state == "deleting":
                self._finish_delete(rec)
            elif rec.state == "terminating":
                self._finish_terminate(rec)
            elif rec.state == "active":
                self.evaluate(rec.account, rec.id)

    def on_event(self, event: str, rec: Record) -> None:
        """Scheduler listener: a job that a schedule made completed or went away."""
        if rec.kind == "job" and event in ("job.completed", "job.deleted") and rec.extra.get("schedule"):
            self.evaluate(rec.account, str(rec.extra["schedule"]))

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
        rec = self.ctx.store.get(account, KIND, "", schedule_key)
        if rec is None or rec.state != "active":
            self.timers.cancel(account, schedule_key)
            return
        before = copy.deepcopy((rec.doc, rec.extra))
        timing = Timing.of(rec.doc.get("schedule"))
        now = self.ctx.clock.now()
        x = rec.extra
        nxt = _time(x.get("next"))
        pending = _time(x.get("pending"))
        if nxt is not None and nxt <= now:  # roll: missed runs collapse into the latest one
            if timing.every:
                pending = nxt + ((now - nxt) // timing.every) * timing.every
                nxt = pending + timing.every
            else:
                pending, nxt = nxt, None
        if timing.not_after is not None:
            if nxt is not None and nxt > timing.not_after:
                nxt = None
            if pending is not None and now > timing.not_after:
                pending = None
        if pending is not None:
            end = timing.window_end(pending)
            if end is not None and now >= end:  # the start window passed: this run is lost
                pending = None
        active = self._active_job(rec)
        due, make = pending, pending is not None and active is None
        if make:
            pending = None
        x["next"] = format_time(nxt) if nxt else None
        x["pending"] = format_time(pending) if pending else None
        self._show_next(rec)
        if make and due is not None:
            active = self._make_job(rec, due) or active
        if (rec.doc, rec.extra) != before:
            self.ctx.store.put(rec)
        deadline_passed = timing.every is None or timing.not_after is None or now >= timing.not_after
        if nxt is None and pending is None and active is None and deadline_passed:
            self._complete(rec)
            return
        wake = [t for t in (nxt, timing.window_end(pending) if pending else None) if t is not None]
        if timing.not_after is not None and now < timing.not_after:
            wake.append(timing.not_after)
        if wake:
            self.timers.arm(account, rec.id, min(wake))
        else:
            self.timers.cancel(account, rec.id)

    def _active_job(self, rec: Record) -> Record | None:
        recent = rec.extra.get("recent")
        job = self.ctx.store.get(rec.account, "job", "", str(recent)) if recent else None
        return job if job is not None and job.state in ACTIVE_JOB_STATES else None

    def _make_job(self, rec: Record, due: datetime) -> Record | None:
        n = int(rec.extra.get("jobs") or 0) + 1
        job_id = f"{rec.id}:job-{n}"
        rec.extra["jobs"] = n
        rec.extra["lastDue"] = format_time(due)
        body = copy.deepcopy(rec.doc.get("jobSpecification") or {})
        body["id"] = job_id
        try:
            job = self.jobs.create(rec.account, body, schedule=rec.key)
        except BatchError as err:
            log.warning("job schedule %s: could not create job %s: %s %s", rec.id, job_id, err.code, err.message)
            return None
        rec.extra["recent"] = job.id
        if job.extra.get("autoPool"):  # poolLifetimeOption jobschedule: the schedule's jobs share it
            rec.extra["autoPool"] = job.extra["autoPool"]
        url = f"{self.ctx.account_url(rec.account)}/jobs/{job.id}"
        rec.doc.setdefault("executionInfo", {})["recentJob"] = {"id": job.id, "url": url}
        return job

    def _show_next(self, rec: Record) -> None:
        info = rec.doc.setdefault("executionInfo", {})
        if rec.extra.get("next") and rec.state in ("active", "disabled"):
            info["nextRunTime"] = rec.extra["next"]
        else:
            info.pop("nextRunTime", None)

    def _complete(self, rec: Record) -> None:
        now = self.ctx.clock.now()
        self.timers.cancel(rec.account, rec.id)
        states.transition(states.JOB_SCHEDULE, rec.doc, "completed", now)
        rec.doc.setdefault("executionInfo", {})["endTime"] = format_time(now)
        rec.extra.update({"next": None, "pending": None})
        self._show_next(rec)
        self.ctx.store.put(rec)
        self._release_auto_pool(rec)
