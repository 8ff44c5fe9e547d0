"""The one injectable clock: every timer and timestamp in Batchite comes from here.

`time_scale` speeds up service time relative to wall time, so schedules, retention and
wall-clock limits can be exercised in seconds. A `ManualClock` is advanced by tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter


class Clock:
    """Service time = start + (wall elapsed) * time_scale."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._mono0) * self.time_scale
        return datetime.fromtimestamp(self._wall0 + elapsed, tz=UTC)

    def wall_delay(self, service_delay: timedelta) -> float:
        """How many real seconds correspond to a service-time delay."""
        return max(0.0, service_delay.total_seconds() / self.time_scale)

    def call_later(self, delay: timedelta, callback: Callable[[], None]) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(self.wall_delay(delay), callback)


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 with 'Z', as the Batch service writes times in bodies."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


_DURATION = TypeAdapter(timedelta)
_DURATIONS: dict[str, timedelta | None] = {}


def parse_duration(value: str | None) -> timedelta | None:
    """An ISO 8601 duration ("PT1H", "P7D", "P10675199DT2H48M5.4775807S") as a timedelta."""
    if value is None:
        return None
    if value not in _DURATIONS:
        try:
            parsed: timedelta | None = _DURATION.validate_python(value)
        except ValueError:
            parsed = timedelta.max if value.startswith("P10675199D") else None
        if len(_DURATIONS) < 4096:
            _DURATIONS[value] = parsed
        return parsed
    return _DURATIONS[value]

