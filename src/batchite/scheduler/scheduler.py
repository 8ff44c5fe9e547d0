"""The Scheduler: its parts put together with their collaborators, and recovery from the store.

Parts and what each owns (each is its own module, tested on its own against a fake backend):
dispatch (ready tasks onto slots), task_runs (a task's runs, retries, stops), nodes (pools,
nodes, start task, node documents), node_actions (reboot, reimage, ...), jobs (job lifecycle),
dependencies, job_tasks (preparation and release), multi_instance, preemption, autoscale, timers.
Commands come down from the service; backend events come up through this object (`NodeEvents`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchite.agent.process import ProcessOutcome
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend, NodeSpec
from batchite.domain.quotas import Quotas
from batchite.domain.states import JobState, PoolState, TaskState, transition
from batchite.domain.urls import Urls
from batchite.scheduler.autoscale import AutoScaler
from batchite.scheduler.dependencies import Dependencies
from batchite.scheduler.dispatch import Dispatcher
from batchite.scheduler.events import EventBus
from batchite.scheduler.job_tasks import JobPreparation
from batchite.scheduler.jobs import JobLifecycle
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import LiveTask, Projection
from batchite.scheduler.multi_instance import MultiInstance
from batchite.scheduler.node_actions import NodeActions
from batchite.scheduler.nodes import NodeManager
from batchite.scheduler.preemption import Preemption, PreemptionPolicy
from batchite.scheduler.queue import ReadyQueue
from batchite.scheduler.runs import RunTable
from batchite.scheduler.side_tasks import SideTasks
from batchite.scheduler.staging import Staging
from batchite.scheduler.task_runs import TaskRunner, execution_info
from batchite.scheduler.timers import ScheduleTimers
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Store


@dataclass(frozen=True)
class SchedulerSettings:
    quotas: Quotas = field(default_factory=Quotas)
    preemption: PreemptionPolicy = field(default_factory=PreemptionPolicy)


class Scheduler:
    """One per service; every method runs on the event loop thread (or a ManualClock's)."""

    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        urls: Urls,
        storage: LinkedStorage | None = None,
        settings: SchedulerSettings | None = None,
    ) -> None:
        settings = settings or SchedulerSettings()
        self.store = store
        self.backend = backend
        self.clock = clock
        self.settings = settings
        self.events = EventBus()
        self.projection = projection = Projection()
        self.kick = kick = Kick(clock)
        self.runs = runs = RunTable()
        queue = ReadyQueue(kick)
        staging = Staging(store, storage)
        side_tasks = SideTasks(backend, clock, runs, alive=lambda node: projection.pool_of(node) is not None)
        self.preparation = JobPreparation(store, side_tasks, staging, projection, urls)
        self.multi = MultiInstance(store, backend, clock, projection, runs, staging, self.events, urls)
        self.tasks = TaskRunner(
            store, backend, clock, projection, runs, staging, self.preparation, self.multi, queue, self.events, urls
        )
        self.dependencies = Dependencies(queue, self.events)
        self.nodes = NodeManager(
            store, backend, clock, projection, self.tasks, side_tasks, staging, self.events, kick, urls, settings.quotas
        )
        self.node_actions = NodeActions(self.nodes, self.tasks, kick)
        self.jobs = JobLifecycle(
            store, backend, clock, projection, self.tasks, self.preparation, self.dependencies, self.events, kick
        )
        self.preemption = Preemption(clock, projection, self.nodes, self.tasks, kick, settings.preemption)
        self.dispatcher = Dispatcher(projection, self.tasks, self.multi, self.preemption)
        kick.bind(self.dispatcher.dispatch)
        self.autoscale = AutoScaler(store, clock, projection, self.nodes, self.events)
        self.timers = ScheduleTimers(clock)
        backend.connect(self)

    @property
    def quotas(self) -> Quotas:
        return self.settings.quotas

    # -- NodeEvents (from the backend) ----------------------------------------------------
    def node_ready(self, node: NodeSpec) -> None:
        self.nodes.node_ready(node)

    def run_finished(self, run_id: str, outcome: ProcessOutcome) -> None:
        self.runs.finished(run_id, outcome)

    # -- start and stop -------------------------------------------------------------------
    def recover(self) -> None:
        """Rebuild the projection from the store. Running tasks are requeued; none is lost."""
        now = self.clock.now()
        for pool in list(self.store.pools.every()):
            live = self.nodes.restore_pool(pool)
            if pool.wire.state == PoolState.DELETING:
                self.nodes.delete(live)
                continue
            for node in self.store.nodes.list(pool.account, pool.key):
                self.nodes.restore(live, node)
            targets = (pool.wire.target_dedicated_nodes or 0, pool.wire.target_low_priority_nodes or 0)
            if live.counts() != targets and pool.wire.allocation_state != "steady":
                self.nodes.resize(live, *targets)
        for job in list(self.store.jobs.every()):
            state = job.wire.state
            if state == JobState.DELETING:
                self.jobs.delete(job)
                continue
            if state == JobState.COMPLETED:
                continue
            if state == JobState.TERMINATING:
                job_info = job.wire.execution_info
                self.jobs.terminate(job, (job_info.termination_reason if job_info else None) or "UserTerminate")
                continue
            if state in (JobState.DISABLING, JobState.ENABLING):
                transition(job.wire, JobState.DISABLED if state == JobState.DISABLING else JobState.ACTIVE, now)
                self.store.jobs.update(job)
            live_job = self.jobs.live(job)
            if job.wire.uses_task_dependencies:
                for done in self.store.tasks.list(job.account, job.key, states=[TaskState.COMPLETED]):
                    self.dependencies.recovered(live_job, done)
            for task in self.store.tasks.list(job.account, job.key, exclude_states=[TaskState.COMPLETED]):
                if task.wire.state in (TaskState.RUNNING, TaskState.PREPARING):
                    info = execution_info(task)
                    info.requeue_count += 1
                    info.last_requeue_time = now
                    transition(task.wire, TaskState.ACTIVE, now)
                    self.store.tasks.update(task)
                self.dependencies.admit(live_job, LiveTask.of(task))
            self.jobs.check_complete(live_job)
        for task in self.store.tasks.every():
            if task.wire.state == TaskState.COMPLETED:
                self.tasks.schedule_retention(task)
        for live in self.projection.pools.values():
            if live.entity.wire.enable_auto_scale and live.entity.wire.state == PoolState.ACTIVE:
                self.autoscale.arm(live)
        self.autoscale.start()
        self.preemption.start()
        self.kick()

    def shutdown(self) -> None:
        self.timers.cancel_all()
        self.autoscale.stop()
        self.preemption.stop()
        self.backend.shutdown()

    def flush_node_documents(self) -> None:
        self.nodes.documents.flush()
