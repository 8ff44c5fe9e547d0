"""The job task table's store queries on a real SqliteStore: sorted pages (each column, both ways,
ties in creation order, missing values last), filters and counts, the charts' times and latest runs,
read from worker threads; and the table's query and page arithmetic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchite.domain.entities import Task
from batchite.domain.entities.records import TaskInternal
from batchite.domain.odata import parse_list_filter
from batchite.service.task_table import TaskQuery, TaskTablePage, latest_runs
from batchite.store.base import TaskSort
from batchite.store.sqlite import SqliteStore
from batchite.wire.enums import BatchTaskExecutionResult, BatchTaskState
from batchite.wire.models import BatchNodeInfo, BatchTask, BatchTaskExecutionInfo

T0 = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
ACCOUNT, JOB = "acct", "job1"


def _task(ident: str, minute: int, *, node: str | None = None, exit_code: int | None = None, ran: bool = True) -> Task:
    created = T0 + timedelta(minutes=minute)
    info = None
    if ran:
        info = BatchTaskExecutionInfo(
            start_time=created + timedelta(seconds=30),
            end_time=created + timedelta(seconds=40 + minute),
            exit_code=exit_code,
            retry_count=0,
            requeue_count=0,
            result=BatchTaskExecutionResult.SUCCESS if exit_code == 0 else BatchTaskExecutionResult.FAILURE,
        )
    wire = BatchTask(
        id=ident,
        creation_time=created,
        state=BatchTaskState.COMPLETED if ran else BatchTaskState.ACTIVE,
        state_transition_time=created,
        command_line="/bin/true",
        execution_info=info,
        node_info=BatchNodeInfo(node_id=node, pool_id="p") if node else None,
    )
    return Task(ACCOUNT, JOB, wire, TaskInternal())


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "batchite.db")
    for task in [
        _task("Task-B", 0, node="node-2", exit_code=1),
        _task("task-a", 1, node="node-1", exit_code=0),
        _task("task-c", 2, node="node-2", exit_code=0),
        _task("task-d", 3, ran=False),
        _task("task-e", 4, node="Node-3", exit_code=2),
    ]:
        s.tasks.insert(task)
    s.tasks.insert(_task("other", 0, node="node-1", exit_code=0))
    other = _task("elsewhere", 0)
    other.parent = "job2"
    s.tasks.insert(other)
    s.flush()  # the readers see what is committed
    return s


def _ids(
    store: SqliteStore,
    sort: TaskSort,
    descending: bool = False,
    *,
    offset: int = 0,
    limit: int = 100,
    flt: str | None = None,
) -> list[str]:
    page = store.tasks.sorted_page(
        ACCOUNT,
        JOB,
        sort=sort,
        descending=descending,
        offset=offset,
        limit=limit,
        flt=parse_list_filter("tasks", flt) if flt else None,
    )
    return [t.id for t in page]


def test_sorted_by_each_column(store: SqliteStore) -> None:
    assert _ids(store, TaskSort.ID) == ["other", "task-a", "Task-B", "task-c", "task-d", "task-e"]
    assert _ids(store, TaskSort.ID, True) == ["task-e", "task-d", "task-c", "Task-B", "task-a", "other"]
    # ties in creation order (seq), both ways
    assert _ids(store, TaskSort.STATE) == ["task-d", "Task-B", "task-a", "task-c", "task-e", "other"]
    assert _ids(store, TaskSort.STATE, True) == ["other", "task-e", "task-c", "task-a", "Task-B", "task-d"]
    # values the task lacks (it never ran) last, either way
    assert _ids(store, TaskSort.EXIT_CODE) == ["task-a", "task-c", "other", "Task-B", "task-e", "task-d"]
    assert _ids(store, TaskSort.EXIT_CODE, True) == ["task-e", "Task-B", "other", "task-c", "task-a", "task-d"]
    assert _ids(store, TaskSort.NODE) == ["task-a", "other", "Task-B", "task-c", "task-e", "task-d"]
    assert _ids(store, TaskSort.CREATED) == ["Task-B", "other", "task-a", "task-c", "task-d", "task-e"]
    assert _ids(store, TaskSort.STARTED, True) == ["task-e", "task-c", "task-a", "other", "Task-B", "task-d"]
    assert _ids(store, TaskSort.ENDED, True)[0] == "task-e"
    assert _ids(store, TaskSort.ENDED)[-1] == "task-d"


def test_pages_and_filters(store: SqliteStore) -> None:
    assert _ids(store, TaskSort.ID, offset=2, limit=2) == ["Task-B", "task-c"]
    assert _ids(store, TaskSort.ID, flt="startswith(id,'TASK-')") == ["task-a", "Task-B", "task-c", "task-d", "task-e"]
    assert _ids(store, TaskSort.ID, True, flt="executionInfo/exitCode ne 0") == ["task-e", "task-d", "Task-B"]
    assert _ids(store, TaskSort.ID, flt="state eq 'active'") == ["task-d"]
    tasks = store.tasks
    assert tasks.count_matching(ACCOUNT, JOB) == 6
    assert tasks.count_matching(ACCOUNT, JOB, parse_list_filter("tasks", "executionInfo/exitCode eq 0")) == 3
    assert tasks.count_matching(ACCOUNT, "job2") == 1


def test_times_and_latest_runs(store: SqliteStore) -> None:
    times = {t.id: t for t in store.tasks.times(ACCOUNT, JOB)}
    assert len(times) == 6
    b = times["Task-B"]
    assert (b.state, b.result, b.node) == ("completed", "failure", "node-2")
    assert b.created == pytest.approx(T0.timestamp(), abs=0.002)
    assert b.started == pytest.approx(T0.timestamp() + 30, abs=0.002)
    assert times["task-d"].started is None and times["task-d"].ended is None
    latest = latest_runs(list(times.values()), limit=2)
    assert latest.total == 5 and [r.id for r in latest.runs] == ["task-e", "task-c"]  # the latest started first


def test_read_from_a_worker_thread_sees_what_is_committed(store: SqliteStore) -> None:
    store.tasks.insert(_task("task-f", 5, ran=False))  # not committed yet: the readers do not see it
    found: list[int] = []
    worker = threading.Thread(target=lambda: found.append(store.tasks.count_matching(ACCOUNT, JOB)))
    worker.start()
    worker.join()
    assert found == [6]
    store.flush()
    assert store.tasks.count_matching(ACCOUNT, JOB) == 7


def test_the_query_from_page_parameters() -> None:
    assert TaskQuery.of(" id eq 'x' ", "exitCode", "desc", "3", "50") == TaskQuery(
        "id eq 'x'", TaskSort.EXIT_CODE, True, 3, 50
    )
    assert TaskQuery.of("", "nonsense", "sideways", "-2", "7") == TaskQuery()  # defaults


def test_page_rows_and_neighbours() -> None:
    page = TaskTablePage([object()] * 50, 120, TaskQuery(page=2, size=50))  # type: ignore[list-item]
    assert (page.first, page.last, page.has_previous, page.has_next) == (51, 100, True, True)
    last = TaskTablePage([object()] * 20, 120, TaskQuery(page=3, size=50))  # type: ignore[list-item]
    assert (last.first, last.last, last.has_next) == (101, 120, False)
    empty = TaskTablePage([], 0, TaskQuery())
    assert (empty.first, empty.last, empty.has_previous, empty.has_next) == (0, 0, False, False)
