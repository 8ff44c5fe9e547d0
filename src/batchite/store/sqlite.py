"""SQLite store: WAL, one connection on the event loop thread, commits grouped per loop tick.

Every write runs inside an open transaction; the first write schedules one commit (within
COMMIT_DELAY for the scheduler's own writes), and every request that wrote awaits `committed()`
before it answers, which commits at the end of the current loop tick. So a response is sent only
after its change is on disk, and a burst of writes shares a commit.

One table holds every kind: the wire part and the internal part as JSON, and beside them the
columns queries need (state, a task's result and required slots, and when a completed task's
directory expires). The Batch accounts created through management have a table of their own
(store/accounts.py); each job's task counts too, kept by triggers (store/task_counts.py). A data
directory of an earlier schema (3 to 5) is migrated when it opens.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

from batchite import metrics
from batchite.clock import Clock, SystemClock, format_time
from batchite.domain.entities import (
    Application,
    ApplicationPackage,
    JobSchedule,
    Node,
    NodeUsage,
    NodeUser,
    Pool,
    PreparationStatus,
    Subtask,
    Task,
)
from batchite.domain.retention import retention_expiry
from batchite.domain.states import TaskState
from batchite.store.accounts import ACCOUNTS_TABLE, SqliteAccountRepository
from batchite.store.repositories import JobRepository, SqliteRepository, TaskRepository
from batchite.store.task_counts import FILL_TASK_COUNTS, TASK_COUNT_TRIGGERS, TASK_COUNTS_TABLE
from batchite.wire.models import BatchTask
from batchite.wire.types import decode

SCHEMA_VERSION = 6
MIGRATES_FROM = 3  # the oldest schema `_migrate` brings up to SCHEMA_VERSION
COMMIT_DELAY = 0.01  # seconds: how long the scheduler's own writes may wait to share a commit
SCHEMA = (
    """
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
    expires TEXT,
    UNIQUE (account, kind, parent, key)
);
CREATE INDEX IF NOT EXISTS entities_seq ON entities (account, kind, parent, seq);
CREATE INDEX IF NOT EXISTS entities_state ON entities (account, kind, parent, state, result, slots);
CREATE INDEX IF NOT EXISTS entities_expires ON entities (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
    + ACCOUNTS_TABLE
    + TASK_COUNTS_TABLE
    + TASK_COUNT_TRIGGERS
)


class SchemaMismatch(RuntimeError):
    pass


class Database:
    """The connection, its transaction and the grouped commit; shared by the repositories."""

    def __init__(self, path: Path | str, clock: Clock) -> None:
        self.path = str(path)
        self.clock = clock
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        has_table = self.conn.execute("SELECT 1 FROM sqlite_master WHERE name='entities'").fetchone()
        if has_table and MIGRATES_FROM <= version < SCHEMA_VERSION:
            self._migrate(version)
        elif has_table and version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"{self.path} was written by a newer Batchite (schema {version}; this one reads schemas "
                f"{MIGRATES_FROM} to {SCHEMA_VERSION}): upgrade Batchite, or use another --data-dir"
            )
        elif has_table and version != SCHEMA_VERSION:
            raise SchemaMismatch(
                f"{self.path} was written by a Batchite too old to migrate (schema {version}; this one "
                f"migrates schemas {MIGRATES_FROM} to {SCHEMA_VERSION}): use another --data-dir"
            )
        self.conn.executescript(SCHEMA)
        self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.lock = threading.RLock()  # only the CLI and tests touch the store off the loop
        self._in_tx = False
        self._writes = 0  # in the open transaction (every write calls begin)
        self._closed = False
        self._before_commit: dict[Hashable, Callable[[], None]] = {}
        self._commit_future: asyncio.Future[None] | None = None
        self._commit_timer: asyncio.TimerHandle | None = None
        self._commit_soon = False
        self.seq = int(self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entities").fetchone()[0])
        # ETags: a counter seeded from the clock in 100 ns ticks, so they grow across restarts.
        self._etag_counter = int(time.time() * 10_000_000) + 0x8D000000000000

    def _migrate(self, version: int) -> None:
        """Schema 3 -> 4: the `expires` column (and its index), filled in for the completed tasks.
        Schema 4 -> 5: the `batch_accounts` table (created with the schema, empty).
        Schema 5 -> 6: the `task_counts` table, filled from the tasks (store/task_counts.py)."""
        if version < 6:
            self.conn.execute("BEGIN")
            self.conn.execute(TASK_COUNTS_TABLE)
            self.conn.execute("DELETE FROM task_counts")
            self.conn.execute(FILL_TASK_COUNTS)
            self.conn.execute("COMMIT")
        if version >= 4:
            return
        self.conn.execute("BEGIN")
        self.conn.execute("ALTER TABLE entities ADD COLUMN expires TEXT")
        rows = self.conn.execute(
            "SELECT rowid, doc FROM entities WHERE kind=? AND state=?", (Task.KIND, str(TaskState.COMPLETED))
        ).fetchall()
        for rowid, doc in rows:
            expires = retention_expiry(decode(BatchTask, doc))
            if expires is not None:
                self.conn.execute("UPDATE entities SET expires=? WHERE rowid=?", (format_time(expires), rowid))
        self.conn.execute("COMMIT")

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_etag(self) -> str:
        self._etag_counter += 1
        return f"0x{self._etag_counter:X}"

    # -- transactions -------------------------------------------------------------------
    def begin(self) -> None:
        self._writes += 1
        if not self._in_tx:
            self.conn.execute("BEGIN")
            self._in_tx = True
            self._schedule_commit()

    def _schedule_commit(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (CLI, in-process tests): flush() commits explicitly
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

    def write_before_commit(self, key: Hashable, write: Callable[[], None]) -> None:
        with self.lock:
            self.begin()
            self._before_commit[key] = write

    def flush(self) -> None:
        with self.lock:
            started = time.perf_counter()
            while self._before_commit:  # a write may ask for another
                writes, self._before_commit = self._before_commit, {}
                for write in writes.values():
                    write()
            if self._in_tx:
                self.conn.execute("COMMIT")
                self._in_tx = False
                metrics.committed(time.perf_counter() - started, self._writes)
            self._writes = 0

    async def committed(self) -> None:
        if self._commit_future is not None and not self._commit_soon:
            self._commit_soon = True
            asyncio.get_running_loop().call_soon(self._commit)
        if self._commit_future is not None:
            await asyncio.shield(self._commit_future)
        elif self._in_tx:
            self.flush()

    def close(self) -> None:
        self.flush()
        self.conn.close()
        self._closed = True

    def health(self) -> str:
        """ "ok", or why the store cannot take a write (closed, its file or directory read-only)."""
        if self._closed:
            return "closed"
        try:
            with self.lock:
                self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            return f"unreadable: {exc}"
        if self.path == ":memory:":
            return "ok"
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.access(self.path, os.W_OK) or not os.access(directory, os.W_OK):
            return "read-only"
        return "ok"


class SqliteStore:
    def __init__(self, path: Path | str, clock: Clock | None = None) -> None:
        self.db = Database(path, clock or SystemClock())
        db = self.db
        self.pools = SqliteRepository(db, Pool)
        self.nodes = SqliteRepository(db, Node)
        self.node_users = SqliteRepository(db, NodeUser)
        self.node_usage = SqliteRepository(db, NodeUsage)
        self.jobs = JobRepository(db)
        self.schedules = SqliteRepository(db, JobSchedule)
        self.tasks = TaskRepository(db)
        self.subtasks = SqliteRepository(db, Subtask)
        self.prep_statuses = SqliteRepository(db, PreparationStatus)
        self.applications = SqliteRepository(db, Application)
        self.packages = SqliteRepository(db, ApplicationPackage)
        self.accounts = SqliteAccountRepository(db)

    @property
    def path(self) -> str:
        return self.db.path

    def next_number(self, name: str) -> int:
        db = self.db
        with db.lock:
            db.begin()
            row = db.conn.execute(
                "INSERT INTO meta (name, value) VALUES (?, 0) ON CONFLICT(name) DO UPDATE SET value = value + 1 "
                "RETURNING value",
                (name,),
            ).fetchone()
        return int(row[0])

    def write_before_commit(self, key: Hashable, write: Callable[[], None]) -> None:
        self.db.write_before_commit(key, write)

    def flush(self) -> None:
        self.db.flush()

    async def committed(self) -> None:
        await self.db.committed()

    def health(self) -> str:
        return self.db.health()

    def close(self) -> None:
        self.db.close()
