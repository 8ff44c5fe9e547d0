"""Job lifecycle: completion on all tasks done, job managers, disable and enable, terminate,
delete, the job's wall clock, and exit conditions' job actions."""

from __future__ import annotations

from batchite.domain.entities.records import JobInternal, TaskInternal
from batchite.domain.states import JobState, TaskState
from batchite.scheduler.events import JobEnded
from batchite.wire.enums import (
    BatchAllTasksCompleteMode,
    BatchJobActionKind,
    BatchTaskFailureMode,
    DisableBatchJobOption,
)
from batchite.wire.models import (
    BatchJobConstraints,
    BatchJobReleaseTask,
    ExitCodeMapping,
    ExitConditions,
    ExitOptions,
)
from batchite.wire.types import Duration
from tests.unit.scheduler.fakes import Harness


def _ended(h: Harness) -> list[tuple[str, bool]]:
    seen: list[tuple[str, bool]] = []
    h.scheduler.events.subscribe(JobEnded, lambda e: seen.append((e.job.id, e.deleted)))
    return seen


def test_terminatejob_completes_the_job_when_its_tasks_are_done() -> None:
    h = Harness()
    h.pool()
    ended = _ended(h)
    job = h.job()  # a job with no tasks and terminatejob would complete at once, as on Azure
    h.add(job, h.task(job, "t1"), h.task(job, "t2"))
    with h.scheduler.jobs.edit(job) as edited:
        edited.wire.all_tasks_complete_mode = BatchAllTasksCompleteMode.TERMINATE_JOB
    h.backend.finish_task("t1")
    assert h.stored_job("j").state == JobState.ACTIVE
    h.backend.finish_task("t2")
    wire = h.stored_job("j")
    assert wire.state == JobState.COMPLETED
    assert wire.execution_info is not None and wire.execution_info.termination_reason == "AllTasksComplete"
    assert ended == [("j", False)]


def test_a_job_manager_ends_its_job_and_the_other_tasks() -> None:
    h = Harness()
    h.pool(slots=2)
    job = h.job()
    manager = h.task(job, "jm", internal=TaskInternal(job_manager=True, run_exclusive=False))
    h.add(job, manager, h.task(job, "t1"))
    h.backend.finish_task("jm")
    assert h.stored_job("j").state == JobState.COMPLETED
    assert h.stored_job("j").execution_info.termination_reason == "JMComplete"  # type: ignore[union-attr]
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.COMPLETED
    assert task.execution_info is not None and task.execution_info.failure_info is not None
    assert task.execution_info.failure_info.code == "TaskEnded"


def test_disable_requeue_stops_tasks_and_enable_runs_them_again() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.scheduler.jobs.disable(job, DisableBatchJobOption.REQUEUE)
    h.settle()
    assert h.stored_job("j").state == JobState.DISABLED
    assert h.backend.running() == []
    assert h.stored_task("j", "t1").state == TaskState.ACTIVE
    h.scheduler.jobs.enable(job)
    h.settle()
    assert h.stored_job("j").state == JobState.ACTIVE
    assert len(h.backend.running("t1")) == 1


def test_disable_wait_keeps_running_tasks_until_they_end() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1"), h.task(job, "t2"))
    h.scheduler.jobs.disable(job, DisableBatchJobOption.WAIT)
    assert h.stored_job("j").state == JobState.DISABLING
    h.backend.finish_task("t1")
    assert h.stored_job("j").state == JobState.DISABLED
    assert h.backend.running() == []  # t2 waits for enable
    assert h.stored_task("j", "t2").state == TaskState.ACTIVE


def test_the_job_wall_clock_terminates_it() -> None:
    h = Harness()
    h.pool()
    job = h.job(constraints=BatchJobConstraints(max_wall_clock_time=Duration(minutes=1)))
    h.add(job, h.task(job, "t1"))
    h.advance(61)
    wire = h.stored_job("j")
    assert wire.state == JobState.COMPLETED
    assert wire.execution_info is not None and wire.execution_info.termination_reason == "MaxWallClockTimeExpiry"
    assert h.stored_task("j", "t1").state == TaskState.COMPLETED


def test_terminate_runs_the_release_task_then_completes() -> None:
    h = Harness()
    h.pool()
    from batchite.wire.models import BatchJobPreparationTask

    job = h.job(
        job_preparation_task=BatchJobPreparationTask(command_line="prep"),
        job_release_task=BatchJobReleaseTask(command_line="release"),
    )
    h.add(job, h.task(job, "t1"))
    h.backend.finish_task("jobpreparation")
    h.backend.finish_task("t1")
    h.scheduler.jobs.terminate(job.entity, "UserTerminate")
    h.settle()
    assert h.stored_job("j").state == JobState.TERMINATING
    (release,) = h.backend.running("jobrelease")
    assert h.backend.runs[release].launch.relative_dir == "workitems/j/job-1/jobrelease"
    h.backend.finish(release, 0)
    assert h.stored_job("j").state == JobState.COMPLETED
    status = h.store.prep_statuses.list(h.account, "j")[0].wire
    assert status.job_release_task_execution_info is not None
    assert status.job_release_task_execution_info.exit_code == 0


def test_delete_stops_tasks_and_removes_the_job_and_its_tasks() -> None:
    h = Harness()
    h.pool()
    ended = _ended(h)
    job = h.job(internal=JobInternal(schedule="s"))
    h.add(job, h.task(job, "t1"), h.task(job, "t2"))
    h.scheduler.jobs.delete(job.entity)
    h.settle()
    assert h.store.jobs.get(h.account, "", "j") is None
    assert h.store.tasks.list(h.account, "j") == []
    assert h.backend.running() == []
    assert h.backend.removed_dirs[-1][1] == "workitems/j"
    assert ended == [("j", True)]


def test_an_exit_condition_job_action_terminates_or_disables_the_job() -> None:
    for action, expected in (
        (BatchJobActionKind.TERMINATE, JobState.COMPLETED),
        (BatchJobActionKind.DISABLE, JobState.DISABLED),
    ):
        h = Harness()
        h.pool()
        job = h.job(task_failure_mode=BatchTaskFailureMode.PERFORM_EXIT_OPTIONS_JOB_ACTION)
        conditions = ExitConditions(exit_codes=[ExitCodeMapping(code=4, exit_options=ExitOptions(job_action=action))])
        h.add(job, h.task(job, "t1", exit_conditions=conditions), h.task(job, "t2"))
        h.backend.finish_task("t1", 4)
        assert h.stored_job("j").state == expected, action


def test_no_action_keeps_a_job_running_after_a_failure() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "t1"), h.task(job, "t2"))
    h.backend.finish_task("t1", 1)
    assert h.stored_job("j").state == JobState.ACTIVE
    assert len(h.backend.running("t2")) == 1
