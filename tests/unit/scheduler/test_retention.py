"""Retention of completed tasks' directories: one timer for the earliest expiry, kept in the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from batchite.scheduler import Scheduler
from batchite.store.sqlite import MIGRATES_FROM, SqliteStore
from batchite.wire.types import Duration
from tests.unit.scheduler.fakes import FakeBackend, Harness


def test_expired_directories_go_in_order_and_no_timer_is_kept_per_task() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=4)
    job = h.job()
    before = h.clock.pending()
    pending = []
    for i in range(40):  # 40 tasks complete, their retentions 10..49 minutes
        h.add(job, h.task(job, f"t{i}", retention=Duration(minutes=10 + i)))
        h.backend.finish_task(f"t{i}")
        pending.append(h.clock.pending())
    assert pending == [pending[0]] * 40  # one retention timer, whatever the number of tasks
    assert pending[0] <= before + 2  # (and the node document's grouped write)
    h.advance(10 * 60 - 1)
    assert h.backend.removed_dirs == []
    h.advance(2)
    assert h.backend.removed_dirs == [(h.node_of("j", "t0"), "workitems/j/job-1/t0")]
    h.advance(39 * 60)
    assert [d for _, d in h.backend.removed_dirs] == [f"workitems/j/job-1/t{i}" for i in range(40)]
    h.advance(60)
    assert h.clock.pending() <= before  # nothing left to expire: no retention timer
    h.advance(24 * 3600)
    assert len(h.backend.removed_dirs) == 40  # each once


def test_a_task_that_completes_sooner_than_the_armed_expiry_brings_the_timer_forward() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "late", retention=Duration(hours=5)))
    h.backend.finish_task("late")
    h.add(job, h.task(job, "soon", retention=Duration(minutes=1)))
    h.backend.finish_task("soon")
    h.advance(61)
    assert [d for _, d in h.backend.removed_dirs] == ["workitems/j/job-1/soon"]
    h.advance(5 * 3600)
    assert [d for _, d in h.backend.removed_dirs] == ["workitems/j/job-1/soon", "workitems/j/job-1/late"]


def test_an_unlimited_retention_keeps_the_directory() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "kept", retention=Duration.parse("P10675199DT2H48M5.4775807S")))
    h.backend.finish_task("kept")
    h.advance(365 * 24 * 3600)
    assert h.backend.removed_dirs == []


def test_a_restarted_scheduler_removes_what_expired_while_it_was_down() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "a", retention=Duration(minutes=10)), h.task(job, "b", retention=Duration(hours=2)))
    h.backend.finish_task("a")
    h.backend.finish_task("b")
    node = h.node_of("j", "a")
    h.store.flush()
    # Down for an hour: a new scheduler over the same store, as after a restart of the service.
    h.clock._later.clear()
    h.advance(3600)
    backend = FakeBackend(h.clock)
    again = Scheduler(h.store, backend, h.clock, h.urls)
    again.recover()
    h.advance(0)
    assert backend.removed_dirs == [(node, "workitems/j/job-1/a")]
    h.advance(3600)
    assert backend.removed_dirs == [(node, "workitems/j/job-1/a"), (node, "workitems/j/job-1/b")]


def test_a_data_directory_of_the_previous_schema_opens_with_its_expiries(tmp_path: Path) -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t", retention=Duration(minutes=10)))
    h.backend.finish_task("t")
    path = tmp_path / "old.db"
    h.store.flush()
    h.store.db.conn.execute("VACUUM INTO ?", (str(path),))
    # Make it a database of the previous schema: no expiry column, its version.
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX entities_expires")
    conn.execute("ALTER TABLE entities DROP COLUMN expires")
    conn.execute(f"PRAGMA user_version={MIGRATES_FROM}")
    conn.commit()
    conn.close()
    store = SqliteStore(path, h.clock)
    try:
        assert store.tasks.next_expiry() == h.clock.now() + Duration(minutes=10)
        h.advance(601)
        (expired,) = store.tasks.expired(h.clock.now(), 10)
        assert expired.id == "t"
    finally:
        store.close()
