"""Typed repositories over the `entities` table: one per kind, entities in and out.

A row is (account, kind, parent, key) -> the wire part (`doc`) and the internal part (`extra`) as
JSON, the ETag, Last-Modified and the position `seq`, and the columns queries need. Every query
the rest of Batchite makes is a method here; no SQL leaves this module and filter_sql.py.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from batchite.clock import format_time, parse_time
from batchite.domain.entities import Entity, Job, Task
from batchite.domain.filters import Filter
from batchite.domain.retention import retention_expiry
from batchite.store.base import Page, StateCount, TaskSort, TaskTimes
from batchite.store.filter_sql import compile_filter
from batchite.store.readers import ThreadReaders
from batchite.wire.types import decode, encode

if TYPE_CHECKING:
    from batchite.store.sqlite import Database

E = TypeVar("E", bound=Entity[Any, Any])

_COLUMNS = "parent, doc, extra, etag, last_modified, seq"
FILTER_COLUMNS = {"id": "key", "state": "state", "lastModified": "last_modified"}


# In place (an UPDATE when the row is there): only the indexes whose columns change are written,
# and the task counts' triggers see one update rather than a deletion and an insertion.
_UPSERT = (
    "INSERT INTO entities (account, kind, parent, key, id, state, etag, last_modified, "
    "seq, doc, extra, result, slots, expires) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (account, kind, parent, key) DO UPDATE SET id=excluded.id, state=excluded.state, "
    "etag=excluded.etag, last_modified=excluded.last_modified, seq=excluded.seq, doc=excluded.doc, "
    "extra=excluded.extra, result=excluded.result, slots=excluded.slots, expires=excluded.expires"
)


def _state_text(value: Any) -> str:
    return "" if value is None else str(value)


class SqliteRepository(Generic[E]):
    def __init__(self, db: Database, entity: type[E]) -> None:
        self.db = db
        self.entity = entity
        self.kind = entity.KIND

    # -- rows ---------------------------------------------------------------------------
    def _from_row(self, account: str, row: Sequence[Any]) -> E:
        parent, doc, extra, etag, last_modified, seq = row
        cls = self.entity
        return cls(
            account,
            parent,
            decode(cls.WIRE, doc),
            decode(cls.INTERNAL, extra),
            etag=etag,
            last_modified=parse_time(last_modified),
            seq=seq,
        )

    def _columns(self, entity: E) -> tuple[str | None, int, str | None]:
        """The task's result, required slots and retention expiry; other kinds have none."""
        return None, 1, None

    def _write(self, entity: E) -> None:
        result, slots, expires = self._columns(entity)
        assert entity.last_modified is not None
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute(
                _UPSERT,
                (
                    entity.account,
                    self.kind,
                    entity.parent,
                    entity.key,
                    entity.id,
                    _state_text(entity.state),
                    entity.etag,
                    format_time(entity.last_modified),
                    entity.seq,
                    encode(entity.wire).decode(),
                    encode(entity.internal).decode(),
                    result,
                    slots,
                    expires,
                ),
            )

    # -- writes -------------------------------------------------------------------------
    def insert(self, entity: E) -> E:
        with self.db.lock:
            entity.seq = self.db.next_seq()
        return self.update(entity)

    def update(self, entity: E, *, modified: bool = True) -> E:
        if modified or not entity.etag:
            entity.etag = self.db.new_etag()
            entity.last_modified = self.db.clock.now()
        self._write(entity)
        return entity

    def delete(self, account: str, parent: str, id: str) -> None:
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute(
                "DELETE FROM entities WHERE account=? AND kind=? AND parent=? AND key=?",
                (account, self.kind, parent, id.lower()),
            )

    def delete_all(self, account: str, parent: str) -> None:
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute(
                "DELETE FROM entities WHERE account=? AND kind=? AND parent=?", (account, self.kind, parent)
            )

    # -- reads --------------------------------------------------------------------------
    def get(self, account: str, parent: str, id: str) -> E | None:
        with self.db.lock:
            row = self.db.conn.execute(
                f"SELECT {_COLUMNS} FROM entities WHERE account=? AND kind=? AND parent=? AND key=?",
                (account, self.kind, parent, id.lower()),
            ).fetchone()
        return self._from_row(account, row) if row else None

    def exists(self, account: str, parent: str, id: str) -> bool:
        with self.db.lock:
            row = self.db.conn.execute(
                "SELECT 1 FROM entities WHERE account=? AND kind=? AND parent=? AND key=?",
                (account, self.kind, parent, id.lower()),
            ).fetchone()
        return row is not None

    def _select(
        self,
        account: str,
        parent: str,
        *,
        after: int = 0,
        limit: int | None = None,
        where: str = "",
        params: Sequence[Any] = (),
        flt: Filter | None = None,
    ) -> builtins.list[E]:
        sql = f"SELECT {_COLUMNS} FROM entities WHERE account=? AND kind=? AND parent=? AND seq>?"
        args: builtins.list[Any] = [account, self.kind, parent, after]
        if where:
            sql += f" AND ({where})"
            args.extend(params)
        if flt is not None:
            clause, values = compile_filter(flt, FILTER_COLUMNS)
            sql += f" AND ({clause})"
            args.extend(values)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self.db.lock:
            rows = self.db.conn.execute(sql, args).fetchall()
        return [self._from_row(account, r) for r in rows]

    @staticmethod
    def _state_clause(
        states: Iterable[Any] | None, exclude_states: Iterable[Any] | None
    ) -> tuple[str, builtins.list[str]]:
        clauses, params = [], []
        for values, op in ((states, "IN"), (exclude_states, "NOT IN")):
            if values is not None:
                texts = [_state_text(v) for v in values]
                empty = "1=0" if op == "IN" else "1=1"  # in no state: nothing; outside no state: everything
                clauses.append(f"state {op} ({','.join('?' * len(texts))})" if texts else empty)
                params.extend(texts)
        return " AND ".join(clauses), params

    def list(
        self,
        account: str,
        parent: str,
        *,
        states: Iterable[Any] | None = None,
        exclude_states: Iterable[Any] | None = None,
    ) -> builtins.list[E]:
        where, params = self._state_clause(states, exclude_states)
        return self._select(account, parent, where=where, params=params)

    def page(self, account: str, parent: str, after: int, limit: int, flt: Filter | None = None) -> Page[E]:
        return self._page(account, parent, after, limit, flt)

    def _page(
        self,
        account: str,
        parent: str,
        after: int,
        limit: int,
        flt: Filter | None,
        where: str = "",
        params: Sequence[Any] = (),
    ) -> Page[E]:
        items = self._select(account, parent, after=after, limit=limit + 1, where=where, params=params, flt=flt)
        more = len(items) > limit
        items = items[:limit]
        return Page(items, items[-1].seq if more and items else None)

    def every(self) -> Iterator[E]:
        with self.db.lock:
            rows = self.db.conn.execute(
                f"SELECT account, {_COLUMNS} FROM entities WHERE kind=? ORDER BY seq", (self.kind,)
            ).fetchall()
        return (self._from_row(row[0], row[1:]) for row in rows)

    def count(self, account: str, parent: str, *, exclude_states: Iterable[Any] | None = None) -> int:
        where, params = self._state_clause(None, exclude_states)
        sql = "SELECT COUNT(*) FROM entities WHERE account=? AND kind=? AND parent=?"
        with self.db.lock:
            row = self.db.conn.execute(
                sql + (f" AND {where}" if where else ""), (account, self.kind, parent, *params)
            ).fetchone()
        return int(row[0])


# -- reads off the event loop ----------------------------------------------------------------
# The portal's big task queries run on worker threads. Each thread reads through a read-only
# connection of its own: under WAL it sees what is committed and never waits for (nor holds up)
# the event loop's connection and its open transaction. An in-memory database has only the one
# connection, read under its lock.


# How each column of the task table sorts: the indexed columns, else the wire document's field.
# Times compare as their RFC 3339 text (UTC, so it orders like the instants).
_TASK_SORTS: dict[TaskSort, str] = {
    TaskSort.ID: "key",
    TaskSort.STATE: "state",
    TaskSort.EXIT_CODE: "json_extract(doc, '$.executionInfo.exitCode')",
    TaskSort.NODE: "lower(json_extract(doc, '$.nodeInfo.nodeId'))",
    TaskSort.CREATED: "json_extract(doc, '$.creationTime')",
    TaskSort.STARTED: "json_extract(doc, '$.executionInfo.startTime')",
    TaskSort.ENDED: "json_extract(doc, '$.executionInfo.endTime')",
}
_EPOCH = "(julianday(json_extract(doc, '{}')) - 2440587.5) * 86400.0"  # seconds since 1970, to the ms
_TIMES = (
    "SELECT id, state, result, json_extract(doc, '$.nodeInfo.nodeId'), "
    + ", ".join(_EPOCH.format(p) for p in ("$.creationTime", "$.executionInfo.startTime", "$.executionInfo.endTime"))
    + " FROM entities WHERE account=? AND kind=? AND parent=?"
)


def _times(row: Sequence[Any]) -> TaskTimes:
    return TaskTimes._make(row)


class TaskRepository(SqliteRepository[Task]):
    def __init__(self, db: Database) -> None:
        super().__init__(db, Task)
        self._readers = ThreadReaders(db)  # the task table's queries, from worker threads

    def update_internal(self, task: Task) -> None:
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute(
                "UPDATE entities SET extra=? WHERE account=? AND kind=? AND parent=? AND key=?",
                (encode(task.internal).decode(), task.account, self.kind, task.parent, task.key),
            )

    def _columns(self, entity: Task) -> tuple[str | None, int, str | None]:
        info = entity.wire.execution_info
        result = info.result if info is not None else None
        expires = retention_expiry(entity.wire)
        return (
            None if result is None else str(result),
            entity.required_slots,
            None if expires is None else format_time(expires),
        )

    def expired(self, now: datetime, limit: int) -> builtins.list[Task]:
        """Completed tasks (of every account) whose retention ended by `now`, earliest first."""
        with self.db.lock:
            rows = self.db.conn.execute(
                f"SELECT account, {_COLUMNS} FROM entities WHERE expires IS NOT NULL AND expires<=? AND kind=? "
                "ORDER BY expires LIMIT ?",
                (format_time(now), self.kind, limit),
            ).fetchall()
        return [self._from_row(row[0], row[1:]) for row in rows]

    def next_expiry(self) -> datetime | None:
        """When the next completed task's retention ends (from the index)."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT MIN(expires) FROM entities WHERE expires IS NOT NULL").fetchone()
        return parse_time(row[0]) if row and row[0] else None

    def retained(self, task: Task) -> None:
        """Its directory is gone: it expires no more (its ETag stays: nobody sees this change)."""
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute(
                "UPDATE entities SET expires=NULL WHERE account=? AND kind=? AND parent=? AND key=?",
                (task.account, self.kind, task.parent, task.key),
            )

    def counts(self, account: str, job_key: str) -> builtins.list[StateCount]:
        """Tasks (and their slots) by state and result, from the table the store's triggers keep
        (store/task_counts.py): a few rows, however many tasks the job has."""
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT state, result, tasks, slots FROM task_counts WHERE account=? AND job=? AND tasks > 0",
                (account, job_key),
            ).fetchall()
        return [StateCount(str(state), result or None, int(count), int(slots)) for state, result, count, slots in rows]

    def totals_by_state(self) -> dict[str, int]:
        """Tasks of every account by state, from the same table as `counts` (the metrics' gauge)."""
        with self.db.lock:
            rows = self.db.conn.execute("SELECT state, SUM(tasks) FROM task_counts GROUP BY state").fetchall()
        return {str(state): int(count) for state, count in rows}

    def multi_instance(self, account: str, job_key: str) -> builtins.list[Task]:
        return self._select(account, job_key, where="json_extract(doc, '$.multiInstanceSettings') IS NOT NULL")

    # -- the job task table (worker threads) -------------------------------------------------
    @staticmethod
    def _where(account: str, job_key: str, flt: Filter | None) -> tuple[str, builtins.list[Any]]:
        sql = "account=? AND kind=? AND parent=?"
        args: builtins.list[Any] = [account, Task.KIND, job_key]
        if flt is not None:
            clause, values = compile_filter(flt, FILTER_COLUMNS)
            sql += f" AND ({clause})"
            args.extend(values)
        return sql, args

    def sorted_page(
        self,
        account: str,
        job_key: str,
        *,
        sort: TaskSort,
        descending: bool,
        offset: int,
        limit: int,
        flt: Filter | None = None,
    ) -> builtins.list[Task]:
        where, args = self._where(account, job_key, flt)
        order = "DESC" if descending else "ASC"
        if sort is TaskSort.ID:
            # The key is unique in a job (no tie-break) and the (account, kind, parent, key) index
            # gives the order without a sort.
            sql = f"SELECT {_COLUMNS} FROM entities WHERE {where} ORDER BY key {order} LIMIT ? OFFSET ?"
            rows = self._readers.rows(sql, [*args, limit, offset])
        else:
            # Sort only (rowid, value, seq), then read the page's rows: the sorter keeps OFFSET+LIMIT
            # small records, not whole documents (a last page of 100,000 is then as quick as the first).
            by = f"v {order} NULLS LAST, s {order}"
            sql = (
                f"SELECT {', '.join('e.' + c for c in _COLUMNS.split(', '))} FROM "
                f"(SELECT rowid AS r, {_TASK_SORTS[sort]} AS v, seq AS s FROM entities WHERE {where} "
                f"ORDER BY {by} LIMIT ? OFFSET ?) AS p JOIN entities AS e ON e.rowid = p.r ORDER BY {by}"
            )
            rows = self._readers.rows(sql, [*args, limit, offset])
        return [self._from_row(account, r) for r in rows]

    def count_matching(self, account: str, job_key: str, flt: Filter | None = None) -> int:
        where, args = self._where(account, job_key, flt)
        rows = self._readers.rows(f"SELECT COUNT(*) FROM entities WHERE {where}", args)
        return int(rows[0][0])

    def times(self, account: str, job_key: str) -> builtins.list[TaskTimes]:
        rows = self._readers.rows(_TIMES + " ORDER BY seq", [account, Task.KIND, job_key])
        return [_times(r) for r in rows]


class JobRepository(SqliteRepository[Job]):
    _OF_SCHEDULE = "json_extract(extra, '$.schedule') = ?"

    def __init__(self, db: Database) -> None:
        super().__init__(db, Job)

    def of_schedule(self, account: str, schedule_key: str) -> builtins.list[Job]:
        return self._select(account, "", where=self._OF_SCHEDULE, params=(schedule_key,))

    def page_of_schedule(
        self, account: str, schedule_key: str, after: int, limit: int, flt: Filter | None = None
    ) -> Page[Job]:
        return self._page(account, "", after, limit, flt, self._OF_SCHEDULE, (schedule_key,))
