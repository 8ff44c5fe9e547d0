"""When the compute backend cannot keep a node: a node lost for good is replaced, and a node the
backend has no room for is taken out again with a resize error, then tried again.

On Azure a pool whose VMs could not be allocated shows a resize error (`AllocationFailed`) and
stays below its target; here (the Ray backend: a cluster with no free cores or memory) the pool
does the same, and every RETRY it grows towards its targets again, so capacity that appears
(Ray's autoscaler adding machines) is used. Autoscale formulas see the nodes that exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from batchite.clock import Clock, Timer
from batchite.compute.protocol import NodeSpec
from batchite.scheduler.live import LiveNode, LivePool, Projection
from batchite.wire.models import NameValuePair, ResizeError

if TYPE_CHECKING:
    from batchite.scheduler.nodes import NodeManager

ALLOCATION_FAILED = "AllocationFailed"
RETRY = timedelta(seconds=10)
REPLACE_AFTER = timedelta(seconds=2)  # how long a node lost for good shows unusable before it goes


class NodeCapacity:
    def __init__(self, nodes: NodeManager, clock: Clock, projection: Projection) -> None:
        self.nodes = nodes
        self.clock = clock
        self.projection = projection
        self.retries: dict[tuple[str, str], Timer] = {}  # (account, pool key) -> its armed retry

    def replace(self, live: LivePool, node: LiveNode) -> None:
        """The node cannot come back: shown as it is (unusable, preempted) for REPLACE_AFTER, then
        it leaves the pool and a new one is allocated in its place."""
        self.clock.call_later(REPLACE_AFTER, lambda: self._replace_now(live, node))

    def _replace_now(self, live: LivePool, node: LiveNode) -> None:
        if live.deleting or live.nodes.get(node.id) is not node:
            return
        self.nodes.drop(live, node, update_pool=False)
        self._grow(live)

    def unplaced(self, spec: NodeSpec, reason: str) -> None:
        """The backend had no room for the node: it leaves the pool, which shows why and retries."""
        live = self.projection.pool(spec.account, spec.pool_id)
        node = live.nodes.get(spec.node_id) if live is not None else None
        if live is None or node is None:
            return
        live.allocating = max(0, live.allocating - 1)
        self.nodes.drop(live, node, update_pool=False)
        wire = live.entity.wire
        error = ResizeError(
            code=ALLOCATION_FAILED,
            message="Desired number of nodes could not be allocated: the compute backend has no room.",
            error_values=[NameValuePair(name="Reason", value=reason)],
        )
        wire.resize_errors = [e for e in wire.resize_errors or [] if e.code != ALLOCATION_FAILED] + [error]
        self.nodes.save(live)
        self.nodes.maybe_steady(live)
        key = (live.account, live.key)
        if key not in self.retries:
            self.retries[key] = self.clock.call_later(RETRY, lambda: self._retry(key))

    def _retry(self, key: tuple[str, str]) -> None:
        self.retries.pop(key, None)
        live = self.projection.pools.get(key)
        if live is not None and not live.deleting:
            self._grow(live)

    def _grow(self, live: LivePool) -> None:
        """Towards the pool's targets (the nodes it lacks), keeping its resize errors."""
        wire = live.entity.wire
        errors = wire.resize_errors
        targets = (wire.target_dedicated_nodes or 0, wire.target_low_priority_nodes or 0)
        if live.counts() != targets:
            self.nodes.resize(live, *targets)
            if errors and not wire.resize_errors:
                wire.resize_errors = errors
                self.nodes.save(live)
        self.nodes.maybe_steady(live)
