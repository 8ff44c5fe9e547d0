"""What users do to nodes: reboot, reimage, deallocate and start, with the task options."""

from __future__ import annotations

from batchite.domain.node_actions import NodeAction
from batchite.domain.states import NodeState, TaskState
from batchite.wire.enums import BatchNodeRebootKind
from batchite.wire.models import BatchJobPreparationTask
from tests.unit.scheduler.fakes import Harness


def test_reboot_requeues_the_running_task_and_boots_the_node() -> None:
    h = Harness(auto_ready=False)
    live = h.pool(dedicated=1)
    node = next(iter(live.nodes.values()))
    h.backend.ready(node.spec)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.scheduler.node_actions.act(live, node, NodeAction.REBOOT, None)
    h.settle()
    assert node.state == NodeState.STARTING
    assert h.stored_task("j", "t1").state == TaskState.ACTIVE
    h.backend.ready(node.spec)
    h.settle()
    assert node.state == NodeState.RUNNING
    assert len(h.backend.running("t1")) == 1


def test_reboot_with_taskcompletion_waits_for_the_task() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    node = next(iter(live.nodes.values()))
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.scheduler.node_actions.act(live, node, NodeAction.REBOOT, BatchNodeRebootKind.TASK_COMPLETION)
    assert node.pending_action == NodeAction.REBOOT
    assert node.state == NodeState.RUNNING
    h.backend.finish_task("t1")
    assert h.stored_task("j", "t1").state == TaskState.COMPLETED
    assert node.state == NodeState.IDLE  # rebooted (the fake comes back at once)
    assert h.backend.allocated[-1] == (node.id, False)


def test_reimage_wipes_the_node_and_the_preparation_task_runs_again() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    node = next(iter(live.nodes.values()))
    job = h.job(job_preparation_task=BatchJobPreparationTask(command_line="prep"))
    h.add(job, h.task(job, "t1"))
    h.backend.finish_task("jobpreparation")
    h.backend.finish_task("t1")
    h.scheduler.node_actions.act(live, node, NodeAction.REIMAGE, None)
    h.settle()
    assert h.backend.allocated[-1] == (node.id, True)
    h.add(job, h.task(job, "t2"))
    assert len(h.backend.running("jobpreparation")) == 1


def test_deallocate_then_start() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    node = next(iter(live.nodes.values()))
    h.scheduler.node_actions.act(live, node, NodeAction.DEALLOCATE, None)
    h.settle()
    assert node.state == NodeState.DEALLOCATED
    h.scheduler.node_actions.start(live, node)
    h.settle()
    assert node.state == NodeState.IDLE
