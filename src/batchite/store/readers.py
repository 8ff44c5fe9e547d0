"""Queries from worker threads (the portal's task table): each thread reads through a read-only
SQLite connection of its own, so a long query never holds the event loop's connection. An
in-memory database (tests) has no second connection: its queries take the shared one."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchite.store.sqlite import Database


class ThreadReaders:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.local = threading.local()

    def rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        path = self.db.path
        if not path or path == ":memory:" or path.startswith("file:"):
            with self.db.lock:
                return self.db.conn.execute(sql, args).fetchall()
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            self.local.conn = conn
        return conn.execute(sql, args).fetchall()
