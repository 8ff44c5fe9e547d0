"""Completed tasks' directories go from their nodes when their retention ends: one timer in all.

The store keeps each completed task's expiry in an index; one clock timer is armed for the earliest
one. When it fires, the expired tasks are read from the index in batches (a batch per loop pass, so
a backlog after a long stop does not hold the loop), their directories removed, and the timer is
armed for the next expiry. A task completing earlier than the armed time brings the timer forward.
Nothing is kept per task in memory, and a restarted service finds the expiries in the store.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from batchite.clock import Clock, Timer
from batchite.compute.protocol import NodeBackend
from batchite.domain.entities import Task
from batchite.domain.retention import retention_expiry
from batchite.scheduler.live import Projection
from batchite.store.base import Store

BATCH = 200  # expired tasks handled per loop pass


class Retention:
    def __init__(self, store: Store, backend: NodeBackend, clock: Clock, projection: Projection) -> None:
        self.store = store
        self.backend = backend
        self.clock = clock
        self.projection = projection
        self._timer: Timer | None = None
        self._when: datetime | None = None

    def completed(self, task: Task) -> None:
        """A task completed (it is stored): its expiry may come before the armed one."""
        expires = retention_expiry(task.wire)
        if expires is not None and (self._when is None or expires < self._when):
            self._arm(expires)

    def arm_next(self) -> None:
        """Arm the timer for the earliest expiry in the store (at start, and after each sweep)."""
        expires = self.store.tasks.next_expiry()
        if expires is None:
            self.stop()
        elif expires != self._when:
            self._arm(expires)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._when = None

    def _arm(self, when: datetime) -> None:
        self.stop()
        try:
            self._timer = self.clock.call_later(max(timedelta(0), when - self.clock.now()), self._sweep)
        except RuntimeError:  # no running loop (the CLI): the service arms it when it starts
            return
        self._when = when

    def _sweep(self) -> None:
        self._timer = self._when = None
        expired = self.store.tasks.expired(self.clock.now(), BATCH)
        for task in expired:
            self._remove(task)
            self.store.tasks.retained(task)
        if len(expired) == BATCH:  # more are due: on the next pass, after what else waits
            self._when = self.clock.now()
            self._timer = self.clock.call_soon(self._sweep)
            return
        self.arm_next()

    def _remove(self, task: Task) -> None:
        info = task.wire.node_info
        if info is None or not info.task_root_directory:
            return
        found = self.projection.node(task.account, info.pool_id or "", info.node_id or "")
        if found is not None:
            self.backend.remove_directory(found[1].spec, info.task_root_directory)
