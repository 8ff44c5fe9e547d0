"""Persistence: the Store protocol and its SQLite implementation."""

from batchite.store.base import Record, Store
from batchite.store.sqlite import SqliteStore

__all__ = ["Record", "SqliteStore", "Store"]
