"""Preemption: spot/low-priority nodes taken away (by a rate, or on demand), and tasks of
lower-priority jobs requeued to make room for higher-priority ones (allowTaskPreemption).

A preempted node goes `preempted`; its running tasks are requeued (requeueCount + 1); after the
recovery delay capacity "returns" and the node boots again (start task included). The rate is a
probability per low-priority node per hour of service time, set for every pool by
`batchite serve --preemption-rate`, or per pool by the metadata item `batchite.preemptionRate`.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from functools import partial

from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt

TICK = timedelta(seconds=10)
PREEMPTIBLE_STATES = ("idle", "running", "waitingforstarttask", "starttaskfailed", "starting")
RATE_METADATA = "batchite.preemptionRate"


class Preemption(SchedulerBase):
    def init_preemption(
        self, rate: float = 0.0, recovery: timedelta = timedelta(seconds=60), seed: int | None = None
    ) -> None:
        self.preemption_rate = rate
        self.preemption_recovery = recovery
        self.preemption_random = random.Random(seed)
        self._preemption_timer: asyncio.TimerHandle | None = None

    def start_preemption(self) -> None:
        """Start the rate-based policy; call on the event loop."""
        self._preemption_timer = self.clock.call_later(TICK, self._preemption_tick)

    def stop_preemption(self) -> None:
        if self._preemption_timer is not None:
            self._preemption_timer.cancel()

    # -- spot nodes ---------------------------------------------------------------------
    def _pool_rate(self, pool: PoolRt) -> float:
        rec = self.store.get(pool.account, "pool", "", pool.id)
        for item in (rec.doc.get("metadata") if rec else None) or []:
            if item.get("name") == RATE_METADATA:
                try:
                    return float(item.get("value", 0))
                except ValueError:
                    return 0.0
        return self.preemption_rate

    def _preemption_tick(self) -> None:
        chance_per_hour = TICK.total_seconds() / 3600.0
        for pool in list(self.pools.values()):
            rate = self._pool_rate(pool)
            if rate <= 0:
                continue
            for node in list(pool.nodes.values()):
                eligible = not node.spec.is_dedicated and node.state in PREEMPTIBLE_STATES
                if eligible and self.preemption_random.random() < rate * chance_per_hour:
                    self.preempt_node(pool, node)
        self._preemption_timer = self.clock.call_later(TICK, self._preemption_tick)

    def preempt_node(self, pool: PoolRt, node: NodeRt) -> bool:
        """Take a low-priority node away now; it comes back after the recovery delay."""
        if node.spec.is_dedicated or node.state not in PREEMPTIBLE_STATES:
            return False
        self.evict_tasks(node, "requeue")
        self.set_node_state(pool, node, "preempted")
        self.clock.call_later(self.preemption_recovery, partial(self._capacity_returns, pool, node))
        self.kick()
        return True

    def _capacity_returns(self, pool: PoolRt, node: NodeRt) -> None:
        if pool.nodes.get(node.id) is not node or node.state != "preempted":
            return
        # Returned spot capacity is a fresh VM: an empty disk, start and preparation tasks run again.
        self.spawn(self.boot_node(pool, node, wipe=True))

    # -- job priority -------------------------------------------------------------------
    def preempt_for(self, pool: PoolRt, job: JobRt) -> None:
        if any(run.detached for node in pool.nodes.values() for run in node.runs):
            return  # a slot is already being freed; wait for it
        victims = [
            (other.priority, -(run.task.seq), other, run)
            for node in pool.nodes.values()
            for run in node.runs
            if not run.detached and run.task.run is run
            for other in [self.jobs.get((node.spec.account, run.job_key))]
            if other is not None and other.allow_preemption and other.priority < job.priority
        ]
        if not victims:
            return
        _, _, other, run = min(victims, key=lambda v: (v[0], v[1]))
        self.stop_task(other, run.task, "requeue")


