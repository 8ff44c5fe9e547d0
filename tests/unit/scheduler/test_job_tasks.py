"""A job's preparation task before its first task on each node, and what its outcome means."""

from __future__ import annotations

from batchite.domain.states import TaskState
from batchite.wire.enums import BatchJobPreparationTaskState
from batchite.wire.models import BatchJobPreparationTask, BatchTaskConstraints
from tests.unit.scheduler.fakes import Harness


def test_the_preparation_task_runs_once_per_node_before_tasks() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job(job_preparation_task=BatchJobPreparationTask(command_line="prep"))
    h.add(job, h.task(job, "t1"), h.task(job, "t2"))
    assert h.stored_task("j", "t1").state == TaskState.PREPARING
    (prep,) = h.backend.running("jobpreparation")
    assert h.backend.running("t1") == []
    h.backend.finish(prep, 0)
    assert h.stored_task("j", "t1").state == TaskState.RUNNING
    assert len(h.backend.running("t1")) == 1 and len(h.backend.running("t2")) == 1
    h.backend.finish_task("t1")
    h.add(job, h.task(job, "t3"))
    assert h.backend.running("jobpreparation") == []  # not again on the same node
    status = h.store.prep_statuses.list(h.account, "j")[0].wire
    info = status.job_preparation_task_execution_info
    assert info is not None and info.state == BatchJobPreparationTaskState.COMPLETED
    assert info.task_root_directory == "workitems/j/job-1/jobpreparation"


def test_a_failed_preparation_task_keeps_tasks_off_that_node() -> None:
    h = Harness()
    h.pool(dedicated=2)
    prep = BatchJobPreparationTask(command_line="prep", constraints=BatchTaskConstraints(max_task_retry_count=0))
    job = h.job(job_preparation_task=prep)
    h.add(job, h.task(job, "t1"))
    (first,) = h.backend.running("jobpreparation")
    bad_node = h.backend.runs[first].node.node_id
    h.backend.finish(first, 1)
    (second,) = h.backend.running("jobpreparation")  # the task went to the other node
    assert h.backend.runs[second].node.node_id != bad_node
    h.backend.finish(second, 0)
    assert h.node_of("j", "t1") != bad_node
    assert h.stored_task("j", "t1").state == TaskState.RUNNING


def test_without_wait_for_success_tasks_start_beside_it() -> None:
    h = Harness()
    h.pool()
    job = h.job(job_preparation_task=BatchJobPreparationTask(command_line="prep", wait_for_success=False))
    h.add(job, h.task(job, "t1"))
    assert len(h.backend.running("jobpreparation")) == 1
    assert len(h.backend.running("t1")) == 1
