"""A pool being deleted: `deleting` (allocation `resizing`) while its nodes leave, then gone.

As on Azure, deleting a pool stops any resize, requeues the tasks running on its nodes (as a
resize with the default `requeue` option does) and shrinks it to nothing; only when its last node
has left is the pool removed. Each node goes `leavingPool` at once; it is released once the
processes that ran there have ended (the agent reports each end), and then after the release
time (`SchedulerSettings.node_release_time`, service time), which stands for the VM being handed
back: until then its files, the job manager's output among them, can still be read. A pool with
no nodes is removed after the release time too. The state is on disk: a restarted service
finishes the delete.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from batchite.clock import Clock
from batchite.domain.states import NodeState, PoolState, transition
from batchite.scheduler.events import EventBus, PoolRemoved, RunEnded
from batchite.scheduler.live import KillReason, LiveNode, LivePool, Projection
from batchite.scheduler.task_runs import TaskRunner
from batchite.store.base import Store
from batchite.wire.enums import AllocationState

if TYPE_CHECKING:
    from batchite.scheduler.nodes import NodeManager


class PoolDeletion:
    def __init__(
        self,
        nodes: NodeManager,
        store: Store,
        clock: Clock,
        projection: Projection,
        tasks: TaskRunner,
        events: EventBus,
        release_time: timedelta,
    ) -> None:
        self.nodes = nodes
        self.store = store
        self.clock = clock
        self.projection = projection
        self.tasks = tasks
        self.events = events
        self.release_time = release_time
        self._releasing: set[tuple[str, str]] = set()  # (pool key, node id) whose release is timed
        events.subscribe(RunEnded, lambda e: self._run_ended(e.node))

    def delete(self, live: LivePool) -> None:
        """Start deleting the pool (again, after a restart: the stored state says `deleting`)."""
        pool = live.entity
        if not live.deleting:
            live.deleting = True
            transition(pool.wire, PoolState.DELETING, self.clock.now())
            self.events.publish(PoolRemoved(pool.account, pool.key))  # no more autoscale
        if live.nodes:
            self.nodes.set_allocation(live, AllocationState.RESIZING)
        self.nodes.save(live)
        for node in list(live.nodes.values()):
            self._stop(live, node)
        if not live.nodes:
            self.clock.call_later(self.release_time, partial(self._remove, live))

    def _stop(self, live: LivePool, node: LiveNode) -> None:
        """The node takes no more work; what runs there is requeued; it goes `leavingPool`."""
        node.leaving = True
        node.pending_action = None
        self.tasks.evict(node, KillReason.REQUEUE)
        if node.state != NodeState.LEAVING_POOL:
            self.nodes.set_state(node, NodeState.LEAVING_POOL)
        self.release_when_idle(live, node)

    def release_when_idle(self, live: LivePool, node: LiveNode) -> None:
        key = (live.key, node.id)
        if node.runs or node.attaching or key in self._releasing:  # attaching: its agent, after a restart
            return
        self._releasing.add(key)
        self.clock.call_later(self.release_time, partial(self._release, live, node))

    def _run_ended(self, node: LiveNode) -> None:
        live = self.projection.pool_of(node)
        if live is not None and live.deleting and node.leaving:
            self.release_when_idle(live, node)

    def _release(self, live: LivePool, node: LiveNode) -> None:
        self._releasing.discard((live.key, node.id))
        if live.nodes.get(node.id) is not node:
            return
        self.nodes.drop(live, node, update_pool=False)
        if live.nodes:
            self.nodes.update_counts(live)
        else:
            self._remove(live)

    def _remove(self, live: LivePool) -> None:
        """The last node has left: the pool is gone (404 from now on)."""
        pool = live.entity
        if self.projection.pools.get((pool.account, pool.key)) is not live:
            return
        del self.projection.pools[(pool.account, pool.key)]
        self.store.nodes.delete_all(pool.account, pool.key)
        self.store.pools.delete(pool.account, "", pool.id)
