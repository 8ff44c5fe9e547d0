"""A task's runs: start, success, failure and retries, wall clock, requeue, terminate, retention."""

from __future__ import annotations

from datetime import timedelta

from batchite.domain.states import TaskState
from batchite.scheduler.live import KillReason
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.types import Duration
from tests.unit.scheduler.fakes import Harness


def test_a_task_runs_on_a_node_and_succeeds() -> None:
    h = Harness()
    h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "t1", command_line="echo hi"))
    (run_id,) = h.backend.running("t1")
    launch = h.backend.runs[run_id].launch
    assert launch.command_line == "echo hi"
    assert launch.relative_dir == "workitems/j/job-1/t1"
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.RUNNING
    assert task.node_info is not None and task.node_info.task_root_directory == "workitems/j/job-1/t1"
    h.backend.finish(run_id, 0)
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None
    assert task.execution_info.result == BatchTaskExecutionResult.SUCCESS
    assert task.execution_info.exit_code == 0
    assert task.previous_state == TaskState.RUNNING
    assert "t1" not in job.tasks


def test_a_failure_is_retried_up_to_max_task_retry_count() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1", retries=2))
    for attempt in range(3):
        (run_id,) = h.backend.running("t1")
        h.backend.finish(run_id, 3)
        info = h.stored_task("j", "t1").execution_info
        assert info is not None
        assert info.retry_count == min(attempt + 1, 2)
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None and task.execution_info.result == BatchTaskExecutionResult.FAILURE
    assert task.execution_info.failure_info is not None
    assert task.execution_info.failure_info.code == "FailureExitCode"
    assert h.backend.running() == []


def test_a_task_past_its_wall_clock_is_killed_and_not_retried() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1", retries=3, wall_clock=Duration(seconds=5)))
    h.advance(4)
    assert h.stored_task("j", "t1").state == TaskState.RUNNING
    h.advance(2)
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.COMPLETED
    info = task.execution_info
    assert info is not None and info.failure_info is not None
    assert info.failure_info.code == "TaskEnded"
    assert info.failure_info.details is not None
    assert info.failure_info.details[0].value == "MaxWallClockTimeExceeded"
    assert info.retry_count == 0


def test_requeue_puts_a_running_task_back_and_counts_it() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1"))
    (first,) = h.backend.running("t1")
    h.scheduler.tasks.stop(job, job.tasks["t1"], KillReason.REQUEUE)
    h.settle()
    assert h.backend.runs[first].killed
    (second,) = h.backend.running("t1")  # the slot came back and the task runs again
    assert second != first
    info = h.stored_task("j", "t1").execution_info
    assert info is not None and info.requeue_count == 1
    h.backend.finish(second, 0)
    assert h.stored_task("j", "t1").state == TaskState.COMPLETED


def test_terminate_ends_a_task_as_failed_with_task_ended() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.scheduler.jobs.terminate_task(job, h.store.tasks.get("acc", "j", "t1"))  # type: ignore[arg-type]
    h.settle()
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None and task.execution_info.failure_info is not None
    assert task.execution_info.failure_info.code == "TaskEnded"
    assert h.backend.running() == []


def test_a_completed_task_directory_goes_after_its_retention_time() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1", retention=Duration(minutes=10)))
    h.backend.finish_task("t1")
    h.advance(9 * 60)
    assert h.backend.removed_dirs == []
    h.advance(61)
    assert h.backend.removed_dirs == [(h.node_of("j", "t1"), "workitems/j/job-1/t1")]


def test_tasks_queue_for_slots_and_start_as_slots_free() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, *(h.task(job, f"t{i}") for i in range(5)))
    assert len(h.backend.running()) == 2
    for _ in range(5):
        h.backend.finish(h.backend.running()[0], 0)
    assert h.backend.running() == []
    assert all(h.stored_task("j", f"t{i}").state == TaskState.COMPLETED for i in range(5))


def test_the_execution_times_come_from_the_service_clock() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1"))
    started = h.clock.now()
    h.clock.advance(timedelta(seconds=30))
    h.backend.finish_task("t1")
    info = h.stored_task("j", "t1").execution_info
    assert info is not None
    assert info.start_time == started
    assert info.end_time == started + timedelta(seconds=30)
