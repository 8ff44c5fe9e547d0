"""SqliteStore: keys, ETags, paging by seq, filters, aggregates, persistence and grouped commits."""

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

from batchite.clock import format_time, parse_time
from batchite.store.base import Record
from batchite.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 25, 15, 0, 0, 123456, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "batchite.db", clock)  # type: ignore[arg-type]
    yield s
    s.close()


def rec(id: str, kind: str = "job", parent: str = "", account: str = "acc", **doc: Any) -> Record:
    return Record(account=account, kind=kind, parent=parent, id=id, doc={"id": id, **doc})


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


# -- insert / get -----------------------------------------------------------------------------


def test_insert_then_get_case_insensitive(store: SqliteStore) -> None:
    inserted = store.insert(rec("MyJob", state="active"))
    assert inserted.seq == 1
    for key in ("MyJob", "myjob", "MYJOB"):
        got = store.get("acc", "job", "", key)
        assert got is not None
        assert got.id == "MyJob"  # original case kept
        assert got.key == "myjob"
        assert got.doc["id"] == "MyJob"
        assert got.state == "active"


def test_inserted_record_carries_etag_and_last_modified(store: SqliteStore, clock: FakeClock) -> None:
    r = store.insert(rec("j1"))
    assert r.etag.startswith("0x")
    assert r.last_modified == clock.now()
    assert r.doc["eTag"] == r.etag
    assert r.doc["lastModified"] == format_time(clock.now())
    got = store.get("acc", "job", "", "j1")
    assert got is not None
    assert got.etag == r.etag
    assert got.last_modified == clock.now()
    assert got.doc == r.doc
    assert got.seq == r.seq


def test_get_missing_and_scoped(store: SqliteStore) -> None:
    store.insert(rec("t1", kind="task", parent="job1", account="acc"))
    assert store.get("acc", "task", "job1", "t1") is not None
    assert store.get("acc", "task", "job1", "nope") is None
    assert store.get("other", "task", "job1", "t1") is None
    assert store.get("acc", "job", "job1", "t1") is None
    assert store.get("acc", "task", "job2", "t1") is None


def test_ids_differing_only_in_case_are_one_entity(store: SqliteStore) -> None:
    first = store.insert(rec("Job1", v=1))
    again = rec("JOB1", v=2)
    again.seq = first.seq
    store.put(again)
    rows = store.list("acc", "job", "")
    assert len(rows) == 1
    assert rows[0].doc["v"] == 2
    assert rows[0].id == "JOB1"


def test_seq_increases_per_insert(store: SqliteStore) -> None:
    seqs = [store.insert(rec(f"j{i}")).seq for i in range(5)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5


def test_extra_round_trips(store: SqliteStore) -> None:
    r = rec("j1")
    r.extra = {"secret": [1, 2], "nested": {"a": None}}
    store.insert(r)
    got = store.get("acc", "job", "", "j1")
    assert got is not None
    assert got.extra == {"secret": [1, 2], "nested": {"a": None}}


# -- put: ETag and lastModified ------------------------------------------------------------------


def test_put_changes_etag_and_last_modified(store: SqliteStore, clock: FakeClock) -> None:
    r = store.insert(rec("j1", priority=0))
    first_etag, first_time = r.etag, r.last_modified
    clock.advance(2.5)
    r.doc["priority"] = 5
    store.put(r)
    assert r.etag != first_etag
    assert etag_value(r.etag) > etag_value(first_etag)
    assert r.last_modified == clock.now()
    assert r.last_modified != first_time
    got = store.get("acc", "job", "", "j1")
    assert got is not None
    assert got.etag == r.etag
    assert got.doc["eTag"] == r.etag
    assert got.doc["priority"] == 5
    assert parse_time(got.doc["lastModified"]) == clock.now()
    assert got.seq == r.seq, "put must not move the entity in list order"


def test_put_unmodified_keeps_etag_and_time(store: SqliteStore, clock: FakeClock) -> None:
    r = store.insert(rec("j1"))
    etag, when = r.etag, r.last_modified
    clock.advance(10)
    r.doc["internalOnly"] = True
    store.put(r, modified=False)
    got = store.get("acc", "job", "", "j1")
    assert got is not None
    assert (got.etag, got.last_modified) == (etag, when)
    assert got.doc["internalOnly"] is True


def test_put_unmodified_without_etag_assigns_one(store: SqliteStore) -> None:
    r = store.put(rec("j1"), modified=False)
    assert r.etag.startswith("0x")
    assert r.last_modified is not None


def test_etags_unique_and_increasing(store: SqliteStore) -> None:
    tags = [store.new_etag() for _ in range(100)]
    assert len(set(tags)) == 100
    assert [etag_value(t) for t in tags] == sorted(etag_value(t) for t in tags)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(st.tuples(st.sampled_from(["insert", "put", "put-quiet"]), st.integers(0, 4)), min_size=1, max_size=30)
)
def test_property_etag_monotonic(tmp_path: Path, ops: list[tuple[str, int]]) -> None:
    path = tmp_path / f"p{abs(hash(tuple(ops)))}.db"
    s = SqliteStore(path, FakeClock())  # type: ignore[arg-type]
    try:
        last = 0
        for op, n in ops:
            existing = s.get("acc", "job", "", f"j{n}")
            if op == "insert" or existing is None:
                r = s.insert(rec(f"j{n}"))
            elif op == "put":
                r = s.put(existing)
            else:
                before = existing.etag
                r = s.put(existing, modified=False)
                assert r.etag == before
                continue
            assert etag_value(r.etag) > last
            last = etag_value(r.etag)
    finally:
        s.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


# -- list ----------------------------------------------------------------------------------------


def test_list_in_seq_order_with_after_and_limit(store: SqliteStore) -> None:
    recs = [store.insert(rec(f"j{i}")) for i in range(10)]
    # Updating an early one must not move it.
    store.put(recs[0])
    all_rows = store.list("acc", "job", "")
    assert [r.id for r in all_rows] == [f"j{i}" for i in range(10)]
    page1 = store.list("acc", "job", "", limit=4)
    assert [r.id for r in page1] == ["j0", "j1", "j2", "j3"]
    page2 = store.list("acc", "job", "", after_seq=page1[-1].seq, limit=4)
    assert [r.id for r in page2] == ["j4", "j5", "j6", "j7"]
    page3 = store.list("acc", "job", "", after_seq=page2[-1].seq, limit=4)
    assert [r.id for r in page3] == ["j8", "j9"]
    assert store.list("acc", "job", "", after_seq=page3[-1].seq) == []
    assert store.list("acc", "job", "", limit=0) == []


def test_list_scoped_by_account_kind_parent(store: SqliteStore) -> None:
    store.insert(rec("t1", kind="task", parent="job1"))
    store.insert(rec("t2", kind="task", parent="job2"))
    store.insert(rec("t3", kind="task", parent="job1", account="other"))
    store.insert(rec("job1", kind="job"))
    assert [r.id for r in store.list("acc", "task", "job1")] == ["t1"]
    assert [r.id for r in store.list("acc", "task", "job2")] == ["t2"]
    assert [r.id for r in store.list("other", "task", "job1")] == ["t3"]
    assert [r.id for r in store.list("acc", "job", "")] == ["job1"]
    assert sorted(r.id for r in store.all("task")) == ["t1", "t2", "t3"]


def test_list_where_clause(store: SqliteStore) -> None:
    for i, state in enumerate(["active", "completed", "running", "completed", "active"]):
        store.insert(rec(f"t{i}", kind="task", parent="j", state=state, priority=i))
    rows = store.list("acc", "task", "j", where="state != 'completed'")
    assert [r.id for r in rows] == ["t0", "t2", "t4"]
    rows = store.list("acc", "task", "j", where="state = ?", params=["completed"])
    assert [r.id for r in rows] == ["t1", "t3"]
    rows = store.list("acc", "task", "j", where="json_extract(doc, '$.priority') >= ?", params=[2], limit=2)
    assert [r.id for r in rows] == ["t2", "t3"]
    # The where clause is parenthesised: an OR cannot escape the account/kind/parent scope.
    store.insert(rec("x", kind="task", parent="other", state="active"))
    rows = store.list("acc", "task", "j", where="state = 'active' OR 1=1")
    assert {r.id for r in rows} == {"t0", "t1", "t2", "t3", "t4"}


def test_state_column_follows_doc_state(store: SqliteStore) -> None:
    r = store.insert(rec("t1", kind="task", parent="j", state="active"))
    r.doc["state"] = "running"
    store.put(r)
    assert [x.id for x in store.list("acc", "task", "j", where="state = ?", params=["running"])] == ["t1"]
    assert store.count_by_state("acc", "task", "j") == {"running": 1}


def test_count_by_state(store: SqliteStore) -> None:
    for i, state in enumerate(["active", "completed", "completed", "running"]):
        store.insert(rec(f"t{i}", kind="task", parent="j", state=state))
    store.insert(rec("n", kind="task", parent="other", state="active"))
    assert store.count_by_state("acc", "task", "j") == {"active": 1, "completed": 2, "running": 1}
    assert store.count_by_state("acc", "task", "none") == {}


# -- delete -----------------------------------------------------------------------------------


def test_delete_case_insensitive(store: SqliteStore) -> None:
    store.insert(rec("Job1"))
    store.delete("acc", "job", "", "JOB1")
    assert store.get("acc", "job", "", "job1") is None


def test_delete_children_only_that_parent(store: SqliteStore) -> None:
    for i in range(3):
        store.insert(rec(f"t{i}", kind="task", parent="job1"))
    store.insert(rec("t0", kind="task", parent="job2"))
    store.insert(rec("t0", kind="task", parent="job1", account="other"))
    store.insert(rec("job1", kind="job"))
    store.delete_children("acc", "task", "job1")
    assert store.list("acc", "task", "job1") == []
    assert [r.id for r in store.list("acc", "task", "job2")] == ["t0"]
    assert [r.id for r in store.list("other", "task", "job1")] == ["t0"]
    assert store.get("acc", "job", "", "job1") is not None


# -- aggregate ----------------------------------------------------------------------------------


def state_result_rows(store: SqliteStore, account: str, kind: str, parent: str) -> list[tuple[Any, ...]]:
    """(state, executionInfo.result, count, sum of requiredSlots defaulting to 1) rows.

    The store API is being reshaped: `aggregate(..., group_paths, sum_path)` became
    `count_by_state_and_result(...)`; both must answer the same rows.
    """
    if hasattr(store, "count_by_state_and_result"):
        return [tuple(r) for r in store.count_by_state_and_result(account, kind, parent)]
    return [
        tuple(r)
        for r in store.aggregate(  # type: ignore[attr-defined]
            account, kind, parent, ["$.state", "$.executionInfo.result"], "$.requiredSlots"
        )
    ]


def test_aggregate_counts_and_sums(store: SqliteStore) -> None:
    tasks = [
        ("t1", "active", None, None),
        ("t2", "active", None, 3),
        ("t3", "running", None, 2),
        ("t4", "completed", "success", None),
        ("t5", "completed", "success", 4),
        ("t6", "completed", "failure", None),
    ]
    for id_, state, result, slots in tasks:
        doc: dict[str, Any] = {"state": state}
        if result:
            doc["executionInfo"] = {"result": result}
        if slots is not None:
            doc["requiredSlots"] = slots
        store.insert(rec(id_, kind="task", parent="job1", **doc))
    store.insert(rec("other", kind="task", parent="job2", state="active", requiredSlots=100))
    rows = state_result_rows(store, "acc", "task", "job1")
    got = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert got == {
        ("active", None): (2, 4),  # 1 (default) + 3
        ("running", None): (1, 2),
        ("completed", "success"): (2, 5),  # 1 + 4
        ("completed", "failure"): (1, 1),
    }


def test_aggregate_follows_updates(store: SqliteStore) -> None:
    r = store.insert(rec("t1", kind="task", parent="j", state="running", requiredSlots=2))
    assert state_result_rows(store, "acc", "task", "j") == [("running", None, 1, 2)]
    r.doc["state"] = "completed"
    r.doc["executionInfo"] = {"result": "failure"}
    store.put(r)
    assert state_result_rows(store, "acc", "task", "j") == [("completed", "failure", 1, 2)]
    store.delete("acc", "task", "j", "T1")
    assert state_result_rows(store, "acc", "task", "j") == []


def test_aggregate_empty(store: SqliteStore) -> None:
    assert state_result_rows(store, "acc", "task", "nothing") == []


# -- persistence ----------------------------------------------------------------------------------


def test_persistence_across_reopen(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "p.db"
    s1 = SqliteStore(path, clock)  # type: ignore[arg-type]
    a = s1.insert(rec("A", state="active"))
    b = s1.insert(rec("b", kind="task", parent="a"))
    b.extra["x"] = 1
    s1.put(b)
    s1.close()

    s2 = SqliteStore(path, clock)  # type: ignore[arg-type]
    try:
        got = s2.get("acc", "job", "", "a")
        assert got is not None
        assert (got.id, got.etag, got.seq, got.last_modified, got.doc) == (a.id, a.etag, a.seq, a.last_modified, a.doc)
        task = s2.get("acc", "task", "a", "B")
        assert task is not None
        assert task.extra == {"x": 1}
        c = s2.insert(rec("c"))
        assert c.seq > b.seq, "seq must continue after a restart, or paging breaks"
        assert etag_value(c.etag) > etag_value(b.etag), "ETags must keep growing across restarts"
        assert [r.id for r in s2.list("acc", "job", "")] == ["A", "c"]
    finally:
        s2.close()


def test_sync_writes_commit_on_flush(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sync.db"
    s = SqliteStore(path, clock)  # type: ignore[arg-type]
    try:
        s.insert(rec("j1"))
        assert committed_rows(path) == 0, "outside a loop a write waits for flush()"
        s.flush()
        assert committed_rows(path) == 1
    finally:
        s.close()


def test_close_commits_pending_writes(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "close.db"
    s = SqliteStore(path, clock)  # type: ignore[arg-type]
    s.insert(rec("j1"))
    s.close()
    assert committed_rows(path) == 1


# -- grouped commits inside an event loop ------------------------------------------------------------


def _trace(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    return statements


def test_writes_in_one_tick_share_one_commit(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "group.db"

    async def main() -> tuple[int, int, list[str]]:
        s = SqliteStore(path, clock)  # type: ignore[arg-type]
        statements = _trace(s)
        try:
            for i in range(5):
                s.insert(rec(f"j{i}"))
            r = s.get("acc", "job", "", "j0")
            assert r is not None
            s.put(r)
            s.delete("acc", "job", "", "j4")
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


def test_separate_ticks_commit_separately(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ticks.db"

    async def main() -> list[str]:
        s = SqliteStore(path, clock)  # type: ignore[arg-type]
        statements = _trace(s)
        try:
            s.insert(rec("j1"))
            await s.committed()
            assert committed_rows(path) == 1
            s.insert(rec("j2"))
            s.insert(rec("j3"))
            await s.committed()
            assert committed_rows(path) == 3
            await s.committed()  # nothing pending: returns at once
            return list(statements)
        finally:
            s.close()

    statements = asyncio.run(main())
    assert sum(1 for st_ in statements if st_.strip().upper() == "COMMIT") == 2


def test_concurrent_writers_in_one_tick_all_wait_for_the_same_commit(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "concurrent.db"

    async def main() -> tuple[list[int], list[str]]:
        s = SqliteStore(path, clock)  # type: ignore[arg-type]
        statements = _trace(s)
        seen: list[int] = []

        async def request(i: int) -> None:
            s.insert(rec(f"j{i}"))
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


def test_reads_see_uncommitted_writes_of_the_same_store(tmp_path: Path, clock: FakeClock) -> None:
    async def main() -> None:
        s = SqliteStore(tmp_path / "ryw.db", clock)  # type: ignore[arg-type]
        try:
            s.insert(rec("j1"))
            assert s.get("acc", "job", "", "j1") is not None
            assert [r.id for r in s.list("acc", "job", "")] == ["j1"]
            await s.committed()
        finally:
            s.close()

    asyncio.run(main())
