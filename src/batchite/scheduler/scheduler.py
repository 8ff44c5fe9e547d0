"""The Scheduler: its parts put together with their collaborators, and recovery from the store.

Parts and what each owns (each is its own module, tested on its own against a fake backend):
dispatch (ready tasks onto slots), task_runs (a task's runs, retries, stops), nodes (pools,
nodes, start task, node documents), node_actions (reboot, reimage, ...), jobs (job lifecycle),
dependencies, job_tasks (preparation and release), multi_instance, preemption, autoscale, timers.
Commands come down from the service; backend events come up through this object (`NodeEvents`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from batchite.agent.container_specs import EngineSettings
from batchite.agent.process import ProcessOutcome
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend, NodeSpec
from batchite.domain.entities import Task
from batchite.domain.job_totals import of_tasks
from batchite.domain.quotas import Quotas
from batchite.domain.states import JobState, PoolState, TaskState, transition
from batchite.domain.urls import Urls
from batchite.scheduler.account_removal import AccountRemoval
from batchite.scheduler.agent_groups import DEFAULT_NODES_PER_AGENT
from batchite.scheduler.autoscale import AutoScaler
from batchite.scheduler.dependencies import Dependencies
from batchite.scheduler.dispatch import Dispatcher
from batchite.scheduler.events import EventBus
from batchite.scheduler.job_tasks import JobPreparation
from batchite.scheduler.jobs import JobLifecycle
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import LiveJob, LiveTask, Projection
from batchite.scheduler.multi_instance import MultiInstance
from batchite.scheduler.node_actions import NodeActions
from batchite.scheduler.node_agents import NodeAgents
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
from batchite.wire.enums import AllocationState

NODE_RELEASE_TIME = timedelta(seconds=10)  # long enough for a client that reads an auto pool's files after its job


@dataclass(frozen=True)
class SchedulerSettings:
    quotas: Quotas = field(default_factory=Quotas)
    preemption: PreemptionPolicy = field(default_factory=PreemptionPolicy)
    node_release_time: timedelta = NODE_RELEASE_TIME  # a deleted pool's node, once its work stopped
    nodes_per_agent: int = DEFAULT_NODES_PER_AGENT  # nodes of one pool an agent process hosts
    container_engine: EngineSettings = field(default_factory=EngineSettings)  # how nodes run container tasks


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
        side_tasks = SideTasks(
            backend, clock, runs, alive=lambda node: projection.pool_of(node) is not None and not node.leaving
        )
        self.preparation = JobPreparation(store, side_tasks, staging, projection, urls)
        self.multi = MultiInstance(store, backend, clock, projection, runs, staging, self.events, urls)
        self.tasks = TaskRunner(
            store, backend, clock, projection, runs, staging, self.preparation, self.multi, queue, self.events, urls
        )
        self.dependencies = Dependencies(queue, self.events)
        self.nodes = NodeManager(
            store,
            backend,
            clock,
            projection,
            self.tasks,
            side_tasks,
            staging,
            self.events,
            kick,
            urls,
            settings.quotas,
            settings.node_release_time,
            settings.nodes_per_agent,
            settings.container_engine,
        )
        self.agents = NodeAgents(self.nodes, self.tasks, store, backend, clock, projection, self.events, kick)
        self.node_actions = NodeActions(self.nodes, self.tasks, kick)
        self.jobs = JobLifecycle(
            store, backend, clock, projection, self.tasks, self.preparation, self.dependencies, self.events, kick
        )
        self.preemption = Preemption(clock, projection, self.nodes, self.tasks, kick, settings.preemption)
        self.dispatcher = Dispatcher(projection, self.tasks, self.multi, self.preemption)
        kick.bind(self.dispatcher.dispatch)
        self.autoscale = AutoScaler(store, clock, projection, self.nodes, self.events)
        self.timers = ScheduleTimers(clock)
        self.account_removal = AccountRemoval(store, projection, self.tasks, self.nodes, self.timers, self.events)
        backend.connect(self, store.committed)

    @property
    def quotas(self) -> Quotas:
        """The configured quotas (of the configured accounts); `quotas_of` answers per account."""
        return self.settings.quotas

    def quotas_of(self, account: str) -> Quotas:
        return self.nodes.quotas_of(account)

    def use_quotas(self, source: Callable[[str], Quotas]) -> None:
        """Where each account's quotas come from (the service's accounts; settings until then)."""
        self.nodes.quotas_of = source

    def remove_account(self, account: str) -> None:
        """Stop everything of an account at once (management deleted it); see account_removal."""
        self.account_removal.remove(account)

    # -- NodeEvents (from the backend) ----------------------------------------------------
    def node_ready(self, node: NodeSpec) -> None:
        self.nodes.node_ready(node)

    def node_unusable(self, node: NodeSpec, code: str, message: str, details: list[tuple[str, str]]) -> None:
        self.nodes.unusable(node, code, message, details)

    def node_attached(self, node: NodeSpec, running: set[str]) -> None:
        self.agents.attached(node, running)

    def node_lost(self, node: NodeSpec, reason: str, *, gone: bool = False) -> None:
        self.agents.lost(node, reason, gone=gone)
        self.jobs.recheck_deleting()  # the runs of a job being deleted may have gone with the node

    def node_unplaced(self, node: NodeSpec, reason: str) -> None:
        self.nodes.capacity.unplaced(node, reason)

    def run_finished(self, run_id: str, outcome: ProcessOutcome) -> None:
        self.runs.finished(run_id, outcome)

    # -- start and stop -------------------------------------------------------------------
    def recover(self) -> None:
        """Rebuild the projection from the store. Nodes are looked for again (their agents outlive
        the service): a task still running on one keeps running; every other task that was
        running is requeued. None is lost."""
        now = self.clock.now()
        for pool in list(self.store.pools.every()):
            live = self.nodes.restore_pool(pool)
            if pool.wire.state == PoolState.DELETING:  # its nodes leave again, their agents released
                live.deleting = True
                for node in self.store.nodes.list(pool.account, pool.key):
                    self.agents.leaving(live, node)
                self.nodes.delete(live)
                continue
            for node in self.store.nodes.list(pool.account, pool.key):
                self.agents.restore(live, node)
            targets = (pool.wire.target_dedicated_nodes or 0, pool.wire.target_low_priority_nodes or 0)
            if live.counts() != targets and pool.wire.allocation_state != AllocationState.STEADY:
                self.nodes.resize(live, *targets)
        for job in list(self.store.jobs.every()):
            if job.internal.totals is None:  # stored before jobs kept them: computed once, here
                job.internal.totals = of_tasks(self.store.tasks.list(job.account, job.key))
                self.store.jobs.update(job, modified=False)
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
                live_task = LiveTask.of(task)
                if self._keep_running(live_job, live_task, task) or self._hold_successor(live_job, live_task, task):
                    continue
                if task.wire.state in (TaskState.RUNNING, TaskState.PREPARING):
                    info = execution_info(task)
                    info.requeue_count += 1
                    info.last_requeue_time = now
                    task.internal.run_id = None
                    transition(task.wire, TaskState.ACTIVE, now)
                    self.store.tasks.update(task)
                self.dependencies.admit(live_job, live_task)
            self.jobs.check_complete(live_job)
        self.tasks.retention.arm_next()  # one timer, for the earliest expiry in the store
        for live in self.projection.pools.values():
            if live.entity.wire.enable_auto_scale and live.entity.wire.state == PoolState.ACTIVE:
                self.autoscale.arm(live)
        self.autoscale.start()
        self.preemption.start()
        self.kick()

    def _hold_successor(self, job: LiveJob, task: LiveTask, entity: Task) -> bool:
        """An active task stored as a successor waiting on a node: its agent may have started it
        while the service was away, so it waits for that node's agent before it is queued."""
        place = entity.internal.waiting_on_node
        if entity.wire.state != TaskState.ACTIVE or not entity.internal.run_id or place is None:
            return False
        found = self.projection.node(entity.account, *place)
        node = found[1] if found is not None else None
        if node is None or not node.attaching or node.leaving:
            entity.internal.run_id = entity.internal.waiting_on_node = None
            self.store.tasks.update(entity, modified=False)
            return False
        self.tasks.hold(job, task, entity, node)
        return True

    def _keep_running(self, job: LiveJob, task: LiveTask, entity: Task) -> bool:
        """A running task whose node is waiting for its agent keeps its run until the agent says."""
        info = entity.wire.node_info
        found = self.projection.node(entity.account, info.pool_id or "", info.node_id or "") if info else None
        node = found[1] if found is not None else None
        if node is None or not node.attaching or node.leaving:  # a deleted pool's node keeps nothing
            return False
        return self.tasks.restore(job, task, entity, node)

    async def shutdown(self, stop_agents: bool = False) -> None:
        """Stop the timers and let go of the nodes; their agents (and tasks) go on unless
        `stop_agents`, as they do when the service restarts."""
        self.timers.cancel_all()
        self.tasks.retention.stop()
        self.autoscale.stop()
        self.preemption.stop()
        await self.backend.shutdown(stop_agents)

    def flush_node_documents(self) -> None:
        self.nodes.documents.flush()
