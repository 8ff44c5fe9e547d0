"""Persistence of typed entities: the Store protocol (base.py) and its SQLite implementation."""

from batchite.store.base import Page, Store
from batchite.store.sqlite import SqliteStore

__all__ = ["Page", "SqliteStore", "Store"]
