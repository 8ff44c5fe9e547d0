"""The stored Batch accounts (management's), one row each in `batch_accounts`, by name; and the
removal of everything an account owns from `entities`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from batchite.domain.entities.accounts import BatchAccountRecord

if TYPE_CHECKING:
    from batchite.store.sqlite import Database

ACCOUNTS_TABLE = """
CREATE TABLE IF NOT EXISTS batch_accounts (
    name TEXT PRIMARY KEY,
    resource_group TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""
_decoder = msgspec.json.Decoder(BatchAccountRecord)


class SqliteAccountRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, name: str) -> BatchAccountRecord | None:
        with self.db.lock:
            row = self.db.conn.execute("SELECT doc FROM batch_accounts WHERE name=?", (name,)).fetchone()
        return None if row is None else _decoder.decode(row[0])

    def list(self, resource_group: str | None = None) -> list[BatchAccountRecord]:
        """Every stored account (of one resource group, case-insensitively, if given), by name."""
        with self.db.lock:
            if resource_group is None:
                rows = self.db.conn.execute("SELECT doc FROM batch_accounts ORDER BY name").fetchall()
            else:
                rows = self.db.conn.execute(
                    "SELECT doc FROM batch_accounts WHERE lower(resource_group)=lower(?) ORDER BY name",
                    (resource_group,),
                ).fetchall()
        return [_decoder.decode(r[0]) for r in rows]

    def put(self, account: BatchAccountRecord) -> None:
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute(
                "INSERT OR REPLACE INTO batch_accounts (name, resource_group, doc) VALUES (?,?,?)",
                (account.name, account.resource_group, msgspec.json.encode(account).decode()),
            )

    def delete(self, name: str) -> None:
        """The account and every entity of it (pools, nodes, jobs, tasks, applications, ...)."""
        with self.db.lock:
            self.db.begin()
            self.db.conn.execute("DELETE FROM batch_accounts WHERE name=?", (name,))
            self.db.conn.execute("DELETE FROM entities WHERE account=?", (name,))

    def entity_count(self, name: str) -> int:
        """How many entities of any kind the account still has in the store."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT COUNT(*) FROM entities WHERE account=?", (name,)).fetchone()
        return int(row[0])
