"""SQLite store: WAL, one connection on the event loop thread, commits grouped per loop tick.

Every write runs inside an open transaction; the first write of a tick schedules one commit
with `loop.call_soon`, and every request that wrote awaits `committed()` before it answers.
So a response is sent only after its change is on disk, and a burst of writes shares a commit.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from batchite.clock import Clock, format_time, parse_time
from batchite.domain.filters import Filter
from batchite.store.base import Record
from batchite.store.filter_sql import compile_filter

SCHEMA_VERSION = 3
COMMIT_DELAY = 0.01  # seconds: how long the scheduler's own writes may wait to share a commit
SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent TEXT NOT NULL,
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    slots INTEGER NOT NULL DEFAULT 1,
    UNIQUE (account, kind, parent, key)
);
CREATE INDEX IF NOT EXISTS entities_seq ON entities (account, kind, parent, seq);
CREATE INDEX IF NOT EXISTS entities_state ON entities (account, kind, parent, state, result, slots);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_COLUMNS = "account, kind, parent, id, doc, etag, last_modified, seq, extra"


class SqliteStore:
    def __init__(self, path: Path | str, clock: Clock | None = None) -> None:
        self.path = str(path)
        self.clock = clock or Clock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=OFF")
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        has_table = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name='entities'").fetchone()
        if has_table and version != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by another version of Batchite (schema {version}, "
                f"this one reads {SCHEMA_VERSION}); use a new --data-dir"
            )
        self._conn.executescript(SCHEMA)
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._lock = threading.RLock()  # only the CLI and tests touch the store off the loop
        self._in_tx = False
        self._commit_future: asyncio.Future[None] | None = None
        self._commit_timer: asyncio.TimerHandle | None = None
        self._commit_soon = False
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entities").fetchone()
        self._seq = int(row[0])
        # ETags: a counter seeded from the clock in 100 ns ticks, so they grow across restarts.
        self._etag_counter = int(time.time() * 10_000_000) + 0x8D000000000000

    # -- transactions -------------------------------------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self._conn.execute("BEGIN")
            self._in_tx = True
            self._schedule_commit()

    def _schedule_commit(self) -> None:
        """Writes nobody waits for (the scheduler's) are committed within COMMIT_DELAY; a request
        that awaits `committed()` has its commit run at the end of the current loop tick."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (CLI / sync tests): flush() commits explicitly
        if self._commit_future is None:
            self._commit_future = loop.create_future()
            self._commit_timer = loop.call_later(COMMIT_DELAY, self._commit)

    def _commit(self) -> None:
        if self._commit_timer is not None:
            self._commit_timer.cancel()
            self._commit_timer = None
        self._commit_soon = False
        fut, self._commit_future = self._commit_future, None
        try:
            self.flush()
        except Exception as exc:  # pragma: no cover - disk full and the like
            if fut is not None and not fut.done():
                fut.set_exception(exc)
            return
        if fut is not None and not fut.done():
            fut.set_result(None)

    def flush(self) -> None:
        with self._lock:
            if self._in_tx:
                self._conn.execute("COMMIT")
                self._in_tx = False

    async def committed(self) -> None:
        """Wait until every write made so far is committed."""
        if self._commit_future is not None and not self._commit_soon:
            self._commit_soon = True
            asyncio.get_running_loop().call_soon(self._commit)
        if self._commit_future is not None:
            await asyncio.shield(self._commit_future)
        elif self._in_tx:
            self.flush()

    # -- writes -------------------------------------------------------------------------
    def new_etag(self) -> str:
        self._etag_counter += 1
        return f"0x{self._etag_counter:X}"

    def insert(self, record: Record) -> Record:
        with self._lock:
            self._seq += 1
            record.seq = self._seq
        return self.put(record)

    def put(self, record: Record, *, modified: bool = True) -> Record:
        if modified or not record.etag:
            record.etag = self.new_etag()
            record.last_modified = self.clock.now()
        assert record.last_modified is not None
        record.doc["eTag"] = record.etag
        record.doc["lastModified"] = format_time(record.last_modified)
        with self._lock:
            self._begin()
            self._conn.execute(
                "INSERT OR REPLACE INTO entities (account, kind, parent, key, id, state, etag, last_modified, "
                "seq, doc, extra, result, slots) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.account,
                    record.kind,
                    record.parent,
                    record.key,
                    record.id,
                    record.state,
                    record.etag,
                    format_time(record.last_modified),
                    record.seq,
                    json.dumps(record.doc, separators=(",", ":")),
                    json.dumps(record.extra, separators=(",", ":")),
                    (record.doc.get("executionInfo") or {}).get("result"),
                    int(record.doc.get("requiredSlots") or 1),
                ),
            )
        return record

    def delete(self, account: str, kind: str, parent: str, id: str) -> None:
        with self._lock:
            self._begin()
            self._conn.execute(
                "DELETE FROM entities WHERE account=? AND kind=? AND parent=? AND key=?",
                (account, kind, parent, id.lower()),
            )

    def delete_children(self, account: str, kind: str, parent: str) -> None:
        with self._lock:
            self._begin()
            self._conn.execute("DELETE FROM entities WHERE account=? AND kind=? AND parent=?", (account, kind, parent))

    # -- reads --------------------------------------------------------------------------
    @staticmethod
    def _record(row: Sequence[Any]) -> Record:
        account, kind, parent, id_, doc, etag, last_modified, seq, extra = row
        return Record(
            account=account,
            kind=kind,
            parent=parent,
            id=id_,
            doc=json.loads(doc),
            etag=etag,
            last_modified=parse_time(last_modified),
            seq=seq,
            extra=json.loads(extra),
        )

    def get(self, account: str, kind: str, parent: str, id: str) -> Record | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM entities WHERE account=? AND kind=? AND parent=? AND key=?",
                (account, kind, parent, id.lower()),
            ).fetchone()
        return self._record(row) if row else None

    def list(
        self,
        account: str,
        kind: str,
        parent: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        where: str = "",
        params: Sequence[Any] = (),
        flt: Filter | None = None,
    ) -> builtins.list[Record]:
        sql = f"SELECT {_COLUMNS} FROM entities WHERE account=? AND kind=? AND parent=? AND seq>?"
        args: builtins.list[Any] = [account, kind, parent, after_seq]
        if where:
            sql += f" AND ({where})"
            args.extend(params)
        if flt is not None:
            clause, values = compile_filter(flt)
            sql += f" AND ({clause})"
            args.extend(values)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._record(r) for r in rows]

    def all(self, kind: str) -> Iterator[Record]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM entities WHERE kind=? ORDER BY seq", (kind,)).fetchall()
        return (self._record(r) for r in rows)

    def count_by_state(self, account: str, kind: str, parent: str) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, COUNT(*) FROM entities WHERE account=? AND kind=? AND parent=? GROUP BY state",
                (account, kind, parent),
            ).fetchall()
        return {str(s): int(n) for s, n in rows}

    def count_by_state_and_result(
        self, account: str, kind: str, parent: str
    ) -> builtins.list[tuple[str, str | None, int, int]]:
        """Rows of (state, executionInfo.result, count, sum of requiredSlots), from the covering index."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, result, COUNT(*), SUM(slots) FROM entities "
                "WHERE account=? AND kind=? AND parent=? GROUP BY state, result",
                (account, kind, parent),
            ).fetchall()
        return [(str(s), r, int(n), int(t or 0)) for s, r, n, t in rows]

    def close(self) -> None:
        self.flush()
        self._conn.close()
