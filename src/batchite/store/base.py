"""The Store protocol: one row per entity, the wire document as JSON, indexed columns beside it."""

# Record lives in the domain; it is re-exported here for the store's users.

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from batchite.domain.filters import Filter
from batchite.domain.record import Record


class Store(Protocol):
    def get(self, account: str, kind: str, parent: str, id: str) -> Record | None: ...

    def put(self, record: Record, *, modified: bool = True) -> Record: ...

    def insert(self, record: Record) -> Record: ...

    def delete(self, account: str, kind: str, parent: str, id: str) -> None: ...

    def delete_children(self, account: str, kind: str, parent: str) -> None: ...

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
    ) -> builtins.list[Record]: ...

    def all(self, kind: str) -> Iterable[Record]: ...

    def count_by_state(self, account: str, kind: str, parent: str) -> dict[str, int]: ...

    def count_by_state_and_result(
        self, account: str, kind: str, parent: str
    ) -> builtins.list[tuple[str, str | None, int, int]]: ...

    def new_etag(self) -> str: ...

    def flush(self) -> None: ...

    async def committed(self) -> None: ...

    def close(self) -> None: ...
