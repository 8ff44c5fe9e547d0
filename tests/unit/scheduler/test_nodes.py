"""Pools and nodes: allocation, the start task, resizes and quotas, node documents, leaving."""

from __future__ import annotations

from batchite.domain.quotas import Quotas
from batchite.domain.states import NodeState, TaskState
from batchite.scheduler import SchedulerSettings
from batchite.wire.enums import AllocationState, BatchNodeDeallocationOption, BatchStartTaskState
from batchite.wire.models import BatchStartTask
from tests.unit.scheduler.fakes import Harness

RELEASE = SchedulerSettings().node_release_time.total_seconds()


def _states(h: Harness, pool_id: str = "p") -> list[NodeState]:
    h.scheduler.flush_node_documents()
    return sorted(n.wire.state for n in h.store.nodes.list(h.account, pool_id))


def test_a_new_pool_allocates_its_nodes_and_becomes_steady() -> None:
    h = Harness(auto_ready=False)
    live = h.pool(dedicated=2)
    assert _states(h) == [NodeState.STARTING, NodeState.STARTING]
    assert live.entity.wire.allocation_state == AllocationState.RESIZING
    for node in list(live.nodes.values()):
        h.backend.ready(node.spec)
    assert _states(h) == [NodeState.IDLE, NodeState.IDLE]
    pool = h.store.pools.get(h.account, "", "p")
    assert pool is not None
    assert pool.wire.allocation_state == AllocationState.STEADY
    assert pool.wire.current_dedicated_nodes == 2


def test_the_start_task_runs_before_a_node_is_idle() -> None:
    h = Harness()
    live = h.pool(dedicated=1, start_task=BatchStartTask(command_line="setup", wait_for_success=True))
    assert _states(h) == [NodeState.WAITING_FOR_START_TASK]
    (run_id,) = h.backend.running("starttask")
    assert h.backend.runs[run_id].launch.relative_dir == "startup"
    h.backend.finish(run_id, 0)
    assert _states(h) == [NodeState.IDLE]
    node = next(iter(live.nodes.values()))
    info = node.entity.wire.start_task_info
    assert info is not None and info.state == BatchStartTaskState.COMPLETED and info.exit_code == 0


def test_a_failed_start_task_is_retried_then_the_node_is_start_task_failed() -> None:
    h = Harness()
    h.pool(dedicated=1, start_task=BatchStartTask(command_line="setup", wait_for_success=True, max_task_retry_count=1))
    h.backend.finish_task("starttask", 1)
    assert _states(h) == [NodeState.WAITING_FOR_START_TASK]
    h.backend.finish_task("starttask", 1)
    assert _states(h) == [NodeState.START_TASK_FAILED]
    job = h.job()
    h.add(job, h.task(job, "t1"))
    assert h.backend.running() == []  # nothing runs on it


def test_a_resize_grows_and_shrinks_idle_nodes_first() -> None:
    h = Harness()
    live = h.pool(dedicated=1, slots=1)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    busy = h.node_of("j", "t1")
    h.scheduler.nodes.resize(live, 3, 0)
    h.settle()
    assert len(live.nodes) == 3
    h.scheduler.nodes.resize(live, 1, 0)
    h.settle()
    assert list(live.nodes) == [busy]
    assert h.stored_task("j", "t1").state == TaskState.RUNNING


def test_growth_stops_at_the_core_quota_with_a_resize_error() -> None:
    h = Harness(SchedulerSettings(quotas=Quotas(dedicated_cores=4)))
    live = h.pool(dedicated=5, vm_size="standard_d2s_v3")  # 2 cores each
    assert len(live.nodes) == 2
    errors = live.entity.wire.resize_errors
    assert errors is not None and errors[0].code == "AccountCoreQuotaReached"


def test_node_documents_count_running_tasks_and_keep_recent_ones() -> None:
    h = Harness()
    live = h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "t1"), h.task(job, "t2"))
    h.scheduler.flush_node_documents()
    node = next(iter(live.nodes.values())).entity.wire
    assert (node.state, node.running_tasks_count, node.running_task_slots_count) == (NodeState.RUNNING, 2, 2)
    h.backend.finish_task("t1")
    h.backend.finish_task("t2", 1)
    h.scheduler.flush_node_documents()
    stored = h.store.nodes.get(h.account, "p", node.id)
    assert stored is not None
    wire = stored.wire
    assert (wire.state, wire.running_tasks_count, wire.total_tasks_run, wire.total_tasks_succeeded) == (
        NodeState.IDLE,
        0,
        2,
        1,
    )
    assert [t.task_id for t in wire.recent_tasks or []] == ["t2", "t1"]


def test_a_node_removed_with_taskcompletion_waits_for_its_task() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    node_id = h.node_of("j", "t1")
    h.scheduler.node_actions.remove(live, [node_id], BatchNodeDeallocationOption.TASK_COMPLETION)
    assert node_id in live.nodes and live.nodes[node_id].leaving
    assert live.entity.wire.allocation_state == AllocationState.RESIZING
    h.backend.finish_task("t1")
    assert node_id not in live.nodes
    assert h.backend.released == [node_id]
    assert live.entity.wire.allocation_state == AllocationState.STEADY
    usage = h.store.node_usage.list(h.account, "p")
    assert [u.id for u in usage] == [node_id]


def test_deleting_a_pool_requeues_its_tasks_and_removes_everything() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.scheduler.nodes.delete(live)
    h.advance(RELEASE)
    assert h.store.pools.get(h.account, "", "p") is None
    assert h.store.nodes.list(h.account, "p") == []
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.ACTIVE
    assert task.execution_info is not None and task.execution_info.requeue_count == 1
