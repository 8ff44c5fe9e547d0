"""Job schedule recurrence with a hand-driven clock: runs, skips, start windows, completion, restart.

The service runs in-process on a ManualClock: its timers (and what the scheduler calls soon) run
only when a test advances the clock or lets it settle, which is what the event loop would do
between two requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from batchite.clock import ManualClock
from batchite.compute.local import LocalBackend
from batchite.domain.entities import Job, JobSchedule
from batchite.service import BatchService
from batchite.service.accounts import DEV_ACCOUNT_KEY, Account, AccountRegistry
from batchite.store.sqlite import SqliteStore
from batchite.wire.enums import BatchAllTasksCompleteMode, BatchJobScheduleState, BatchJobState
from batchite.wire.models import (
    BatchJobCreateOptions,
    BatchJobScheduleConfiguration,
    BatchJobScheduleCreateOptions,
    BatchJobScheduleUpdateOptions,
)
from batchite.wire.types import convert, to_builtins

ACC = "acc"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def rfc3339(value: datetime) -> str:
    """How a time without a fraction is written on the wire."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Env:
    def __init__(self, root: Path, start: datetime) -> None:
        self.root = root
        self.clock = ManualClock(start)
        self.batch = self._open()

    def _open(self) -> BatchService:
        store = SqliteStore(self.root / "batchite.db", self.clock)
        accounts = AccountRegistry([Account(ACC, [DEV_ACCOUNT_KEY])])
        batch = BatchService(store, LocalBackend(self.root / "nodes"), accounts, "http://batchite.test", self.clock)
        batch.start()
        self.clock.settle()
        return batch

    def close(self) -> None:
        asyncio.run(self.batch.scheduler.shutdown(stop_agents=True))
        self.batch.store.close()

    def restart(self, downtime: timedelta) -> None:
        self.close()
        # The old service's timers stay on the old clock; time went on while it was down.
        self.clock = ManualClock(self.clock.now() + downtime)
        self.batch = self._open()

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    def create(self, sid: str, schedule: dict[str, Any], **spec: Any) -> JobSchedule:
        body = convert(
            BatchJobScheduleCreateOptions,
            {"id": sid, "schedule": schedule, "jobSpecification": {"poolInfo": {"poolId": "p"}, **spec}},
        )
        created = self.batch.job_schedules.create(ACC, body)
        self.clock.settle()
        return created

    def update(self, sid: str, body: dict[str, Any]) -> JobSchedule:
        updated = self.batch.job_schedules.update(ACC, sid, convert(BatchJobScheduleUpdateOptions, body))
        self.clock.settle()
        return updated

    def replace(self, sid: str, body: dict[str, Any]) -> JobSchedule:
        replaced = self.batch.job_schedules.replace(ACC, sid, convert(BatchJobScheduleUpdateOptions, body))
        self.clock.settle()
        return replaced

    def disable(self, sid: str) -> None:
        self.batch.job_schedules.disable(ACC, sid)
        self.clock.settle()

    def enable(self, sid: str) -> None:
        self.batch.job_schedules.enable(ACC, sid)
        self.clock.settle()

    def terminate(self, sid: str) -> JobSchedule:
        terminated = self.batch.job_schedules.terminate(ACC, sid)
        self.clock.settle()
        return terminated

    def delete(self, sid: str) -> None:
        self.batch.job_schedules.delete(ACC, sid)
        self.clock.settle()

    def create_job(self, body: dict[str, Any]) -> None:
        self.batch.jobs.create(ACC, convert(BatchJobCreateOptions, body))
        self.clock.settle()

    def schedule(self, sid: str) -> JobSchedule:
        return self.batch.job_schedules.get(ACC, sid)

    def job(self, job_id: str) -> Job:
        return self.batch.jobs.get(ACC, job_id)

    def jobs(self, sid: str) -> list[tuple[str, str]]:
        page = self.batch.job_schedules.list_jobs(ACC, sid, 0, 1000)
        return [(j.id, j.wire.state) for j in page.items]

    def finish(self, job_id: str) -> None:
        self.batch.jobs.terminate(ACC, job_id, None)
        self.clock.settle()

    def armed(self, sid: str) -> datetime | None:
        return self.batch.scheduler.timers.armed(ACC, sid)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path, T0)
    yield e
    e.close()


def test_recurring_schedule_makes_a_job_each_interval(env: Env) -> None:
    created = env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    info = created.wire.execution_info
    assert info.recent_job is not None
    assert info.recent_job.id == "s:job-1"
    assert info.recent_job.url == "http://batchite.test/jobs/s:job-1"
    assert info.next_run_time == T0 + MIN
    assert to_builtins(created.wire)["executionInfo"]["nextRunTime"] == rfc3339(T0 + MIN)
    env.advance(3 * MIN + timedelta(seconds=30))
    assert [j for j, _ in env.jobs("s")] == ["s:job-1", "s:job-2", "s:job-3", "s:job-4"]
    assert env.schedule("s").wire.execution_info.next_run_time == T0 + 4 * MIN
    assert env.schedule("s").wire.state == BatchJobScheduleState.ACTIVE
    assert env.armed("s") == T0 + 4 * MIN


def test_one_active_job_at_a_time_and_a_late_run_starts_when_it_ends(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"})
    env.advance(90 * timedelta(seconds=1))
    assert env.jobs("s") == [("s:job-1", "active")]
    env.finish("s:job-1")  # the run due at T0+1m is still within its window (until T0+2m)
    assert env.jobs("s") == [("s:job-1", "completed"), ("s:job-2", "active")]
    execution = env.job("s:job-1").wire.execution_info
    assert execution is not None and execution.termination_reason == "UserTerminate"


def test_a_run_not_started_within_its_start_window_is_skipped(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT2M", "startWindow": "PT1M"})
    env.advance(timedelta(minutes=3, seconds=30))  # run due at 2m lapsed at 3m
    env.finish("s:job-1")
    assert [j for j, _ in env.jobs("s")] == ["s:job-1"]
    env.advance(timedelta(seconds=30))  # 4m: the next run
    assert [j for j, _ in env.jobs("s")] == ["s:job-1", "s:job-2"]


def test_one_off_schedule_completes_when_its_job_completes(env: Env) -> None:
    created = env.create("s", {})
    assert created.wire.execution_info.next_run_time is None
    assert "nextRunTime" not in to_builtins(created.wire)["executionInfo"]
    assert env.jobs("s") == [("s:job-1", "active")]
    env.advance(10 * MIN)
    assert env.schedule("s").wire.state == BatchJobScheduleState.ACTIVE
    env.advance(MIN)
    env.finish("s:job-1")
    schedule = env.schedule("s").wire
    assert schedule.state == BatchJobScheduleState.COMPLETED
    assert schedule.execution_info.end_time == T0 + 11 * MIN
    assert env.armed("s") is None


def test_do_not_run_until_delays_the_first_job(env: Env) -> None:
    start = T0 + 5 * MIN
    created = env.create("s", {"doNotRunUntil": rfc3339(start)}, onAllTasksComplete="terminatejob")
    assert created.wire.execution_info.next_run_time == start
    env.advance(4 * MIN)
    assert env.jobs("s") == []
    env.advance(MIN)
    assert env.jobs("s") == [("s:job-1", "completed")]
    assert env.schedule("s").wire.state == BatchJobScheduleState.COMPLETED


def test_do_not_run_after_ends_a_recurring_schedule(env: Env) -> None:
    end = T0 + timedelta(minutes=2, seconds=30)
    env.create("s", {"recurrenceInterval": "PT1M", "doNotRunAfter": rfc3339(end)}, onAllTasksComplete="terminatejob")
    env.advance(2 * MIN)
    assert len(env.jobs("s")) == 3
    assert env.schedule("s").wire.state == BatchJobScheduleState.ACTIVE
    env.advance(MIN)
    schedule = env.schedule("s").wire
    assert len(env.jobs("s")) == 3
    assert schedule.state == BatchJobScheduleState.COMPLETED
    assert schedule.execution_info.end_time == end


def test_disabled_schedule_skips_runs_and_resumes_at_the_next_one(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    env.disable("s")
    env.advance(timedelta(minutes=2, seconds=30))
    assert len(env.jobs("s")) == 1
    env.enable("s")
    assert len(env.jobs("s")) == 1
    assert env.schedule("s").wire.execution_info.next_run_time == T0 + 3 * MIN
    env.advance(MIN)
    assert len(env.jobs("s")) == 2


def test_terminate_ends_the_active_job(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"})
    terminated = env.terminate("s").wire
    assert terminated.state == BatchJobScheduleState.COMPLETED
    assert terminated.previous_state == BatchJobScheduleState.TERMINATING
    job = env.job("s:job-1").wire
    assert job.state == BatchJobState.COMPLETED
    assert job.execution_info is not None and job.execution_info.termination_reason == "TerminateJobSchedule"
    assert to_builtins(job)["executionInfo"]["terminateReason"] == "TerminateJobSchedule"
    env.advance(5 * MIN)
    assert len(env.jobs("s")) == 1
    assert env.armed("s") is None


def test_restart_re_arms_timers_and_makes_the_latest_missed_run(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    env.create("later", {"doNotRunUntil": rfc3339(T0 + 30 * MIN)}, onAllTasksComplete="terminatejob")
    env.restart(timedelta(minutes=5, seconds=10))
    # missed runs collapse into one: the one due at 5m, still inside its window
    assert [j for j, _ in env.jobs("s")] == ["s:job-1", "s:job-2"]
    assert env.schedule("s").wire.execution_info.next_run_time == T0 + 6 * MIN
    assert env.armed("s") == T0 + 6 * MIN
    env.advance(MIN)
    assert len(env.jobs("s")) == 3
    env.advance(30 * MIN)
    assert env.jobs("later") == [("later:job-1", "completed")]


def test_update_changes_the_timeline_and_replace_resets_it(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT10M"}, onAllTasksComplete="terminatejob")
    env.update("s", {"schedule": {"recurrenceInterval": "PT1M"}})
    assert env.schedule("s").wire.execution_info.next_run_time == T0 + MIN
    spec = env.schedule("s").wire.job_specification
    assert spec.all_tasks_complete_mode == BatchAllTasksCompleteMode.TERMINATE_JOB
    env.advance(MIN)
    assert len(env.jobs("s")) == 2
    # replace without a schedule: the default schedule, a single job to run at once
    env.replace("s", {"jobSpecification": {"poolInfo": {"poolId": "p"}}})
    schedule = env.schedule("s").wire
    assert schedule.schedule == BatchJobScheduleConfiguration()
    assert to_builtins(schedule)["schedule"] == {}
    assert schedule.job_specification.all_tasks_complete_mode is None
    assert "onAllTasksComplete" not in to_builtins(schedule)["jobSpecification"]
    assert env.jobs("s")[-1] == ("s:job-3", "active")
    assert env.job("s:job-2").wire.all_tasks_complete_mode == BatchAllTasksCompleteMode.TERMINATE_JOB
    assert env.job("s:job-3").wire.all_tasks_complete_mode == BatchAllTasksCompleteMode.NO_ACTION
    env.finish("s:job-3")
    assert env.schedule("s").wire.state == BatchJobScheduleState.COMPLETED


def test_delete_removes_the_schedule_and_its_jobs(env: Env) -> None:
    env.create("s", {"recurrenceInterval": "PT1M"}, onAllTasksComplete="terminatejob")
    env.advance(2 * MIN)
    env.create_job({"id": "other", "poolInfo": {"poolId": "p"}})
    env.delete("s")
    assert env.batch.store.schedules.list(ACC, "") == []
    assert [r.id for r in env.batch.store.jobs.list(ACC, "")] == ["other"]
    assert env.armed("s") is None
