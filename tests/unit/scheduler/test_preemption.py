"""Preemption: low-priority nodes taken away and returned; tasks of lower-priority jobs requeued."""

from __future__ import annotations

from datetime import timedelta

from batchite.domain.states import NodeState, TaskState
from batchite.scheduler import SchedulerSettings
from batchite.scheduler.preemption import PreemptionPolicy
from tests.unit.scheduler.fakes import Harness


def test_a_preempted_node_requeues_its_task_and_comes_back_fresh() -> None:
    h = Harness(SchedulerSettings(preemption=PreemptionPolicy(recovery=timedelta(seconds=30))))
    live = h.pool(dedicated=0, low=1)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    node = next(iter(live.nodes.values()))
    assert h.scheduler.preemption.preempt(live, node)
    h.settle()
    assert node.state == NodeState.PREEMPTED
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.ACTIVE
    assert task.execution_info is not None and task.execution_info.requeue_count == 1
    h.advance(31)
    assert node.state == NodeState.IDLE or node.state == NodeState.RUNNING
    assert h.backend.allocated[-1] == (node.id, True)  # an empty disk
    assert len(h.backend.running("t1")) == 1


def test_dedicated_nodes_are_not_preempted() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    assert not h.scheduler.preemption.preempt(live, next(iter(live.nodes.values())))


def test_a_higher_priority_job_requeues_a_preemptible_lower_priority_task() -> None:
    h = Harness()
    h.pool(dedicated=1)
    low = h.job("low", priority=0, allow_task_preemption=True)
    h.add(low, h.task(low, "l1"))
    high = h.job("high", priority=10)
    h.add(high, h.task(high, "h1"))
    assert len(h.backend.running("h1")) == 1
    task = h.stored_task("low", "l1")
    assert task.state == TaskState.ACTIVE
    assert task.execution_info is not None and task.execution_info.requeue_count == 1


def test_the_rate_policy_preempts_by_chance_per_hour() -> None:
    h = Harness(SchedulerSettings(preemption=PreemptionPolicy(rate=360.0, seed=1)))  # a sure thing per tick
    live = h.pool(dedicated=0, low=2)
    h.scheduler.preemption.start()
    h.advance(10)
    assert [n.state for n in live.nodes.values()] == [NodeState.PREEMPTED, NodeState.PREEMPTED]
