"""Record: one stored entity, as the domain and the store both see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Record:
    """One stored entity. `doc` is its wire document (camelCase names, as the API shows it)."""

    account: str
    kind: str
    parent: str
    id: str
    doc: dict[str, Any]
    etag: str = ""
    last_modified: datetime | None = None
    seq: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def state(self) -> str:
        return str(self.doc.get("state", ""))
