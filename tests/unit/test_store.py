"""SqliteStore: keys, ETags, paging by seq, state queries, task counts, persistence and grouped commits.

The store takes and returns typed entities through one repository per kind (store.jobs,
store.tasks, ...). ETag and Last-Modified live on the entity (and in their own columns), not in
its wire JSON; queries are named by intention (list(states=...), counts(), of_schedule()) where
the old store took SQL fragments.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchite.clock import ManualClock, format_time, parse_time
from batchite.domain.entities import Job, JobSchedule, Task
from batchite.domain.entities.records import JobInternal, ScheduleInternal, TaskInternal
from batchite.domain.exits import FailureStage
from batchite.domain.filters import CompareOp, Comparison, Or
from batchite.domain.states import JobState, ScheduleState, TaskState, transition
from batchite.store.base import StateCount
from batchite.store.sqlite import SqliteStore
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.models import (
    BatchJob,
    BatchJobSchedule,
    BatchJobScheduleExecutionInfo,
    BatchJobSpecification,
    BatchPoolInfo,
    BatchTask,
    BatchTaskExecutionInfo,
    MultiInstanceSettings,
)
from batchite.wire.types import encode, to_builtins

T0 = datetime(2026, 11, 25, 15, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "batchite.db", clock)
    yield s
    s.close()


def job(id: str, account: str = "acc", state: JobState = JobState.ACTIVE, **wire: Any) -> Job:
    return Job(
        account,
        "",
        BatchJob(
            id=id,
            creation_time=T0,
            state=state,
            state_transition_time=T0,
            pool_info=BatchPoolInfo(pool_id="p"),
            **wire,
        ),
    )


def task(
    id: str,
    parent: str = "job1",
    account: str = "acc",
    state: TaskState = TaskState.ACTIVE,
    result: str | None = None,
    **wire: Any,
) -> Task:
    if result is not None:
        wire["execution_info"] = BatchTaskExecutionInfo(
            retry_count=0, requeue_count=0, result=BatchTaskExecutionResult(result)
        )
    return Task(
        account,
        parent,
        BatchTask(id=id, creation_time=T0, state=state, state_transition_time=T0, command_line="x", **wire),
    )


def etag_value(etag: str) -> int:
    assert etag.startswith("0x")
    return int(etag, 16)


def committed_rows(path: Path) -> int:
    """Rows visible to another connection, i.e. committed."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM entities").fetchone()[0])
    finally:
        conn.close()


def stored_row(store: SqliteStore, kind: str, parent: str, key: str) -> dict[str, Any]:
    """The row as the store wrote it (its own connection sees what is not committed yet)."""
    conn = store.db.conn
    cursor = conn.execute(
        "SELECT * FROM entities WHERE account='acc' AND kind=? AND parent=? AND key=?", (kind, parent, key)
    )
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


# -- insert / get -----------------------------------------------------------------------------


def test_insert_then_get_case_insensitive(store: SqliteStore) -> None:
    inserted = store.jobs.insert(job("MyJob", state=JobState.ACTIVE))
    assert inserted.seq == 1
    for key in ("MyJob", "myjob", "MYJOB"):
        got = store.jobs.get("acc", "", key)
        assert got is not None
        assert got.id == "MyJob"  # original case kept
        assert got.key == "myjob"
        assert got.wire.id == "MyJob"
        assert got.state == "active"
        assert got.state is JobState.ACTIVE


def test_inserted_record_carries_etag_and_last_modified(store: SqliteStore, clock: ManualClock) -> None:
    r = store.jobs.insert(job("j1"))
    assert r.etag.startswith("0x")
    assert r.last_modified == clock.now()
    # The old store also wrote eTag and lastModified into the document. Now they are kept on the
    # entity and in their own columns; the wire JSON carries neither (the API adds them).
    row = stored_row(store, "job", "", "j1")
    assert row["etag"] == r.etag
    assert row["last_modified"] == format_time(clock.now())
    assert "eTag" not in to_builtins(r.wire) and "lastModified" not in to_builtins(r.wire)
    got = store.jobs.get("acc", "", "j1")
    assert got is not None
    assert got.etag == r.etag
    assert got.last_modified == clock.now()
    assert got.wire == r.wire
    assert encode(got.wire) == encode(r.wire)
    assert got.seq == r.seq


def test_get_missing_and_scoped(store: SqliteStore) -> None:
    store.tasks.insert(task("t1", parent="job1", account="acc"))
    assert store.tasks.get("acc", "job1", "t1") is not None
    assert store.tasks.get("acc", "job1", "nope") is None
    assert store.tasks.get("other", "job1", "t1") is None
    assert store.jobs.get("acc", "job1", "t1") is None  # another kind
    assert store.tasks.get("acc", "job2", "t1") is None


def test_ids_differing_only_in_case_are_one_entity(store: SqliteStore) -> None:
    first = store.jobs.insert(job("Job1", priority=1))
    again = job("JOB1", priority=2)
    again.seq = first.seq
    store.jobs.update(again)
    rows = store.jobs.list("acc", "")
    assert len(rows) == 1
    assert rows[0].wire.priority == 2
    assert rows[0].id == "JOB1"


def test_seq_increases_per_insert(store: SqliteStore) -> None:
    seqs = [store.jobs.insert(job(f"j{i}")).seq for i in range(5)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5


def test_extra_round_trips(store: SqliteStore) -> None:
    # The old free-form `extra` dict is the entity's typed internal part now.
    r = task("t1")
    r.internal = TaskInternal(
        job_manager=True, kill_job_on_completion=False, failure_stage=FailureStage.FILE_UPLOAD, run_id="r-1"
    )
    store.tasks.insert(r)
    got = store.tasks.get("acc", "job1", "t1")
    assert got is not None
    assert got.internal == TaskInternal(
        job_manager=True, kill_job_on_completion=False, failure_stage=FailureStage.FILE_UPLOAD, run_id="r-1"
    )
    assert got.internal.failure_stage is FailureStage.FILE_UPLOAD
    # Defaults round-trip too (and are left out of the stored JSON).
    store.jobs.insert(job("j1"))
    plain = store.jobs.get("acc", "", "j1")
    assert plain is not None and plain.internal == JobInternal()
    assert stored_row(store, "job", "", "j1")["extra"] == "{}"


def test_internal_datetimes_round_trip(store: SqliteStore) -> None:
    wire = BatchJobSchedule(
        id="s",
        creation_time=T0,
        state=ScheduleState.ACTIVE,
        state_transition_time=T0,
        job_specification=BatchJobSpecification(pool_info=BatchPoolInfo(pool_id="p")),
        execution_info=BatchJobScheduleExecutionInfo(next_run_time=T0 + timedelta(minutes=1)),
    )
    internal = ScheduleInternal(jobs=3, next=T0 + timedelta(minutes=1), recent="s:job-3")
    store.schedules.insert(JobSchedule("acc", "", wire, internal))
    got = store.schedules.get("acc", "", "S")
    assert got is not None
    assert got.internal == internal
    assert got.wire.execution_info.next_run_time == T0 + timedelta(minutes=1)


# -- update: ETag and lastModified ------------------------------------------------------------------


def test_put_changes_etag_and_last_modified(store: SqliteStore, clock: ManualClock) -> None:
    r = store.jobs.insert(job("j1", priority=0))
    first_etag, first_time = r.etag, r.last_modified
    clock.advance(timedelta(seconds=2.5))
    r.wire.priority = 5
    store.jobs.update(r)
    assert r.etag != first_etag
    assert etag_value(r.etag) > etag_value(first_etag)
    assert r.last_modified == clock.now()
    assert r.last_modified != first_time
    got = store.jobs.get("acc", "", "j1")
    assert got is not None
    assert got.etag == r.etag
    assert stored_row(store, "job", "", "j1")["etag"] == r.etag  # was doc["eTag"]
    assert got.wire.priority == 5
    assert got.last_modified == clock.now()
    assert parse_time(stored_row(store, "job", "", "j1")["last_modified"]) == clock.now()  # was doc["lastModified"]
    assert got.seq == r.seq, "update must not move the entity in list order"


def test_put_unmodified_keeps_etag_and_time(store: SqliteStore, clock: ManualClock) -> None:
    r = store.jobs.insert(job("j1"))
    etag, when = r.etag, r.last_modified
    clock.advance(timedelta(seconds=10))
    r.internal.auto_pool = "internal-only"
    store.jobs.update(r, modified=False)
    got = store.jobs.get("acc", "", "j1")
    assert got is not None
    assert (got.etag, got.last_modified) == (etag, when)
    assert got.internal.auto_pool == "internal-only"


def test_put_unmodified_without_etag_assigns_one(store: SqliteStore) -> None:
    r = store.jobs.update(job("j1"), modified=False)
    assert r.etag.startswith("0x")
    assert r.last_modified is not None


def test_etags_unique_and_increasing(store: SqliteStore) -> None:
    tags = [store.db.new_etag() for _ in range(100)]
    assert len(set(tags)) == 100
    assert [etag_value(t) for t in tags] == sorted(etag_value(t) for t in tags)
    written = [store.jobs.insert(job(f"j{i}")).etag for i in range(20)]
    assert len(set(written)) == 20
    assert [etag_value(t) for t in written] == sorted(etag_value(t) for t in written)
    assert etag_value(written[0]) > etag_value(tags[-1])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(st.tuples(st.sampled_from(["insert", "put", "put-quiet"]), st.integers(0, 4)), min_size=1, max_size=30)
)
def test_property_etag_monotonic(tmp_path: Path, ops: list[tuple[str, int]]) -> None:
    path = tmp_path / f"p{abs(hash(tuple(ops)))}.db"
    s = SqliteStore(path, ManualClock(T0))
    try:
        last = 0
        for op, n in ops:
            existing = s.jobs.get("acc", "", f"j{n}")
            if op == "insert" or existing is None:
                r = s.jobs.insert(job(f"j{n}"))
            elif op == "put":
                r = s.jobs.update(existing)
            else:
                before = existing.etag
                r = s.jobs.update(existing, modified=False)
                assert r.etag == before
                continue
            assert etag_value(r.etag) > last
            last = etag_value(r.etag)
    finally:
        s.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


# -- list and page -------------------------------------------------------------------------------


def test_list_in_seq_order_with_after_and_limit(store: SqliteStore) -> None:
    recs = [store.jobs.insert(job(f"j{i}")) for i in range(10)]
    # Updating an early one must not move it.
    store.jobs.update(recs[0])
    all_rows = store.jobs.list("acc", "")
    assert [r.id for r in all_rows] == [f"j{i}" for i in range(10)]
    # list(limit=, after_seq=) is page(after, limit), which also says where the next page starts.
    page1 = store.jobs.page("acc", "", 0, 4)
    assert [r.id for r in page1.items] == ["j0", "j1", "j2", "j3"]
    assert page1.next_after == page1.items[-1].seq
    page2 = store.jobs.page("acc", "", page1.items[-1].seq, 4)
    assert [r.id for r in page2.items] == ["j4", "j5", "j6", "j7"]
    page3 = store.jobs.page("acc", "", page2.items[-1].seq, 4)
    assert [r.id for r in page3.items] == ["j8", "j9"]
    assert page3.next_after is None, "the last page says there is no more"
    assert store.jobs.page("acc", "", page3.items[-1].seq, 4).items == []
    assert store.jobs.page("acc", "", 0, 0).items == []
    exact = store.jobs.page("acc", "", page1.items[-1].seq, 6)
    assert [r.id for r in exact.items] == [f"j{i}" for i in range(4, 10)] and exact.next_after is None


def test_list_scoped_by_account_kind_parent(store: SqliteStore) -> None:
    store.tasks.insert(task("t1", parent="job1"))
    store.tasks.insert(task("t2", parent="job2"))
    store.tasks.insert(task("t3", parent="job1", account="other"))
    store.jobs.insert(job("job1"))
    assert [r.id for r in store.tasks.list("acc", "job1")] == ["t1"]
    assert [r.id for r in store.tasks.list("acc", "job2")] == ["t2"]
    assert [r.id for r in store.tasks.list("other", "job1")] == ["t3"]
    assert [r.id for r in store.jobs.list("acc", "")] == ["job1"]
    everything = list(store.tasks.every())  # was store.all("task")
    assert sorted(r.id for r in everything) == ["t1", "t2", "t3"]
    assert {(r.account, r.parent, r.id) for r in everything} == {
        ("acc", "job1", "t1"),
        ("acc", "job2", "t2"),
        ("other", "job1", "t3"),
    }


def test_list_where_clause(store: SqliteStore) -> None:
    # The `where=` SQL fragment is gone: callers name what they want. The same three queries are
    # list(exclude_states=...), list(states=...) and page() with an OData filter.
    for i, state in enumerate(["active", "completed", "running", "completed", "active"]):
        store.tasks.insert(task(f"t{i}", parent="j", state=TaskState(state), required_slots=i + 1))
    rows = store.tasks.list("acc", "j", exclude_states=[TaskState.COMPLETED])
    assert [r.id for r in rows] == ["t0", "t2", "t4"]
    rows = store.tasks.list("acc", "j", states=[TaskState.COMPLETED])
    assert [r.id for r in rows] == ["t1", "t3"]
    rows = store.tasks.list(
        "acc", "j", states=[TaskState.ACTIVE, TaskState.RUNNING], exclude_states=[TaskState.RUNNING]
    )
    assert [r.id for r in rows] == ["t0", "t4"]
    page = store.tasks.page("acc", "j", 0, 2, Comparison("requiredSlots", CompareOp.GE, 3))
    assert [r.id for r in page.items] == ["t2", "t3"]
    assert page.next_after == page.items[-1].seq  # t4 matches too
    # A filter cannot escape the account/kind/parent scope, even one true for every row.
    store.tasks.insert(task("x", parent="other", state=TaskState.ACTIVE))
    everything = Or((Comparison("state", CompareOp.EQ, "active"), Comparison("id", CompareOp.NE, "nothing")))
    rows = store.tasks.page("acc", "j", 0, 100, everything).items
    assert {r.id for r in rows} == {"t0", "t1", "t2", "t3", "t4"}


def test_list_with_no_wanted_state_is_empty(store: SqliteStore) -> None:
    store.tasks.insert(task("t1", parent="j"))
    assert store.tasks.list("acc", "j", states=[]) == []


def test_jobs_of_a_schedule(store: SqliteStore) -> None:
    # Was list(where="json_extract(extra, '$.schedule') = ?"): the jobs a job schedule made.
    for i, schedule in enumerate(["s", None, "s", "other", "s"]):
        j = job(f"j{i}")
        j.internal.schedule = schedule
        store.jobs.insert(j)
    other_account = job("j9", account="elsewhere")
    other_account.internal.schedule = "s"
    store.jobs.insert(other_account)
    assert [r.id for r in store.jobs.of_schedule("acc", "s")] == ["j0", "j2", "j4"]
    assert store.jobs.of_schedule("acc", "none") == []
    page = store.jobs.page_of_schedule("acc", "s", 0, 2)
    assert [r.id for r in page.items] == ["j0", "j2"]
    assert page.next_after is not None
    rest = store.jobs.page_of_schedule("acc", "s", page.next_after, 2)
    assert [r.id for r in rest.items] == ["j4"] and rest.next_after is None
    only = store.jobs.page_of_schedule("acc", "s", 0, 10, Comparison("id", CompareOp.EQ, "J2"))
    assert [r.id for r in only.items] == ["j2"]


def test_multi_instance_tasks(store: SqliteStore) -> None:
    store.tasks.insert(task("plain", parent="j"))
    store.tasks.insert(
        task("multi", parent="j", multi_instance_settings=MultiInstanceSettings(coordination_command_line="c"))
    )
    store.tasks.insert(
        task("elsewhere", parent="k", multi_instance_settings=MultiInstanceSettings(coordination_command_line="c"))
    )
    assert [r.id for r in store.tasks.multi_instance("acc", "j")] == ["multi"]


def test_state_column_follows_doc_state(store: SqliteStore, clock: ManualClock) -> None:
    r = store.tasks.insert(task("t1", parent="j", state=TaskState.ACTIVE))
    transition(r.wire, TaskState.RUNNING, clock.now())
    store.tasks.update(r)
    assert stored_row(store, "task", "j", "t1")["state"] == "running"
    assert [x.id for x in store.tasks.list("acc", "j", states=[TaskState.RUNNING])] == ["t1"]
    assert store.tasks.list("acc", "j", states=[TaskState.ACTIVE]) == []
    assert store.tasks.counts("acc", "j") == [StateCount("running", None, 1, 1)]


def test_count_by_state(store: SqliteStore) -> None:
    for i, state in enumerate(["active", "completed", "completed", "running"]):
        store.tasks.insert(task(f"t{i}", parent="j", state=TaskState(state)))
    store.tasks.insert(task("n", parent="other", state=TaskState.ACTIVE))
    # Was count_by_state(): {state: n}. counts() answers rows by state and result.
    assert {r.state: r.tasks for r in store.tasks.counts("acc", "j")} == {"active": 1, "completed": 2, "running": 1}
    assert store.tasks.counts("acc", "none") == []
    assert store.tasks.count("acc", "j") == 4
    assert store.tasks.count("acc", "j", exclude_states=[TaskState.COMPLETED]) == 2
    assert store.tasks.count("acc", "none") == 0


# -- delete -----------------------------------------------------------------------------------


def test_delete_case_insensitive(store: SqliteStore) -> None:
    store.jobs.insert(job("Job1"))
    store.jobs.delete("acc", "", "JOB1")
    assert store.jobs.get("acc", "", "job1") is None


def test_delete_children_only_that_parent(store: SqliteStore) -> None:
    for i in range(3):
        store.tasks.insert(task(f"t{i}", parent="job1"))
    store.tasks.insert(task("t0", parent="job2"))
    store.tasks.insert(task("t0", parent="job1", account="other"))
    store.jobs.insert(job("job1"))
    store.tasks.delete_all("acc", "job1")  # was delete_children("acc", "task", "job1")
    assert store.tasks.list("acc", "job1") == []
    assert [r.id for r in store.tasks.list("acc", "job2")] == ["t0"]
    assert [r.id for r in store.tasks.list("other", "job1")] == ["t0"]
    assert store.jobs.get("acc", "", "job1") is not None


# -- task counts by state and result (was aggregate / count_by_state_and_result) ----------------------------


def state_result_rows(store: SqliteStore, account: str, job_key: str) -> list[tuple[Any, ...]]:
    """(state, executionInfo.result, count, sum of requiredSlots defaulting to 1) rows."""
    return [(r.state, r.result, r.tasks, r.slots) for r in store.tasks.counts(account, job_key)]


def test_aggregate_counts_and_sums(store: SqliteStore) -> None:
    tasks: list[tuple[str, TaskState, str | None, int | None]] = [
        ("t1", TaskState.ACTIVE, None, None),
        ("t2", TaskState.ACTIVE, None, 3),
        ("t3", TaskState.RUNNING, None, 2),
        ("t4", TaskState.COMPLETED, "success", None),
        ("t5", TaskState.COMPLETED, "success", 4),
        ("t6", TaskState.COMPLETED, "failure", None),
    ]
    for id_, state, result, slots in tasks:
        store.tasks.insert(task(id_, parent="job1", state=state, result=result, required_slots=slots))
    store.tasks.insert(task("other", parent="job2", state=TaskState.ACTIVE, required_slots=100))
    rows = state_result_rows(store, "acc", "job1")
    got = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert len(got) == len(rows)
    assert got == {
        ("active", None): (2, 4),  # 1 (default) + 3
        ("running", None): (1, 2),
        ("completed", "success"): (2, 5),  # 1 + 4
        ("completed", "failure"): (1, 1),
    }


def test_aggregate_follows_updates(store: SqliteStore, clock: ManualClock) -> None:
    r = store.tasks.insert(task("t1", parent="j", state=TaskState.RUNNING, required_slots=2))
    assert state_result_rows(store, "acc", "j") == [("running", None, 1, 2)]
    transition(r.wire, TaskState.COMPLETED, clock.now())
    r.wire.execution_info = BatchTaskExecutionInfo(
        retry_count=0, requeue_count=0, result=BatchTaskExecutionResult.FAILURE
    )
    store.tasks.update(r)
    assert state_result_rows(store, "acc", "j") == [("completed", "failure", 1, 2)]
    store.tasks.delete("acc", "j", "T1")
    assert state_result_rows(store, "acc", "j") == []


def test_aggregate_empty(store: SqliteStore) -> None:
    assert state_result_rows(store, "acc", "nothing") == []


def counted_from_rows(store: SqliteStore, account: str, job_key: str) -> set[tuple[Any, ...]]:
    rows = store.db.conn.execute(
        "SELECT state, result, COUNT(*), SUM(slots) FROM entities WHERE account=? AND kind='task' AND parent=? "
        "GROUP BY state, result",
        (account, job_key),
    ).fetchall()
    return {(state, result, n, slots) for state, result, n, slots in rows}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["insert", "update", "delete", "delete_all"]),
            st.sampled_from(["a", "b", "c", "d"]),
            st.sampled_from([TaskState.ACTIVE, TaskState.RUNNING, TaskState.COMPLETED]),
            st.sampled_from([None, "success", "failure"]),
            st.sampled_from([None, 1, 3]),
        ),
        max_size=30,
    )
)
def test_the_kept_counts_are_always_those_of_the_rows(store: SqliteStore, ops: list[tuple[Any, ...]]) -> None:
    store.tasks.delete_all("acc", "j")
    for op, id_, state, result, slots in ops:
        if op == "delete":
            store.tasks.delete("acc", "j", id_)
        elif op == "delete_all":
            store.tasks.delete_all("acc", "j")
        else:
            result = result if state == TaskState.COMPLETED else None
            t = task(id_, parent="j", state=state, result=result, required_slots=slots)
            existing = store.tasks.get("acc", "j", id_)
            if existing is not None:
                t.seq = existing.seq
                store.tasks.update(t)
            else:
                store.tasks.insert(t)
        assert set(state_result_rows(store, "acc", "j")) == counted_from_rows(store, "acc", "j")


def test_a_schema_5_data_directory_gets_its_task_counts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    s1 = SqliteStore(path)
    s1.tasks.insert(task("t1", parent="j", state=TaskState.ACTIVE))
    s1.tasks.insert(task("t2", parent="j", state=TaskState.COMPLETED, result="success", required_slots=2))
    s1.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE task_counts")
    for name in ("insert", "update", "delete"):
        conn.execute(f"DROP TRIGGER task_counts_{name}")
    conn.execute("PRAGMA user_version=5")
    conn.commit()
    conn.close()
    s2 = SqliteStore(path)
    try:
        assert set(state_result_rows(s2, "acc", "j")) == {("active", None, 1, 1), ("completed", "success", 1, 2)}
        s2.tasks.insert(task("t3", parent="j", state=TaskState.ACTIVE))
        assert ("active", None, 2, 2) in state_result_rows(s2, "acc", "j")
    finally:
        s2.close()


# -- persistence ----------------------------------------------------------------------------------


def test_persistence_across_reopen(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "p.db"
    s1 = SqliteStore(path, clock)
    a = s1.jobs.insert(job("A", state=JobState.ACTIVE))
    b = s1.tasks.insert(task("b", parent="a"))
    b.internal.run_id = "x"
    s1.tasks.update(b)
    s1.close()

    s2 = SqliteStore(path, clock)
    try:
        got = s2.jobs.get("acc", "", "a")
        assert got is not None
        assert (got.id, got.etag, got.seq, got.last_modified, got.wire) == (
            a.id,
            a.etag,
            a.seq,
            a.last_modified,
            a.wire,
        )
        again = s2.tasks.get("acc", "a", "B")
        assert again is not None
        assert again.internal == TaskInternal(run_id="x")
        c = s2.jobs.insert(job("c"))
        assert c.seq > b.seq, "seq must continue after a restart, or paging breaks"
        assert etag_value(c.etag) > etag_value(b.etag), "ETags must keep growing across restarts"
        assert [r.id for r in s2.jobs.list("acc", "")] == ["A", "c"]
    finally:
        s2.close()


def test_sync_writes_commit_on_flush(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "sync.db"
    s = SqliteStore(path, clock)
    try:
        s.jobs.insert(job("j1"))
        assert committed_rows(path) == 0, "outside a loop a write waits for flush()"
        s.flush()
        assert committed_rows(path) == 1
    finally:
        s.close()


def test_close_commits_pending_writes(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "close.db"
    s = SqliteStore(path, clock)
    s.jobs.insert(job("j1"))
    s.close()
    assert committed_rows(path) == 1


# -- grouped commits inside an event loop ------------------------------------------------------------


def _trace(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    return statements


def test_writes_in_one_tick_share_one_commit(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "group.db"

    async def main() -> tuple[int, int, list[str]]:
        s = SqliteStore(path, clock)
        statements = _trace(s)
        try:
            for i in range(5):
                s.jobs.insert(job(f"j{i}"))
            r = s.jobs.get("acc", "", "j0")
            assert r is not None
            s.jobs.update(r)
            s.jobs.delete("acc", "", "j4")
            before = committed_rows(path)
            await s.committed()
            after = committed_rows(path)
            return before, after, list(statements)
        finally:
            s.close()

    before, after, statements = asyncio.run(main())
    assert before == 0, "nothing is visible before the tick's commit"
    assert after == 4
    assert sum(1 for st_ in statements if st_.strip().upper() == "BEGIN") == 1
    assert sum(1 for st_ in statements if st_.strip().upper() == "COMMIT") == 1


def test_separate_ticks_commit_separately(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "ticks.db"

    async def main() -> list[str]:
        s = SqliteStore(path, clock)
        statements = _trace(s)
        try:
            s.jobs.insert(job("j1"))
            await s.committed()
            assert committed_rows(path) == 1
            s.jobs.insert(job("j2"))
            s.jobs.insert(job("j3"))
            await s.committed()
            assert committed_rows(path) == 3
            await s.committed()  # nothing pending: returns at once
            return list(statements)
        finally:
            s.close()

    statements = asyncio.run(main())
    assert sum(1 for st_ in statements if st_.strip().upper() == "COMMIT") == 2


def test_concurrent_writers_in_one_tick_all_wait_for_the_same_commit(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "concurrent.db"

    async def main() -> tuple[list[int], list[str]]:
        s = SqliteStore(path, clock)
        statements = _trace(s)
        seen: list[int] = []

        async def request(i: int) -> None:
            s.jobs.insert(job(f"j{i}"))
            await s.committed()
            seen.append(committed_rows(path))

        try:
            await asyncio.gather(*(request(i) for i in range(8)))
            return seen, list(statements)
        finally:
            s.close()

    seen, statements = asyncio.run(main())
    assert seen == [8] * 8, "every writer answers only after its write is committed"
    assert sum(1 for st_ in statements if st_.strip().upper() == "COMMIT") == 1


def test_reads_see_uncommitted_writes_of_the_same_store(tmp_path: Path, clock: ManualClock) -> None:
    async def main() -> None:
        s = SqliteStore(tmp_path / "ryw.db", clock)
        try:
            s.jobs.insert(job("j1"))
            assert s.jobs.get("acc", "", "j1") is not None
            assert [r.id for r in s.jobs.list("acc", "")] == ["j1"]
            await s.committed()
        finally:
            s.close()

    asyncio.run(main())


def test_a_write_before_commit_is_made_once_per_key_in_the_commit(tmp_path: Path, clock: ManualClock) -> None:
    store = SqliteStore(tmp_path / "b.db", clock)
    try:
        made: list[str] = []
        j = store.jobs.insert(job("j1"))
        store.flush()
        for n in range(3):
            store.write_before_commit("totals", lambda n=n: made.append(f"write {n}"))
        store.write_before_commit("other", lambda: made.append("other"))
        store.write_before_commit("late", lambda: (made.append("late"), store.jobs.update(j)))
        assert made == [] and committed_rows(tmp_path / "b.db") == 1
        store.flush()
        assert made == ["write 2", "other", "late"]
        store.flush()
        assert made == ["write 2", "other", "late"]
    finally:
        store.close()


def test_the_internal_part_alone_is_written_with_its_etag_and_state_kept(store: SqliteStore) -> None:
    t = store.tasks.insert(task("t1", parent="j", state=TaskState.ACTIVE))
    t.internal.run_id = "r1"
    t.wire.command_line = "not written"
    store.tasks.update_internal(t)
    again = store.tasks.get("acc", "j", "t1")
    assert again is not None
    assert (again.internal.run_id, again.etag, again.last_modified) == ("r1", t.etag, t.last_modified)
    assert again.wire.command_line == "x"
    assert state_result_rows(store, "acc", "j") == [("active", None, 1, 1)]
