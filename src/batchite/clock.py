"""The one injectable clock: every timestamp and timer in Batchite comes from a Clock.

`SystemClock` is service time on the running event loop: start + wall elapsed x time_scale, so
schedules, retention and wall-clock limits can be exercised in seconds. `ManualClock` stands still
until a test advances it, and runs the callbacks that fall due on the way, in order; the
scheduler's parts are tested with it, without an event loop, processes or sleeps.

Also the two text forms of a time the protocol uses: RFC 3339 (bodies, query parameters) and
RFC 1123 (HTTP headers).
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    time_scale: float

    def now(self) -> datetime: ...

    def call_soon(self, callback: Callable[[], None]) -> Timer:
        """Run `callback` after the current callback returns (many events, one pass)."""
        ...

    def call_later(self, delay: timedelta, callback: Callable[[], None]) -> Timer:
        """Run `callback` after `delay` of service time."""
        ...


class SystemClock:
    """Service time = start + (wall elapsed) x time_scale, timers on the running event loop."""

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

    def call_soon(self, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_soon(callback)

    def call_later(self, delay: timedelta, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(self.wall_delay(delay), callback)


class _ManualTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock for tests: time moves only by `advance`; `settle` runs what was called soon."""

    time_scale = 1.0

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._soon: list[_ManualTimer] = []
        self._later: list[tuple[datetime, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def call_soon(self, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer(callback)
        self._soon.append(timer)
        return timer

    def call_later(self, delay: timedelta, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer(callback)
        heapq.heappush(self._later, (self._now + max(delay, timedelta(0)), next(self._order), timer))
        return timer

    def settle(self) -> None:
        """Run every callback called soon, and those they call soon, until none is left."""
        while self._soon:
            batch, self._soon = self._soon, []
            for timer in batch:
                if not timer.cancelled:
                    timer.callback()

    def advance(self, delta: timedelta = timedelta(0)) -> None:
        """Move time forward, running timers as they fall due (and settling after each)."""
        self.settle()
        end = self._now + delta
        while self._later and self._later[0][0] <= end:
            when, _, timer = heapq.heappop(self._later)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback()
            self.settle()
        self._now = end

    def pending(self) -> int:
        """Timers not yet due (and not cancelled)."""
        return sum(1 for _, _, t in self._later if not t.cancelled)


def to_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with six fraction digits and 'Z': how Batchite writes times it stores."""
    return to_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(value: str) -> datetime:
    """RFC 3339 (a missing zone means UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def http_date(value: datetime) -> str:
    """RFC 1123, as HTTP headers carry times (Last-Modified, ocp-date)."""
    return format_datetime(to_utc(value), usegmt=True)


@functools.lru_cache(maxsize=256)  # every request of a second carries the same date
def parse_http_date(value: str) -> datetime:
    """RFC 1123 (and the other HTTP forms); a date without a zone is GMT. Raises ValueError."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"'{value}' is not an HTTP date") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)
