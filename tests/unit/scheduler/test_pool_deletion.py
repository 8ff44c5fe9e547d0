"""Deleting pools and jobs: `deleting` while their work stops and their nodes leave, then gone;
a new pool is `resizing` until its nodes are up; a restart finishes a delete."""

from __future__ import annotations

from datetime import timedelta

from batchite.domain.states import JobState, NodeState, PoolState, TaskState
from batchite.scheduler import Scheduler, SchedulerSettings
from batchite.wire.enums import AllocationState
from batchite.wire.models import BatchJobPreparationTask, BatchJobReleaseTask
from tests.unit.scheduler.fakes import FakeBackend, Harness

RELEASE = 2.0


def _harness(auto_ready: bool = True) -> Harness:
    return Harness(SchedulerSettings(node_release_time=timedelta(seconds=RELEASE)), auto_ready=auto_ready)


def test_a_deleted_pool_is_deleting_until_its_nodes_have_stopped_their_work_and_left() -> None:
    h = _harness()
    live = h.pool(dedicated=2)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    busy = h.node_of("j", "t1")
    h.scheduler.nodes.delete(live)
    pool = h.store.pools.get(h.account, "", "p")
    assert pool is not None and pool.wire.state == PoolState.DELETING
    assert pool.wire.allocation_state == AllocationState.RESIZING
    assert {n.wire.state for n in h.store.nodes.list(h.account, "p")} == {NodeState.LEAVING_POOL}
    task = h.stored_task("j", "t1")
    assert task.state == TaskState.ACTIVE  # requeued, as a resize with the default option does
    assert task.execution_info is not None and task.execution_info.requeue_count == 1
    assert h.backend.released == []  # the killed process has not ended yet
    h.settle()  # its end is reported; the release time starts for both nodes
    assert h.backend.released == []
    assert h.store.pools.get(h.account, "", "p") is not None
    h.advance(RELEASE - 0.1)
    assert h.backend.released == [] and len(live.nodes) == 2
    h.advance(0.1)
    assert busy in h.backend.released and len(h.backend.released) == 2
    assert h.store.pools.get(h.account, "", "p") is None
    assert h.store.nodes.list(h.account, "p") == []
    assert h.scheduler.projection.pool(h.account, "p") is None
    assert h.stored_task("j", "t1").state == TaskState.ACTIVE  # it waits for a pool of that id


def test_a_node_still_running_a_killed_task_is_released_only_after_the_process_ended() -> None:
    h = _harness()
    live = h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    (run_id,) = h.backend.running("t1")
    h.backend.kill = lambda node, run_id: None  # type: ignore[method-assign]  # an agent slow to stop it
    h.scheduler.nodes.delete(live)
    h.advance(RELEASE * 3)
    assert h.backend.released == [] and len(live.nodes) == 1
    h.backend.finish(run_id, 137, killed=True)
    h.advance(RELEASE)
    assert len(h.backend.released) == 1
    assert h.store.pools.get(h.account, "", "p") is None


def test_an_empty_pool_is_deleting_for_the_release_time() -> None:
    h = _harness()
    live = h.pool(dedicated=0)
    assert live.entity.wire.allocation_state == AllocationState.STEADY  # nothing to allocate: steady at once
    h.scheduler.nodes.delete(live)
    pool = h.store.pools.get(h.account, "", "p")
    assert pool is not None and pool.wire.state == PoolState.DELETING
    assert pool.wire.allocation_state == AllocationState.STEADY
    h.advance(RELEASE)
    assert h.store.pools.get(h.account, "", "p") is None


def test_a_new_pool_is_resizing_until_its_nodes_are_up_and_again_while_it_grows() -> None:
    h = _harness(auto_ready=False)
    live = h.pool(dedicated=1)
    assert live.entity.wire.allocation_state == AllocationState.RESIZING
    (node,) = live.nodes.values()
    h.backend.ready(node.spec)
    assert live.entity.wire.allocation_state == AllocationState.STEADY
    h.scheduler.nodes.resize(live, 2, 0)
    assert live.entity.wire.allocation_state == AllocationState.RESIZING
    (new,) = [n for n in live.nodes.values() if n is not node]
    h.backend.ready(new.spec)
    stored = h.store.pools.get(h.account, "", "p")
    assert stored is not None and stored.wire.allocation_state == AllocationState.STEADY


def test_a_restart_finishes_deleting_a_pool() -> None:
    h = _harness()
    live = h.pool(dedicated=1)
    h.scheduler.nodes.delete(live)  # the service stops before the node has left
    backend = FakeBackend(h.clock)
    again = Scheduler(
        h.store, backend, h.clock, h.urls, None, SchedulerSettings(node_release_time=timedelta(seconds=RELEASE))
    )
    again.recover()
    restored = again.projection.pool(h.account, "p")
    assert restored is not None and restored.deleting
    (node,) = restored.nodes.values()
    assert node.attaching and node.state == NodeState.LEAVING_POOL  # its agent is looked for first
    h.settle()  # found: now it can be released (the agent ends with whatever it still runs)
    assert not node.attaching and backend.released == []
    h.advance(RELEASE)
    assert backend.released == [node.id]
    assert h.store.pools.get(h.account, "", "p") is None


def test_a_deleted_job_is_deleting_until_its_killed_tasks_ended_and_its_release_tasks_ran() -> None:
    h = _harness()
    h.pool(dedicated=1)
    job = h.job(
        job_preparation_task=BatchJobPreparationTask(command_line="prep"),
        job_release_task=BatchJobReleaseTask(command_line="release"),
    )
    h.add(job, h.task(job, "t1"))
    h.backend.finish_task("jobpreparation")
    (run_id,) = h.backend.running("t1")
    h.scheduler.jobs.delete(job.entity)
    assert h.stored_job("j").state == JobState.DELETING
    assert h.backend.runs[run_id].killed and h.backend.running("jobrelease") == []  # not before t1 ended
    h.settle()  # the kill is reported: now the release task runs
    (release,) = h.backend.running("jobrelease")
    assert h.stored_job("j").state == JobState.DELETING
    h.backend.finish(release, 0)
    assert h.store.jobs.get(h.account, "", "j") is None
    assert h.store.tasks.list(h.account, "j") == []


def test_a_job_being_deleted_does_not_wait_for_a_run_whose_node_was_lost() -> None:
    h = _harness()
    live = h.pool(dedicated=1)
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.backend.kill = lambda node, run_id: None  # type: ignore[method-assign]  # the agent never answers
    h.scheduler.jobs.delete(job.entity)
    h.advance(60)
    assert h.stored_job("j").state == JobState.DELETING  # it waits for the killed process to end
    (node,) = live.nodes.values()
    h.scheduler.node_lost(node.spec, "its node agent is gone")
    assert h.store.jobs.get(h.account, "", "j") is None
