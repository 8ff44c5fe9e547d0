"""How the portal writes values: times, durations, sizes, states (Jinja2 filters)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any


def when(value: datetime | None) -> str:
    """A time in UTC, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S") + "Z" if value else "—"


def duration(value: timedelta | float | None) -> str:
    """3 h 05 m, 4 m 10 s, 2.5 s."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def size(value: int | None) -> str:
    """Bytes as B, KiB, MiB, GiB."""
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"


def state(value: Any) -> str:
    """An enum's wire value (idle, running...), or the text itself."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    return "" if value is None else str(value)


FILTERS: dict[str, Callable[..., str]] = {"when": when, "duration": duration, "size": size, "state": state}
