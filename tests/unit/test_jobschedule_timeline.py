"""Job schedule recurrence with a hand-driven clock: runs, skips, start windows, completion, restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from batchite.clock import Clock, format_time
from batchite.compute.local import LocalBackend
from batchite.service import BatchService
from batchite.service.accounts import DEV_ACCOUNT_KEY, Account, AccountRegistry
from batchite.store.sqlite import SqliteStore

ACC = "acc"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@dataclass
class FakeHandle:
    when: datetime
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock(Clock):
    """Service time moves only when a test advances it; timers fire in order on the way."""

    def __init__(self, start: datetime) -> None:
        super().__init__()
        self._now = start
        self.handles: list[FakeHandle] = []

    def now(self) -> datetime:
        return self._now

    def call_later(self, delay: timedelta, callback: Callable[[], None]) -> Any:
        handle = FakeHandle(self._now + delay, callback)
        self.handles.append(handle)
        return handle

    def advance(self, delta: timedelta) -> None:
        target = self._now + delta
        while True:
            live = [h for h in self.handles if not h.cancelled and h.when <= target]
            if not live:
                break
            handle = min(live, key=lambda h: h.when)
            self.handles.remove(handle)
            self._now = max(self._now, handle.when)
            handle.callback()
        self._now = target


class Env:
    def __init__(self, root: Path, clock: FakeClock) -> None:
        self.root = root
        self.clock = clock
        self.batch = self._open()

    def _open(self) -> BatchService:
        store = SqliteStore(self.root / "batchite.db", self.clock)
        accounts = AccountRegistry([Account(ACC, [DEV_ACCOUNT_KEY])])
        batch = BatchService(store, LocalBackend(self.root / "nodes"), accounts, "http://batchite.test", self.clock)
        batch.start()
        return batch

    def restart(self, downtime: timedelta) -> None:
        self.batch.scheduler.shutdown()
        self.batch.store.close()
        self.clock.handles.clear()
        self.clock._now += downtime
        self.batch = self._open()

    def create(self, sid: str, schedule: dict[str, Any], **spec: Any) -> dict[str, Any]:
        body = {"id": sid, "schedule": schedule, "jobSpecification": {"poolInfo": {"poolId": "p"}, **spec}}
        return self.batch.job_schedules.create(ACC, body).doc

    def schedule(self, sid: str) -> dict[str, Any]:
        return self.batch.job_schedules.get(ACC, sid).doc

    def jobs(self, sid: str) -> list[tuple[str, str]]:
        page = self.batch.job_schedules.list_jobs(ACC, sid, 0, 1000)
        return [(r.id, r.state) for r in page.records]

    def finish(self, job_id: str) -> None:
        self.batch.jobs.terminate(ACC, job_id, None)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path, FakeClock(T0))
    yield e
    e.batch.scheduler.shutdown()
    e.batch.store.close()


def test_recurring_schedule_makes_a_job_each_interval(env: Env) -> None:
    doc = env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    assert doc["executionInfo"]["recentJob"]["id"] == "s:job-1"
    assert doc["executionInfo"]["recentJob"]["url"] == "http://batchite.test/jobs/s:job-1"
    assert doc["executionInfo"]["nextRunTime"] == format_time(T0 + MIN)
    env.clock.advance(3 * MIN + timedelta(seconds=30))
    assert [j for j, _ in env.jobs("s")] == ["s:job-1", "s:job-2", "s:job-3", "s:job-4"]
    assert env.schedule("s")["executionInfo"]["nextRunTime"] == format_time(T0 + 4 * MIN)
    assert env.schedule("s")["state"] == "active"
    assert env.batch.scheduler.schedule_timers.armed(ACC, "s") == T0 + 4 * MIN


def test_one_active_job_at_a_time_and_a_late_run_starts_when_it_ends(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"})
    env.clock.advance(90 * timedelta(seconds=1))
    assert env.jobs("s") == [("s:job-1", "active")]
    env.finish("s:job-1")  # the run due at T0+1m is still within its window (until T0+2m)
    assert env.jobs("s") == [("s:job-1", "completed"), ("s:job-2", "active")]
    assert env.batch.jobs.get(ACC, "s:job-1").doc["executionInfo"]["terminateReason"] == "UserTerminate"


def test_a_run_not_started_within_its_start_window_is_skipped(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT2M", "startWindow": "PT1M"})
    env.clock.advance(timedelta(minutes=3, seconds=30))  # run due at 2m lapsed at 3m
    env.finish("s:job-1")
    assert [j for j, _ in env.jobs("s")] == ["s:job-1"]
    env.clock.advance(timedelta(seconds=30))  # 4m: the next run
    assert [j for j, _ in env.jobs("s")] == ["s:job-1", "s:job-2"]


def test_one_off_schedule_completes_when_its_job_completes(env: Env) -> None:
    doc = env.create("s", {})
    assert "nextRunTime" not in doc["executionInfo"]
    assert env.jobs("s") == [("s:job-1", "active")]
    env.clock.advance(10 * MIN)
    assert env.schedule("s")["state"] == "active"
    env.clock.advance(MIN)
    env.finish("s:job-1")
    doc = env.schedule("s")
    assert doc["state"] == "completed"
    assert doc["executionInfo"]["endTime"] == format_time(T0 + 11 * MIN)
    assert env.batch.scheduler.schedule_timers.armed(ACC, "s") is None


def test_do_not_run_until_delays_the_first_job(env: Env) -> None:
    start = T0 + 5 * MIN
    doc = env.create("s", {"doNotRunUntil": format_time(start)}, onAllTasksComplete="terminatejob")
    assert doc["executionInfo"]["nextRunTime"] == format_time(start)
    env.clock.advance(4 * MIN)
    assert env.jobs("s") == []
    env.clock.advance(MIN)
    assert env.jobs("s") == [("s:job-1", "completed")]
    assert env.schedule("s")["state"] == "completed"


def test_do_not_run_after_ends_a_recurring_schedule(env: Env) -> None:
    end = T0 + timedelta(minutes=2, seconds=30)
    env.create(
        "s", {"recurrenceInterval": "PT1M", "doNotRunAfter": format_time(end)}, onAllTasksComplete="terminatejob"
    )
    env.clock.advance(2 * MIN)
    assert len(env.jobs("s")) == 3
    assert env.schedule("s")["state"] == "active"
    env.clock.advance(MIN)
    doc = env.schedule("s")
    assert len(env.jobs("s")) == 3
    assert doc["state"] == "completed"
    assert doc["executionInfo"]["endTime"] == format_time(end)


def test_disabled_schedule_skips_runs_and_resumes_at_the_next_one(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    env.batch.job_schedules.disable(ACC, "s")
    env.clock.advance(timedelta(minutes=2, seconds=30))
    assert len(env.jobs("s")) == 1
    env.batch.job_schedules.enable(ACC, "s")
    assert len(env.jobs("s")) == 1
    assert env.schedule("s")["executionInfo"]["nextRunTime"] == format_time(T0 + 3 * MIN)
    env.clock.advance(MIN)
    assert len(env.jobs("s")) == 2


def test_terminate_ends_the_active_job(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"})
    doc = env.batch.job_schedules.terminate(ACC, "s").doc
    assert doc["state"] == "completed"
    assert doc["previousState"] == "terminating"
    job = env.batch.jobs.get(ACC, "s:job-1").doc
    assert job["state"] == "completed"
    assert job["executionInfo"]["terminateReason"] == "TerminateJobSchedule"
    env.clock.advance(5 * MIN)
    assert len(env.jobs("s")) == 1
    assert env.batch.scheduler.schedule_timers.armed(ACC, "s") is None


def test_restart_re_arms_timers_and_makes_the_latest_missed_run(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    env.create("later", {"doNotRunUntil": format_time(T0 + 30 * MIN)}, onAllTasksComplete="terminatejob")
    env.restart(timedelta(minutes=5, seconds=10))
    # missed runs collapse into one: the one due at 5m, still inside its window
    assert [j for j, _ in env.jobs("s")] == ["s:job-1", "s:job-2"]
    assert env.schedule("s")["executionInfo"]["nextRunTime"] == format_time(T0 + 6 * MIN)
    env.clock.advance(MIN)
    assert len(env.jobs("s")) == 3
    env.clock.advance(30 * MIN)
    assert env.jobs("later") == [("later:job-1", "completed")]


def test_update_changes_the_timeline_and_replace_resets_it(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT10M"}, onAllTasksComplete="terminatejob")
    env.batch.job_schedules.update(ACC, "s", {"schedule": {"recurrenceInterval": "PT1M"}})
    assert env.schedule("s")["executionInfo"]["nextRunTime"] == format_time(T0 + MIN)
    assert env.schedule("s")["jobSpecification"]["onAllTasksComplete"] == "terminatejob"
    env.clock.advance(MIN)
    assert len(env.jobs("s")) == 2
    # replace without a schedule: the default schedule, a single job to run at once
    env.batch.job_schedules.replace(ACC, "s", {"jobSpecification": {"poolInfo": {"poolId": "p"}}})
    doc = env.schedule("s")
    assert doc["schedule"] == {}
    assert "onAllTasksComplete" not in doc["jobSpecification"]
    assert env.jobs("s")[-1] == ("s:job-3", "active")
    assert env.batch.jobs.get(ACC, "s:job-2").doc["onAllTasksComplete"] == "terminatejob"
    assert env.batch.jobs.get(ACC, "s:job-3").doc["onAllTasksComplete"] == "noaction"
    env.finish("s:job-3")
    assert env.schedule("s")["state"] == "completed"


def test_delete_removes_the_schedule_and_its_jobs(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    env.clock.advance(2 * MIN)
    env.batch.jobs.create(ACC, {"id": "other", "poolInfo": {"poolId": "p"}})
    env.batch.job_schedules.delete(ACC, "s")
    assert env.batch.store.list(ACC, "jobschedule", "") == []
    assert [r.id for r in env.batch.store.list(ACC, "job", "")] == ["other"]
    assert env.batch.scheduler.schedule_timers.armed(ACC, "s") is None
