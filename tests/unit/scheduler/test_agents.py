"""Node agents as the scheduler sees them: reattached after a restart, or lost.

After a restart the backend reports, per node, which runs its agent still has: those tasks go on
(not requeued) and their ends arrive as usual; the others are requeued. A node whose agent is lost
while the service runs goes unusable with a NodeAgentLost error and its tasks run elsewhere; one
whose agent is not there after a restart boots again."""

from __future__ import annotations

from batchite.domain.states import NodeState, TaskState
from batchite.scheduler import Scheduler
from tests.unit.scheduler.fakes import FakeBackend, Harness


def restarted(h: Harness, still_running: set[str]) -> FakeBackend:
    backend = FakeBackend(h.clock, still_running=still_running)
    Scheduler(h.store, backend, h.clock, h.urls).recover()
    h.settle()
    return backend


def test_a_task_still_running_under_its_agent_is_kept_and_completes_after_a_restart() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "kept"), h.task(job, "gone"))
    kept = h.backend.running("kept")[0]
    backend = restarted(h, {kept})

    task = h.stored_task("j", "kept")
    assert task.state == TaskState.RUNNING
    assert task.execution_info is not None and task.execution_info.requeue_count == 0
    assert not backend.runs.get(kept)  # not started again: the agent still has it
    gone = h.stored_task("j", "gone")
    assert gone.execution_info is not None and gone.execution_info.requeue_count == 1

    backend.runs[kept] = h.backend.runs[kept]  # its end arrives through the new backend
    backend.finish(kept, 7)
    task = h.stored_task("j", "kept")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None
    assert (task.execution_info.exit_code, task.execution_info.requeue_count) == (7, 0)


def test_a_node_whose_agent_is_lost_goes_unusable_and_its_task_runs_elsewhere() -> None:
    h = Harness()
    live = h.pool(dedicated=2, slots=1)
    job = h.job()
    h.add(job, h.task(job, "t"))
    first = h.node_of("j", "t")
    node = live.nodes[first]
    h.scheduler.node_lost(node.spec, "its agent exited")
    h.settle()

    assert node.state == NodeState.UNUSABLE
    stored = h.store.nodes.get(h.account, live.key, first)
    assert stored is not None and stored.wire.errors
    assert stored.wire.errors[0].code == "NodeAgentLost"
    task = h.stored_task("j", "t")
    assert task.state == TaskState.RUNNING and h.node_of("j", "t") != first
    assert task.execution_info is not None and task.execution_info.requeue_count == 1
    h.backend.finish_task("t", 0)
    assert h.stored_task("j", "t").state == TaskState.COMPLETED


def test_after_a_restart_a_node_without_its_agent_boots_again() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "t"))
    node_id = h.node_of("j", "t")

    backend = FakeBackend(h.clock)
    backend.attach = lambda spec: h.clock.call_soon(  # type: ignore[method-assign]
        lambda: backend.events.node_lost(spec, "no agent") if backend.events else None
    )
    again = Scheduler(h.store, backend, h.clock, h.urls)
    again.recover()
    h.settle()

    assert (node_id, False) in backend.allocated  # booted again, on its old disk
    node = again.projection.pool(h.account, live.id)
    assert node is not None and node.nodes[node_id].state in (NodeState.IDLE, NodeState.RUNNING)
    task = h.stored_task("j", "t")
    assert task.execution_info is not None and task.execution_info.requeue_count == 1
    assert len(backend.running("t")) == 1  # requeued and started on the node once it was up
