"""Preemption: spot/low-priority nodes taken away (by a rate, or on demand), and tasks of
lower-priority jobs requeued to make room for higher-priority ones (allowTaskPreemption).

A preempted node goes `preempted`; its running tasks are requeued (requeueCount + 1); after the
recovery delay capacity "returns" and the node boots again from an empty disk (start task
included). The rate is a probability per low-priority node per hour of service time, set for
every pool by `batchite serve --preemption-rate`, or per pool by the metadata item
`batchite.preemptionRate`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from batchite.clock import Clock, Timer
from batchite.domain.states import NodeState
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import KillReason, LiveJob, LiveNode, LivePool, Projection
from batchite.scheduler.nodes import NodeManager
from batchite.scheduler.task_runs import TaskRunner

TICK = timedelta(seconds=10)
PREEMPTIBLE_STATES = frozenset(
    {NodeState.IDLE, NodeState.RUNNING, NodeState.WAITING_FOR_START_TASK, NodeState.START_TASK_FAILED}
    | {NodeState.STARTING}
)
RATE_METADATA = "batchite.preemptionRate"


@dataclass(frozen=True)
class PreemptionPolicy:
    rate: float = 0.0  # chance per low-priority node per hour; 0: only on demand
    recovery: timedelta = timedelta(seconds=60)  # until capacity returns
    seed: int | None = None


class Preemption:
    def __init__(
        self,
        clock: Clock,
        projection: Projection,
        nodes: NodeManager,
        tasks: TaskRunner,
        kick: Kick,
        policy: PreemptionPolicy,
    ) -> None:
        self.clock = clock
        self.projection = projection
        self.nodes = nodes
        self.tasks = tasks
        self.kick = kick
        self.policy = policy
        self.random = random.Random(policy.seed)
        self._timer: Timer | None = None

    def start(self) -> None:
        """Start the rate-based policy."""
        self._timer = self.clock.call_later(TICK, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    # -- spot nodes ---------------------------------------------------------------------
    def _pool_rate(self, pool: LivePool) -> float:
        for item in pool.entity.wire.metadata or []:
            if item.name == RATE_METADATA:
                try:
                    return float(item.value or 0)
                except ValueError:
                    return 0.0
        return self.policy.rate

    def _tick(self) -> None:
        chance = TICK.total_seconds() / 3600.0
        for pool in list(self.projection.pools.values()):
            rate = self._pool_rate(pool)
            if rate <= 0:
                continue
            for node in list(pool.nodes.values()):
                eligible = not node.spec.is_dedicated and node.state in PREEMPTIBLE_STATES
                if eligible and self.random.random() < rate * chance:
                    self.preempt(pool, node)
        self._timer = self.clock.call_later(TICK, self._tick)

    def preempt(self, pool: LivePool, node: LiveNode) -> bool:
        """Take a low-priority node away now; it comes back after the recovery delay."""
        if node.spec.is_dedicated or node.state not in PREEMPTIBLE_STATES:
            return False
        self.tasks.evict(node, KillReason.REQUEUE)
        self.nodes.set_state(node, NodeState.PREEMPTED)
        self.clock.call_later(self.policy.recovery, partial(self._capacity_returns, pool, node))
        self.kick()
        return True

    def _capacity_returns(self, pool: LivePool, node: LiveNode) -> None:
        if pool.nodes.get(node.id) is not node or node.state != NodeState.PREEMPTED:
            return
        # Returned spot capacity is a fresh VM: an empty disk, start and preparation tasks run again.
        self.nodes.reboot(pool, node, fresh=True)

    # -- job priority -------------------------------------------------------------------
    def make_room(self, pool: LivePool, job: LiveJob) -> None:
        """Requeue a task of a lower-priority job that allows preemption, so `job` can run."""
        if any(run.detached for node in pool.nodes.values() for run in node.runs):
            return  # a slot is already being freed; wait for it
        victims = [
            (other.priority, -run.task.seq, other, run)
            for node in pool.nodes.values()
            for run in node.runs
            if not run.detached and run.task.run is run
            for other in [self.projection.job_of(run)]
            if other is not None and other.entity.wire.allow_task_preemption and other.priority < job.priority
        ]
        if not victims:
            return
        _, _, other, run = min(victims, key=lambda v: (v[0], v[1]))
        self.tasks.stop(other, run.task, KillReason.REQUEUE)
