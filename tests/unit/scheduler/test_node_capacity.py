"""When the backend cannot keep or place a node (scheduler/node_capacity.py), on the fake backend
and a manual clock: a node lost for good is shown unusable (preempted when low-priority) and
replaced, its task running elsewhere; a node the backend has no room for leaves the pool with an
AllocationFailed resize error, and the pool grows again every RETRY until the room is there."""

from __future__ import annotations

from batchite.domain.states import AllocationState, NodeState, TaskState
from batchite.scheduler.node_capacity import REPLACE_AFTER, RETRY
from tests.unit.scheduler.fakes import Harness


def test_a_node_lost_for_good_is_replaced_and_its_task_runs_elsewhere() -> None:
    h = Harness()
    live = h.pool(dedicated=2, slots=1)
    job = h.job()
    h.add(job, h.task(job, "t"))
    lost = h.node_of("j", "t")
    node = live.nodes[lost]
    h.scheduler.node_lost(node.spec, "its Ray actor died", gone=True)
    h.settle()

    assert node.state == NodeState.UNUSABLE and lost in live.nodes  # shown as it is for a moment
    task = h.stored_task("j", "t")
    assert task.state == TaskState.RUNNING and h.node_of("j", "t") != lost  # already elsewhere
    h.advance(REPLACE_AFTER.total_seconds())
    assert lost not in live.nodes and lost in h.backend.released
    assert len(live.nodes) == 2 and live.entity.wire.allocation_state == AllocationState.STEADY
    task = h.stored_task("j", "t")
    assert task.state == TaskState.RUNNING and h.node_of("j", "t") != lost
    assert task.execution_info is not None and task.execution_info.requeue_count == 1


def test_a_low_priority_node_lost_for_good_shows_preempted() -> None:
    h = Harness()
    live = h.pool(dedicated=0, low=1)
    node = next(iter(live.nodes.values()))
    h.scheduler.node_lost(node.spec, "its Ray node is gone", gone=True)
    h.settle()
    assert node.state == NodeState.PREEMPTED
    h.advance(REPLACE_AFTER.total_seconds())
    assert node.id not in live.nodes and live.counts() == (0, 1)


def test_an_unplaced_node_leaves_with_allocation_failed_and_the_pool_tries_again() -> None:
    h = Harness(auto_ready=False)
    live = h.pool(dedicated=2)
    first, second = list(live.nodes.values())
    h.backend.ready(first.spec)
    h.scheduler.node_unplaced(second.spec, "no Ray node has 2 free cores")
    h.settle()

    wire = live.entity.wire
    assert live.counts() == (1, 0) and wire.allocation_state == AllocationState.STEADY
    assert wire.resize_errors is not None and [e.code for e in wire.resize_errors] == ["AllocationFailed"]
    reason = wire.resize_errors[0].error_values
    assert reason is not None and reason[0].value == "no Ray node has 2 free cores"
    allocated = len(h.backend.allocated)

    h.advance(RETRY.total_seconds())  # the retry asks for the missing node again
    assert len(h.backend.allocated) == allocated + 1
    retried = next(n for n in live.nodes.values() if n is not first)
    h.backend.ready(retried.spec)
    h.settle()
    assert live.counts() == (2, 0) and wire.allocation_state == AllocationState.STEADY
    assert wire.resize_errors and wire.resize_errors[0].code == "AllocationFailed"  # kept until a resize


def test_a_deleted_pool_is_not_grown_again() -> None:
    h = Harness(auto_ready=False)
    live = h.pool(dedicated=1)
    node = next(iter(live.nodes.values()))
    h.scheduler.node_unplaced(node.spec, "no room")
    h.settle()
    h.scheduler.nodes.delete(live)
    allocated = len(h.backend.allocated)
    h.advance(RETRY.total_seconds() * 2)
    assert len(h.backend.allocated) == allocated
