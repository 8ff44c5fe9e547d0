"""Job schedule timers: one clock timer per schedule, firing a callback that the service registers.

The scheduler keeps the timers but knows nothing of what a schedule does when it falls due: the
service layer (the owner of job schedules) registers `on_due(account, schedule_key)` and decides.
Timers are never polled; the service re-arms them after a restart from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from batchite.clock import Clock, Timer

log = logging.getLogger("batchite.scheduler.timers")

DueCallback = Callable[[str, str], None]


class ScheduleTimers:
    """At most one armed timer per (account, schedule key); arming again replaces it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._handles: dict[tuple[str, str], tuple[datetime, Timer]] = {}
        self._on_due: DueCallback | None = None

    def register(self, on_due: DueCallback) -> None:
        self._on_due = on_due

    def arm(self, account: str, schedule_id: str, when: datetime) -> None:
        """Call the due-callback at service time `when` (at once if it is past)."""
        key = (account, schedule_id.lower())
        current = self._handles.get(key)
        if current is not None and current[0] == when:
            return
        self.cancel(account, schedule_id)
        delay = max(when - self.clock.now(), timedelta(0))
        try:
            handle = self.clock.call_later(delay, lambda: self._fire(key, when))
        except RuntimeError:  # no running loop (CLI, sync tests): recovery arms it later
            return
        self._handles[key] = (when, handle)

    def cancel(self, account: str, schedule_id: str) -> None:
        entry = self._handles.pop((account, schedule_id.lower()), None)
        if entry is not None:
            entry[1].cancel()

    def armed(self, account: str, schedule_id: str) -> datetime | None:
        """When the timer of a schedule fires next, if one is armed."""
        entry = self._handles.get((account, schedule_id.lower()))
        return entry[0] if entry else None

    def cancel_all(self) -> None:
        for _when, handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _fire(self, key: tuple[str, str], when: datetime) -> None:
        entry = self._handles.get(key)
        if entry is None or entry[0] != when:
            return  # re-armed or cancelled meanwhile
        del self._handles[key]
        if self._on_due is None:
            return
        try:
            self._on_due(*key)
        except Exception:  # a bug of ours must not stop the loop's other timers
            log.exception("job schedule %s/%s: timer callback failed", *key)
