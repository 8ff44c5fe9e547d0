"""What the health probe and the metrics read: is the service ready, how many tasks and nodes are
in each state. Nothing here names an account."""

from __future__ import annotations

from collections import Counter

from batchite import metrics
from batchite.service.context import ServiceContext


class Observability:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def readiness(self) -> dict[str, str]:
        """Each check, "ok" or what is wrong: the store open and writable, every node's agent attached."""
        store = self.ctx.store.health()
        pools = self.ctx.scheduler.projection.pools.values()
        attaching = sum(1 for pool in pools for node in pool.nodes.values() if node.attaching)
        agents = "ok" if not attaching else f"{attaching} node(s) whose agent is not attached yet"
        return {"store": store, "agents": agents}

    def bind_metrics(self) -> None:
        """The metrics' gauges read this service's tasks (the store's counts) and nodes (the scheduler's)."""
        metrics.observe_state(self.ctx.store.tasks.totals_by_state, self.nodes_by_state)

    def nodes_by_state(self) -> dict[tuple[str, str], int]:
        counts: Counter[tuple[str, str]] = Counter()
        for pool in self.ctx.scheduler.projection.pools.values():
            for node in pool.nodes.values():
                counts[(pool.id, str(node.state))] += 1
        return dict(counts)
