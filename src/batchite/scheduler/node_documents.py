"""Node documents: what changes with every task (running counts, totals, recent tasks).

Those writes are grouped: a node's changes are applied and stored at most every FLUSH_DELAY, and
at once before anything reads nodes (`flush`).
"""

from __future__ import annotations

from datetime import timedelta

from batchite.clock import Clock, Timer
from batchite.domain.states import TaskState
from batchite.domain.urls import Urls
from batchite.scheduler.live import LiveNode
from batchite.store.base import Store
from batchite.wire.models import BatchTaskInfo

RECENT_TASKS = 10
FLUSH_DELAY = timedelta(milliseconds=50)  # node documents are written at most this often


class NodeDocuments:
    def __init__(self, store: Store, clock: Clock, urls: Urls) -> None:
        self.store = store
        self.clock = clock
        self.urls = urls
        self._dirty: set[LiveNode] = set()
        self._timer: Timer | None = None

    def record(
        self, node: LiveNode, job_id: str, task_id: str, *, started: bool, succeeded: bool | None = None
    ) -> None:
        """A task started on the node, or ended there (`succeeded` None: it did not complete)."""
        node.recent.append((started, job_id, task_id, succeeded))
        if not self._dirty:
            self._timer = self.clock.call_later(FLUSH_DELAY, self.flush)
        self._dirty.add(node)

    def forget(self, node: LiveNode) -> None:
        """The node left its pool: nothing more is written about it."""
        self._dirty.discard(node)

    def flush(self) -> None:
        """Bring the node documents up to date now (before they are read); otherwise within 50 ms."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, self._dirty = self._dirty, set()
        for node in dirty:
            recent, node.recent = node.recent, []
            wire = node.entity.wire
            tasks = list(wire.recent_tasks or [])
            for started, job_id, task_id, succeeded in recent:
                tasks = [t for t in tasks if t.task_id != task_id or t.job_id != job_id]
                url = self.urls.task(node.spec.account, job_id, task_id)
                if started:
                    wire.total_tasks_run += 1
                    state = TaskState.RUNNING
                else:
                    if succeeded:
                        wire.total_tasks_succeeded = (wire.total_tasks_succeeded or 0) + 1
                    state = TaskState.COMPLETED if succeeded is not None else TaskState.ACTIVE
                tasks.insert(0, BatchTaskInfo(task_url=url, job_id=job_id, task_id=task_id, task_state=state))
            wire.recent_tasks = tasks[:RECENT_TASKS]
            wire.running_tasks_count = len(node.runs)
            wire.running_task_slots_count = node.used
            self.store.nodes.update(node.entity)
