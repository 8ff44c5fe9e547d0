"""Recovery at start: the projection is rebuilt from the store and no task is lost."""

from __future__ import annotations

from batchite.domain.states import JobState, TaskState
from batchite.scheduler import Scheduler
from batchite.wire.models import BatchTaskDependencies
from tests.unit.scheduler.fakes import FakeBackend, Harness


def test_a_restarted_scheduler_requeues_running_tasks_and_runs_them() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job(uses_task_dependencies=True)
    h.add(
        job,
        h.task(job, "done"),
        h.task(job, "running"),
        h.task(job, "waiting", depends_on=BatchTaskDependencies(task_ids=["done", "running"])),
    )
    h.backend.finish_task("done")
    assert h.stored_task("j", "running").state == TaskState.RUNNING
    # A new scheduler over the same store, as after a restart of the service.
    backend = FakeBackend(h.clock)
    again = Scheduler(h.store, backend, h.clock, h.urls)
    again.recover()
    h.clock.settle()
    task = h.stored_task("j", "running")
    assert task.execution_info is not None and task.execution_info.requeue_count == 1
    (run_id,) = [r for r, run in backend.runs.items() if run.launch.task_id == "running"]
    backend.finish(run_id, 0)
    (waiting,) = [r for r, run in backend.runs.items() if run.launch.task_id == "waiting"]
    backend.finish(waiting, 0)
    assert h.stored_task("j", "waiting").state == TaskState.COMPLETED
    assert h.stored_job("j").state == JobState.ACTIVE
