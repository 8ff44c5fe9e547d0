"""After a restart, a node takes no new task until its agent has said which runs it still has.

Otherwise a task placed on it meanwhile would be missing from the agent's answer and taken for a
run the agent lost: requeued while it ran, so it would run twice (what the crash bench found)."""

from __future__ import annotations

from dataclasses import dataclass, field

from batchite.compute.protocol import NodeSpec
from batchite.domain.states import TaskState
from batchite.scheduler import Scheduler
from tests.unit.scheduler.fakes import FakeBackend, Harness


@dataclass
class SlowAttach(FakeBackend):
    """An agent that answers only when the test says."""

    looked_for: list[NodeSpec] = field(default_factory=list)

    def attach(self, node: NodeSpec) -> None:
        self.looked_for.append(node)


def test_a_node_being_found_again_takes_no_task_until_its_agent_answers() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "kept"))
    kept = h.backend.running("kept")[0]

    backend = SlowAttach(h.clock)
    scheduler = Scheduler(h.store, backend, h.clock, h.urls)
    scheduler.recover()
    h.settle()
    live = scheduler.projection.jobs[(h.account, "j")]
    scheduler.jobs.add_tasks(live, [h.task(live, "late")])  # a slot is free, but the agent has not answered
    h.settle()
    assert backend.runs == {}
    assert h.stored_task("j", "late").state == TaskState.ACTIVE

    assert backend.events is not None and len(backend.looked_for) == 1
    backend.events.node_attached(backend.looked_for[0], {kept})
    h.settle()
    started = [run for run in backend.runs.values() if run.launch.task_id == "late"]
    assert len(started) == 1 and not started[0].killed
    late = h.stored_task("j", "late")
    assert late.state == TaskState.RUNNING
    assert late.execution_info is not None and late.execution_info.requeue_count == 0
    kept_task = h.stored_task("j", "kept")
    assert kept_task.state == TaskState.RUNNING
    assert kept_task.execution_info is not None and kept_task.execution_info.requeue_count == 0
