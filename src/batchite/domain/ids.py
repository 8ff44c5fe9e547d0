"""Identifier rules: ids are 1-64 of [A-Za-z0-9_-], case-preserving and unique case-insensitively."""

from __future__ import annotations

import re

from batchite.domain.errors import invalid_property

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # \Z: "$" would let a final newline through


def check_id(value: str, prop: str = "id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise invalid_property(
            prop,
            value,
            "The id can contain any combination of alphanumeric characters including hyphens and underscores, "
            "and cannot contain more than 64 characters.",
        )
    return value


def key(value: str) -> str:
    """The storage key of an id: ids are unique case-insensitively."""
    return value.lower()
