"""Multi-instance tasks: one primary and numberOfInstances-1 subtasks on distinct nodes.

The coordination command line runs on every node (primary included) with AZ_BATCH_HOST_LIST,
AZ_BATCH_MASTER_NODE and AZ_BATCH_IS_CURRENT_NODE_MASTER set; once every coordination command
has exited successfully, the application command line runs on the primary, and its exit is the
task's. Subtasks are stored (entity Subtask) for `list subtasks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from batchite.agent.layout import TaskLaunch, task_relative_dir
from batchite.agent.process import ProcessOutcome
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend, RunAs
from batchite.domain.entities import Subtask, Task
from batchite.domain.states import SubtaskState, transition
from batchite.domain.urls import Urls
from batchite.scheduler.containers import task_container
from batchite.scheduler.events import EventBus, RunEnded, RunStarted
from batchite.scheduler.failures import outcome_failure
from batchite.scheduler.launches import node_info
from batchite.scheduler.live import LiveJob, LiveNode, LivePool, LiveTask, PrepState, Projection, Run
from batchite.scheduler.run_as import run_as
from batchite.scheduler.runs import RunTable
from batchite.scheduler.staging import Part, Staging
from batchite.store.base import Store
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.models import BatchApplicationPackageReference, BatchSubtask

MASTER_PORT = 6000
Finish = Callable[[ProcessOutcome], None]


@dataclass(eq=False)
class Coordination:
    pending: int
    failed: ProcessOutcome | None = None


def subtask_parent(job_key: str, task_key: str) -> str:
    return f"{job_key}/{task_key}"


class MultiInstance:
    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        projection: Projection,
        runs: RunTable,
        staging: Staging,
        events: EventBus,
        urls: Urls,
    ) -> None:
        self.store = store
        self.backend = backend
        self.clock = clock
        self.projection = projection
        self.runs = runs
        self.staging = staging
        self.events = events
        self.urls = urls

    # -- placement ----------------------------------------------------------------------
    @staticmethod
    def pick_nodes(pool: LivePool, slots: int, job: LiveJob, count: int) -> list[LiveNode] | None:
        nodes = [n for n in pool.nodes.values() if n.accepts(slots) and job.prep.get(n.id) != PrepState.FAILED]
        if len(nodes) < count:
            return None
        return sorted(nodes, key=lambda n: -n.free)[:count]

    def reserve(self, job: LiveJob, task: LiveTask, nodes: list[LiveNode], slots: int) -> None:
        """The subtasks' slots, held from dispatch until the task ends."""
        task.sub_runs = []
        for node in nodes:
            sub = Run(id="", task=task, node=node, job_key=job.key, slots=slots)
            node.used += slots
            node.runs.add(sub)
            task.sub_runs.append(sub)
            self.events.publish(RunStarted(node, job, task))

    def release(self, job: LiveJob, task: LiveTask) -> None:
        for sub in task.sub_runs:
            if sub.id:
                self.backend.kill(sub.node.spec, sub.id)
            if sub in sub.node.runs:
                sub.node.runs.discard(sub)
                sub.node.used -= sub.slots
                self.events.publish(RunEnded(sub.node, job, task, None))
        task.sub_runs = []

    def kill(self, run: Run) -> None:
        """The task is being stopped: end its subtasks' coordination commands too."""
        for sub in run.task.sub_runs:
            if sub.id:
                self.backend.kill(sub.node.spec, sub.id)

    # -- running ------------------------------------------------------------------------
    def launch(self, job: LiveJob, run: Run, task: Task, env: dict[str, str], finish: Finish) -> None:
        live = run.task
        settings = task.wire.multi_instance_settings
        assert settings is not None
        runs = [run, *live.sub_runs]
        hosts = ",".join(r.node.ip for r in runs)
        state = Coordination(pending=len(runs))
        self.store.subtasks.delete_all(live.account, subtask_parent(job.key, live.key))
        for index, each in enumerate(runs):
            if index:
                self._subtask(job, live, index, each.node, SubtaskState.RUNNING)
            each.id = self.runs.new(partial(self._coordinated, job, run, task, env, index, state, finish))
            who = run_as(task.wire.user_identity)
            launch = self._launch(job, live, each.node, index == 0, hosts, run.node.ip, env, each.id, who)
            launch.command_line = settings.coordination_command_line or "true"
            launch.container, launch.container_required = task_container(task.wire.container_settings), True
            launch.staging = self.staging.build(
                live.account,
                pool_refs=self._pool_refs(each.node),
                task_refs=task.wire.application_package_references,
                common_resource_files=settings.common_resource_files,
                part=Part.COORDINATION,
            )
            self.backend.start(each.node.spec, launch)

    def _pool_refs(self, node: LiveNode) -> list[BatchApplicationPackageReference]:
        pool = self.projection.pool_of(node)
        return pool.package_refs if pool is not None else []

    def _launch(
        self,
        job: LiveJob,
        task: LiveTask,
        node: LiveNode,
        master: bool,
        hosts: str,
        master_ip: str,
        env: dict[str, str],
        run_id: str,
        who: RunAs,
    ) -> TaskLaunch:
        extra = {
            "AZ_BATCH_HOST_LIST": hosts,
            "AZ_BATCH_MASTER_NODE": f"{master_ip}:{MASTER_PORT}",
            "AZ_BATCH_IS_CURRENT_NODE_MASTER": "true" if master else "false",
            "AZ_BATCH_NODE_IP": node.ip,
        }
        return TaskLaunch(
            run_id=run_id,
            command_line="",
            job_id=job.id,
            task_id=task.id,
            relative_dir=task_relative_dir(job.id, task.id),
            user_environment=env,
            extra_environment=extra,
            job_prep_relative_dir=job.prep_dir,
            run_as=who,
        )

    def _coordinated(
        self,
        job: LiveJob,
        run: Run,
        task: Task,
        env: dict[str, str],
        index: int,
        state: Coordination,
        finish: Finish,
        outcome: ProcessOutcome,
    ) -> None:
        failure = outcome_failure(outcome)
        if index:
            live = run.task
            sub = live.sub_runs[index - 1] if index - 1 < len(live.sub_runs) else None
            if sub is not None:
                sub.id = ""
                self._subtask(job, live, index, sub.node, SubtaskState.COMPLETED, outcome)
        else:
            run.id = ""
        if failure and state.failed is None:
            state.failed = outcome
        state.pending -= 1
        if state.pending:
            return
        if run.detached or run.task.run is not run:
            finish(outcome)  # only frees the slots of a task that moved on
            return
        if state.failed is not None:
            finish(state.failed)
            return
        live = run.task
        hosts = ",".join(r.node.ip for r in [run, *live.sub_runs])
        run.id = self.runs.new(finish)
        who = run_as(task.wire.user_identity)
        launch = self._launch(job, live, run.node, True, hosts, run.node.ip, env, run.id, who)
        launch.command_line = task.wire.command_line
        launch.container, launch.container_required = task_container(task.wire.container_settings), True
        launch.staging = self.staging.build(
            live.account,
            pool_refs=self._pool_refs(run.node),
            task_refs=task.wire.application_package_references,
            resource_files=task.wire.resource_files,
            output_files=task.wire.output_files,
            part=Part.APPLICATION,
        )
        self.backend.start(run.node.spec, launch)

    def _subtask(
        self,
        job: LiveJob,
        task: LiveTask,
        index: int,
        node: LiveNode,
        new: SubtaskState,
        outcome: ProcessOutcome | None = None,
    ) -> None:
        parent = subtask_parent(job.key, task.key)
        sub = self.store.subtasks.get(task.account, parent, str(index))
        now = self.clock.now()
        if sub is None:
            info = node_info(self.urls, node, job.id, task.id)
            sub = self.store.subtasks.insert(Subtask(task.account, parent, BatchSubtask(id=index, node_info=info)))
        transition(sub.wire, new, now)
        if new == SubtaskState.RUNNING:
            sub.wire.start_time = now
        if outcome is not None:
            failure = outcome_failure(outcome)
            sub.wire.end_time = now
            sub.wire.result = BatchTaskExecutionResult.FAILURE if failure else BatchTaskExecutionResult.SUCCESS
            sub.wire.exit_code = outcome.exit_code
            sub.wire.failure_info = failure
        self.store.subtasks.update(sub)
