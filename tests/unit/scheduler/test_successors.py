"""Successors: when every slot is taken, a job's next task waits on the node's agent behind one of
the job's running tasks and starts the moment it ends, on its slots; until then it is active,
holds no slot, and anything that stops or moves it puts it back in the queue as it was."""

from __future__ import annotations

from batchite.domain.node_actions import NodeAction
from batchite.domain.states import NodeState, TaskState
from batchite.scheduler import Scheduler
from batchite.wire.enums import DisableBatchJobOption
from batchite.wire.models import BatchJobConstraints
from batchite.wire.types import Duration
from tests.unit.scheduler.fakes import FakeBackend, Harness


def harness(slots: int = 1) -> Harness:
    h = Harness()
    h.backend.successors = True
    h.pool(dedicated=1, slots=slots)
    return h


def waiting_tasks(h: Harness) -> list[str]:
    return [h.backend.runs[r].launch.task_id for r in h.backend.waiting()]


def test_the_next_task_waits_behind_a_running_one_and_takes_its_slot_when_it_ends() -> None:
    h = harness()
    job = h.job()
    h.add(job, *(h.task(job, f"t{i}") for i in range(3)))
    (first,) = h.backend.running()
    assert h.backend.runs[first].launch.task_id == "t0"
    assert waiting_tasks(h) == ["t1"]  # one successor per run: t2 stays queued
    assert h.backend.runs[h.backend.waiting()[0]].launch.task_id == "t1"
    assert h.stored_task("j", "t1").state == TaskState.ACTIVE
    assert h.stored_task("j", "t1").node_info is None
    h.advance(2)
    h.backend.finish(first, 0)
    t1 = h.stored_task("j", "t1")
    assert t1.state == TaskState.RUNNING and t1.node_info is not None
    assert t1.execution_info is not None and t1.execution_info.start_time == h.clock.now()
    assert h.stored_task("j", "t0").state == TaskState.COMPLETED
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["t1"]
    assert waiting_tasks(h) == ["t2"]
    node = next(iter(h.scheduler.projection.pools[("acc", "p")].nodes.values()))
    assert node.used == 1
    for task_id in ("t1", "t2"):
        h.backend.finish_task(task_id)
    assert {h.stored_task("j", f"t{i}").state for i in range(3)} == {TaskState.COMPLETED}
    assert node.used == 0 and h.backend.waiting() == []


def test_a_waiting_task_terminated_never_runs_and_the_running_one_goes_on() -> None:
    h = harness()
    job = h.job()
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    (waiting,) = h.backend.waiting()
    entity = h.store.tasks.get("acc", "j", "t1")
    assert entity is not None
    h.scheduler.jobs.terminate_task(job, entity)
    h.settle()
    assert h.backend.runs[waiting].done and h.backend.runs[waiting].killed
    t1 = h.stored_task("j", "t1")
    assert t1.state == TaskState.COMPLETED and t1.execution_info is not None
    assert t1.execution_info.failure_info is not None and t1.execution_info.failure_info.code == "TaskEnded"
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["t0"]
    h.backend.finish_task("t0")
    assert h.backend.running() == [] and h.backend.waiting() == []


def test_disabling_the_job_puts_the_waiting_task_back_in_the_queue_unchanged() -> None:
    h = harness()
    job = h.job()
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    h.scheduler.jobs.disable(job, DisableBatchJobOption.REQUEUE)
    h.settle()
    assert h.backend.running() == [] and h.backend.waiting() == []
    t1 = h.stored_task("j", "t1")
    assert t1.state == TaskState.ACTIVE
    assert t1.execution_info is None or t1.execution_info.requeue_count == 0  # it never ran
    assert h.stored_task("j", "t0").execution_info.requeue_count == 1  # type: ignore[union-attr]
    h.scheduler.jobs.enable(job)
    h.settle()
    assert len(h.backend.running()) == 1 and len(h.backend.waiting()) == 1


def test_disable_wait_lets_the_running_task_end_and_the_waiting_one_does_not_start() -> None:
    h = harness()
    job = h.job()
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    h.scheduler.jobs.disable(job, DisableBatchJobOption.WAIT)
    h.backend.finish_task("t0")
    assert h.backend.running() == [] and h.backend.waiting() == []
    assert h.stored_task("j", "t1").state == TaskState.ACTIVE


def test_a_node_rebooted_takes_its_waiting_task_back_to_the_queue() -> None:
    h = harness()
    live = h.scheduler.projection.pools[("acc", "p")]
    node = next(iter(live.nodes.values()))
    job = h.job()
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    h.backend.auto_ready = False
    h.scheduler.node_actions.act(live, node, NodeAction.REBOOT, None)
    h.settle()
    assert node.state == NodeState.STARTING
    assert h.backend.running() == [] and h.backend.waiting() == []
    assert {h.stored_task("j", t).state for t in ("t0", "t1")} == {TaskState.ACTIVE}
    h.backend.ready(node.spec)
    h.settle()
    assert len(h.backend.running()) == 1


def test_no_successor_beyond_the_jobs_max_parallel_tasks() -> None:
    h = harness(slots=2)
    job = h.job(max_parallel_tasks=1)
    h.add(job, *(h.task(job, f"t{i}") for i in range(3)))
    assert len(h.backend.running()) == 1 and h.backend.waiting() == []


def test_a_run_that_fails_and_retries_is_queued_behind_its_successor() -> None:
    h = harness()
    job = h.job()
    h.add(job, h.task(job, "t0", retries=1), h.task(job, "t1"))
    h.backend.finish_task("t0", 1)
    assert [h.backend.runs[r].launch.task_id for r in h.backend.running()] == ["t1"]
    assert waiting_tasks(h) == ["t0"]  # its retry follows
    h.backend.finish_task("t1")
    h.backend.finish_task("t0")
    assert h.stored_task("j", "t0").execution_info.retry_count == 1  # type: ignore[union-attr]
    assert h.stored_task("j", "t0").state == TaskState.COMPLETED


def test_a_job_wall_clock_stops_the_waiting_task_too() -> None:
    h = harness()
    job = h.job(constraints=BatchJobConstraints(max_wall_clock_time=Duration(minutes=1)))
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    h.advance(61)
    assert h.backend.running() == [] and h.backend.waiting() == []
    assert {h.stored_task("j", t).state for t in ("t0", "t1")} == {TaskState.COMPLETED}


def restarted(h: Harness, still_running: set[str]) -> FakeBackend:
    backend = FakeBackend(h.clock, still_running=still_running)
    backend.successors = True
    Scheduler(h.store, backend, h.clock, h.urls).recover()
    h.clock.settle()
    return backend


def test_a_successor_its_agent_started_while_the_service_was_away_is_kept_not_run_twice() -> None:
    h = harness()
    job = h.job()
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    (waiting,) = h.backend.waiting()
    assert h.store.tasks.get("acc", "j", "t1").internal.run_id == waiting  # type: ignore[union-attr]
    # The agent saw t0 end and started t1; the service died before it heard of it.
    backend = restarted(h, {waiting})
    assert backend.runs == {}  # nothing started again
    t1 = h.stored_task("j", "t1")
    assert t1.state == TaskState.RUNNING and t1.node_info is not None
    assert t1.execution_info is not None and t1.execution_info.requeue_count == 0
    assert h.stored_task("j", "t0").state == TaskState.ACTIVE  # its end was not heard: it runs again
    assert t1.execution_info.start_time is not None


def test_a_successor_that_never_started_is_queued_after_a_restart_without_a_requeue() -> None:
    h = harness()
    job = h.job()
    h.add(job, h.task(job, "t0"), h.task(job, "t1"))
    (old,) = h.backend.waiting()
    backend = restarted(h, set())
    assert h.store.tasks.get("acc", "j", "t1").internal.run_id != old  # type: ignore[union-attr]
    t1 = h.stored_task("j", "t1")
    assert t1.execution_info is None or t1.execution_info.requeue_count == 0
    started = {run.launch.task_id for run in backend.runs.values()}
    assert "t1" in started or "t0" in started
    while backend.running():  # whichever runs first, the other follows it
        backend.finish(backend.running()[0], 0)
    assert backend.waiting() == []
    assert {h.stored_task("j", t).state for t in ("t0", "t1")} == {TaskState.COMPLETED}
