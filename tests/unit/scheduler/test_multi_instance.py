"""Multi-instance tasks: coordination on every node, the application on the primary, subtasks."""

from __future__ import annotations

from batchite.domain.states import SubtaskState, TaskState
from batchite.scheduler.multi_instance import subtask_parent
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.models import MultiInstanceSettings
from tests.unit.scheduler.fakes import Harness


def _multi(n: int) -> MultiInstanceSettings:
    return MultiInstanceSettings(number_of_instances=n, coordination_command_line="coordinate")


def test_coordination_runs_everywhere_then_the_application_on_the_primary() -> None:
    h = Harness()
    h.pool(dedicated=3)
    job = h.job()
    h.add(job, h.task(job, "mpi", command_line="app", multi_instance_settings=_multi(3)))
    coordination = h.backend.running("mpi")
    assert len(coordination) == 3
    launches = [h.backend.runs[r].launch for r in coordination]
    assert {launch.command_line for launch in launches} == {"coordinate"}
    assert len({h.backend.runs[r].node.node_id for r in coordination}) == 3
    hosts = launches[0].extra_environment["AZ_BATCH_HOST_LIST"].split(",")
    assert len(hosts) == 3
    assert sorted(launch.extra_environment["AZ_BATCH_IS_CURRENT_NODE_MASTER"] for launch in launches) == [
        "false",
        "false",
        "true",
    ]
    for run_id in coordination:
        h.backend.finish(run_id, 0)
    (application,) = h.backend.running("mpi")
    assert h.backend.runs[application].launch.command_line == "app"
    h.backend.finish(application, 0)
    task = h.stored_task("j", "mpi")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None and task.execution_info.result == BatchTaskExecutionResult.SUCCESS
    subtasks = h.store.subtasks.list(h.account, subtask_parent("j", "mpi"))
    assert sorted(s.wire.id for s in subtasks if s.wire.id is not None) == [1, 2]
    assert all(s.wire.state == SubtaskState.COMPLETED for s in subtasks)


def test_a_failed_coordination_command_fails_the_task() -> None:
    h = Harness()
    h.pool(dedicated=2)
    job = h.job()
    h.add(job, h.task(job, "mpi", multi_instance_settings=_multi(2)))
    first, second = h.backend.running("mpi")
    h.backend.finish(first, 0)
    h.backend.finish(second, 5)
    task = h.stored_task("j", "mpi")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None and task.execution_info.exit_code == 5
    assert h.backend.running() == []
    assert all(n.used == 0 for n in h.scheduler.projection.pool("acc", "p").nodes.values())  # type: ignore[union-attr]


def test_a_multi_instance_task_waits_for_enough_nodes() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "mpi", multi_instance_settings=_multi(2)))
    assert h.backend.running() == []
    h.scheduler.nodes.resize(live, 2, 0)
    h.settle()
    assert len(h.backend.running("mpi")) == 2
