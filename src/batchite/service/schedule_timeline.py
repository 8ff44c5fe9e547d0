"""A job schedule's timeline, as pure functions of its schedule, its state and the time.

- `next`: the next run time; the first is max(now, doNotRunUntil), then every recurrenceInterval
  after it (no recurrenceInterval: exactly one run).
- `pending`: the run that fell due but has no job yet, because the previous job is still active
  (at most one active job per schedule). It lapses at the end of its start window, which never
  reaches past the next run (a due run is not carried forward into the next interval).
- Runs that fall due while the schedule is disabled are skipped. After doNotRunAfter no job is
  created; the schedule completes once no job can follow and none is active (a recurring schedule
  with doNotRunAfter: once that time has passed and no job is active).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from batchite.clock import to_utc
from batchite.domain.errors import invalid_property
from batchite.wire.models import BatchJobScheduleConfiguration

MIN_INTERVAL = timedelta(minutes=1)


def _span(value: timedelta | None) -> timedelta | None:
    """A duration; None when absent or so long that it never ends (the "unlimited" literal)."""
    return value if value is not None and not getattr(value, "unlimited", False) else None


@dataclass(frozen=True)
class Timing:
    """The `schedule` of a job schedule."""

    not_before: datetime | None
    not_after: datetime | None
    window: timedelta | None
    every: timedelta | None

    @classmethod
    def of(cls, schedule: BatchJobScheduleConfiguration | None) -> Timing:
        s = schedule or BatchJobScheduleConfiguration()
        return cls(
            to_utc(s.do_not_run_until) if s.do_not_run_until else None,
            to_utc(s.do_not_run_after) if s.do_not_run_after else None,
            _span(s.start_window),
            _span(s.recurrence_interval),
        )

    def window_end(self, due: datetime) -> datetime | None:
        ends = [due + span for span in (self.window, self.every) if span is not None]
        return min(ends) if ends else None

    def first_run(self, now: datetime, last_due: datetime | None) -> datetime:
        """The first run of a new schedule. A recurring one keeps its rhythm from the last job made
        (two jobs start at least recurrenceInterval apart); otherwise it runs at once, or at
        doNotRunUntil (the default schedule is "a single job scheduled to run immediately")."""
        if last_due is not None and self.every is not None:
            run = last_due + self.every
            return max(run, self.not_before) if self.not_before else run
        return max(now, self.not_before) if self.not_before else now

    def skip_missed(self, nxt: datetime | None, now: datetime) -> datetime | None:
        """On enable: runs that fell due while the schedule was disabled are skipped."""
        if nxt is None or nxt >= now:
            return nxt
        return nxt + ((now - nxt) // self.every + 1) * self.every if self.every else None


@dataclass(frozen=True)
class Step:
    """Where a schedule stands now: its next run, a due run waiting for a job, what to do."""

    next: datetime | None
    pending: datetime | None
    due: datetime | None  # a run that is due now and may have its job
    deadline_passed: bool  # no later run can come (no recurrence, no doNotRunAfter, or past it)
    wake: datetime | None  # when to look again

    def complete(self, active: bool) -> bool:
        """Nothing more can happen: no run to come or waiting, and no job active."""
        return self.next is None and self.pending is None and not active and self.deadline_passed


def step(timing: Timing, nxt: datetime | None, pending: datetime | None, now: datetime, active: bool) -> Step:
    """Bring a schedule's timeline up to `now`; `active`: one of its jobs is still active."""
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
    due = pending if pending is not None and not active else None
    if due is not None:
        pending = None
    deadline_passed = timing.every is None or timing.not_after is None or now >= timing.not_after
    wake = [t for t in (nxt, timing.window_end(pending) if pending else None) if t is not None]
    if timing.not_after is not None and now < timing.not_after:
        wake.append(timing.not_after)
    return Step(nxt, pending, due, deadline_passed, min(wake) if wake else None)


def check_schedule(schedule: BatchJobScheduleConfiguration) -> None:
    for name, span in (("recurrenceInterval", schedule.recurrence_interval), ("startWindow", schedule.start_window)):
        if span is not None and span < MIN_INTERVAL:
            raise invalid_property(
                name, span.wire() if hasattr(span, "wire") else span, "The minimum value is 1 minute."
            )
