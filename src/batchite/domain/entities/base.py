"""The shape every entity shares: an account, a parent key, a wire part, an internal part."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

W = TypeVar("W", bound=msgspec.Struct)
I = TypeVar("I", bound="Internal")  # noqa: E741


class Internal(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """Base of the internal parts: what the service keeps about an entity and never shows."""


class NoInternal(Internal):
    pass


KINDS: dict[str, type[Entity[Any, Any]]] = {}


class Entity(Generic[W, I]):
    """One stored entity. `parent` is the key of what it belongs to ('' for top-level kinds)."""

    KIND: ClassVar[str]
    WIRE: ClassVar[type[msgspec.Struct]]
    INTERNAL: ClassVar[type[Internal]] = NoInternal

    __slots__ = ("account", "etag", "internal", "last_modified", "parent", "seq", "wire")

    def __init__(
        self,
        account: str,
        parent: str,
        wire: W,
        internal: I | None = None,
        *,
        etag: str = "",
        last_modified: datetime | None = None,
        seq: int = 0,
    ) -> None:
        self.account = account
        self.parent = parent
        self.wire = wire
        self.internal: I = internal if internal is not None else self.INTERNAL()  # type: ignore[assignment]
        self.etag = etag
        self.last_modified = last_modified
        self.seq = seq

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "KIND" in cls.__dict__:
            KINDS[cls.KIND] = cls

    @property
    def id(self) -> str:
        return str(self.wire.id)  # type: ignore[attr-defined]

    @property
    def key(self) -> str:
        """Ids are unique case-insensitively; the key is the lower-cased id."""
        return self.id.lower()

    @property
    def state(self) -> Any:
        """The lifecycle state (an enum), for the kinds that have one; what the store indexes."""
        return getattr(self.wire, "state", None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.account}/{self.parent}/{self.id} seq={self.seq})"
