"""Task dependencies: by id and by id range, blocked by failure, satisfied by an exit condition."""

from __future__ import annotations

from batchite.domain.states import TaskState
from batchite.wire.enums import DependencyAction
from batchite.wire.models import (
    BatchTaskDependencies,
    BatchTaskIdRange,
    ExitCodeMapping,
    ExitConditions,
    ExitOptions,
)
from tests.unit.scheduler.fakes import Harness


def _after(*ids: str) -> BatchTaskDependencies:
    return BatchTaskDependencies(task_ids=list(ids))


def test_a_chain_runs_in_order_in_the_tick_its_dependency_ends() -> None:
    h = Harness()
    h.pool(slots=4)
    job = h.job(uses_task_dependencies=True)
    h.add(job, h.task(job, "a"), h.task(job, "b", depends_on=_after("a")), h.task(job, "c", depends_on=_after("b")))
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["a"]
    h.backend.finish_task("a")
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["b"]
    h.backend.finish_task("b")
    h.backend.finish_task("c")
    assert h.stored_task("j", "c").state == TaskState.COMPLETED


def test_a_range_waits_for_every_task_in_it() -> None:
    h = Harness()
    h.pool(slots=4)
    job = h.job(uses_task_dependencies=True)
    ranged = BatchTaskDependencies(task_id_ranges=[BatchTaskIdRange(start=1, end=3)])
    h.add(job, h.task(job, "1"), h.task(job, "2"), h.task(job, "3"), h.task(job, "merge", depends_on=ranged))
    h.backend.finish_task("1")
    h.backend.finish_task("2")
    assert h.backend.running("merge") == []
    h.backend.finish_task("3")
    assert len(h.backend.running("merge")) == 1


def test_a_failed_dependency_blocks_and_an_exit_condition_can_satisfy() -> None:
    h = Harness()
    h.pool(slots=4)
    job = h.job(uses_task_dependencies=True)
    satisfy = ExitConditions(
        exit_codes=[ExitCodeMapping(code=2, exit_options=ExitOptions(dependency_action=DependencyAction.SATISFY))]
    )
    h.add(
        job,
        h.task(job, "fails"),
        h.task(job, "blocked", depends_on=_after("fails")),
        h.task(job, "soft", exit_conditions=satisfy),
        h.task(job, "after-soft", depends_on=_after("soft")),
    )
    h.backend.finish_task("fails", 1)
    h.backend.finish_task("soft", 2)
    assert h.backend.running("blocked") == []
    assert len(h.backend.running("after-soft")) == 1
    assert "blocked" in job.waiting
