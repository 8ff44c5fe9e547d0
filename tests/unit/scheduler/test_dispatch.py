"""Dispatch: placement (spread and pack), job priority, maxParallelTasks, exclusive job managers."""

from __future__ import annotations

from collections import Counter

from batchite.domain.entities.records import TaskInternal
from batchite.wire.enums import BatchNodeFillType
from tests.unit.scheduler.fakes import Harness


def _nodes_used(h: Harness) -> Counter[str]:
    return Counter(run.node.node_id for run in h.backend.runs.values() if not run.done)


def test_spread_puts_tasks_on_the_emptiest_node() -> None:
    h = Harness()
    h.pool(dedicated=2, slots=2)
    job = h.job()
    h.add(job, h.task(job, "a"), h.task(job, "b"))
    assert sorted(_nodes_used(h).values()) == [1, 1]


def test_pack_fills_one_node_before_the_next() -> None:
    h = Harness()
    h.pool(dedicated=2, slots=2, fill=BatchNodeFillType.PACK)
    job = h.job()
    h.add(job, h.task(job, "a"), h.task(job, "b"))
    assert sorted(_nodes_used(h).values()) == [2]


def test_a_higher_priority_job_gets_the_free_slot_first() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=1)
    blocker = h.job("blocker")
    h.add(blocker, h.task(blocker, "b0"))
    low = h.job("low", priority=0)
    high = h.job("high", priority=100)
    h.add(low, h.task(low, "l1"))
    h.add(high, h.task(high, "h1"))
    h.backend.finish_task("b0")
    (run_id,) = h.backend.running()
    assert h.backend.runs[run_id].launch.job_id == "high"


def test_max_parallel_tasks_bounds_a_job() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=4)
    job = h.job(max_parallel_tasks=2)
    h.add(job, *(h.task(job, f"t{i}") for i in range(4)))
    assert len(h.backend.running()) == 2
    h.backend.finish(h.backend.running()[0], 0)
    assert len(h.backend.running()) == 2


def test_required_slots_and_an_exclusive_job_manager_take_a_node() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=4)
    job = h.job()
    manager = h.task(job, "jm", internal=TaskInternal(job_manager=True, run_exclusive=True))
    h.add(job, manager, h.task(job, "t1"))
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["jm"]
    assert job.running == 1
    h.backend.finish_task("jm")


def test_a_task_no_node_can_hold_waits_without_blocking_the_others() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "big", required_slots=3), h.task(job, "small"))
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["small"]
    assert "big" in job.tasks


def test_nothing_runs_on_a_node_with_scheduling_disabled() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    node = next(iter(live.nodes.values()))
    h.scheduler.node_actions.set_scheduling(live, node, False)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    assert h.backend.running() == []
    h.scheduler.node_actions.set_scheduling(live, node, True)
    h.settle()
    assert len(h.backend.running()) == 1
