"""The portal's price tables, per account, in one small JSON file (`DATA_DIR/portal/prices.json`).

The file is rewritten whole and atomically (a temporary file in the same directory, fsync,
os.replace) on every change, so a crash leaves the old table or the new one, never half of
either. A file that cannot be read or decoded is set aside (`prices.json.bad`) and the tables
start empty: the portal shows unpriced usage rather than failing. Calls are blocking: the layer
above runs them in a thread. The table's type is the caller's (any msgspec Struct): the store
holds no rule of prices.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T", bound=msgspec.Struct)
PRICES_FILE = "prices.json"
log = logging.getLogger("batchite.store")


class PriceFile(Generic[T]):
    def __init__(self, path: Path, table_type: type[T]) -> None:
        self._path = path
        self._type = table_type
        self._lock = threading.Lock()
        self._tables: dict[str, T] = self._load()

    @classmethod
    def in_data_dir(cls, data_dir: Path, table_type: type[T]) -> PriceFile[T]:
        return cls(data_dir / "portal" / PRICES_FILE, table_type)

    @property
    def path(self) -> Path:
        return self._path

    def _load(self) -> dict[str, T]:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as err:
            log.warning("price tables: cannot read %s (%s); starting empty", self._path, err)
            return {}
        try:
            return msgspec.json.decode(data, type=dict[str, self._type])  # type: ignore[name-defined]
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            log.warning("price tables: %s is not a price file (%s); set aside, starting empty", self._path, err)
            with contextlib.suppress(OSError):
                os.replace(self._path, self._path.with_name(self._path.name + ".bad"))
            return {}

    def _write(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = msgspec.json.format(msgspec.json.encode(self._tables))
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def get(self, account: str) -> T | None:
        with self._lock:
            return self._tables.get(account)

    def put(self, account: str, table: T) -> None:
        with self._lock:
            before = self._tables.get(account)
            self._tables[account] = table
            try:
                self._write()
            except OSError:
                if before is None:
                    del self._tables[account]
                else:
                    self._tables[account] = before
                raise
