"""The scheduler's in-memory projection: what it must know fast, rebuilt from the store at start.

Pools, nodes and jobs are few: their live objects hold the entity itself, which the scheduler is
the only writer of (the store keeps a copy). Tasks are many: a live task is a small record of what
dispatch needs; the task entity is read from the store when it starts and when it ends.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from batchite.clock import Timer
from batchite.compute.protocol import NodeSpec
from batchite.domain.entities import Job, Node, Pool, Task
from batchite.domain.node_actions import NodeAction
from batchite.domain.states import JobState, NodeState
from batchite.wire.enums import BatchNodeFillType, SchedulingState
from batchite.wire.models import BatchApplicationPackageReference, EnvironmentSetting

SCHEDULABLE_NODE_STATES = frozenset({NodeState.IDLE, NodeState.RUNNING})


class KillReason(StrEnum):
    """Why the scheduler killed a run's process, if it did."""

    WALL_CLOCK = "wallclock"
    REQUEUE = "requeue"
    TERMINATE = "terminate"
    DELETE = "delete"


@dataclass(eq=False, slots=True)
class LiveTask:
    """A task that has not completed: queued, waiting for its dependencies, or running."""

    account: str
    job_key: str
    id: str
    seq: int
    required_slots: int = 1
    instances: int = 1  # multi-instance tasks: how many nodes (primary + subtasks)
    job_manager: bool = False
    exclusive: bool = False  # a job manager with runExclusive: the whole node while it runs
    depends_on: tuple[str, ...] = ()  # task keys
    depends_ranges: tuple[tuple[int, int], ...] = ()
    run: Run | None = None  # the current run while it runs
    sub_runs: list[Run] = field(default_factory=list)  # the subtasks' slots while it runs
    ready_at: float = 0.0  # metrics.now() when it was last queued to run (the scheduling latency)

    @property
    def key(self) -> str:
        return self.id.lower()

    @classmethod
    def of(cls, task: Task) -> LiveTask:
        wire = task.wire
        depends = wire.depends_on
        multi = wire.multi_instance_settings
        job_manager = task.internal.job_manager
        return cls(
            account=task.account,
            job_key=task.parent,
            id=task.id,
            seq=task.seq,
            required_slots=task.required_slots,
            instances=(multi.number_of_instances or 1) if multi is not None else 1,
            job_manager=job_manager,
            exclusive=job_manager and task.internal.run_exclusive,
            depends_on=tuple(i.lower() for i in (depends.task_ids or [])) if depends else (),
            depends_ranges=tuple((r.start, r.end) for r in (depends.task_id_ranges or [])) if depends else (),
        )


@dataclass(eq=False, slots=True)
class Run:
    """One execution of a task on a node; a retry or requeue is a new Run."""

    id: str
    task: LiveTask
    node: LiveNode
    job_key: str
    slots: int = 1
    kill_reason: KillReason | None = None
    detached: bool = False  # the task's state already moved on; the exit only frees the slot
    wall_timer: Timer | None = None
    started: bool = False  # its process was asked for (not waiting for a preparation task)
    # A successor: a run the node's agent starts the moment this one ends, on its slots, so that a
    # slot never waits for the service between two tasks. Until then it is `waiting` on this run:
    # its task is still active (stored so), holds no slot and counts nowhere.
    successor: Run | None = None
    waiting_on: Run | None = None
    # After a restart: a successor the agent may have started while the service was away; whether
    # it did is known when the node's agent is found again (or its end comes first).
    held: bool = False

    @property
    def waiting(self) -> bool:
        return self.waiting_on is not None


@dataclass(eq=False)
class LiveNode:
    entity: Node  # the node document, written by the scheduler alone (grouped, see NodeManager)
    spec: NodeSpec
    slots: int
    leaving: bool = False  # waiting for running tasks before it leaves the pool
    attaching: bool = False  # after a restart, until its agent is found again (or not)
    pending_action: NodeAction | None = None  # waiting for running tasks
    used: int = 0
    runs: set[Run] = field(default_factory=set)
    recent: list[tuple[bool, str, str, bool | None]] = field(default_factory=list)  # since the last write

    @property
    def id(self) -> str:
        return self.spec.node_id

    @property
    def state(self) -> NodeState:
        return self.entity.wire.state

    @property
    def scheduling_enabled(self) -> bool:
        return self.entity.wire.scheduling_state != SchedulingState.DISABLED

    @property
    def ip(self) -> str:
        return node_ip(self.spec.node_id)

    @property
    def free(self) -> int:
        return self.slots - self.used

    def accepts(self, slots: int) -> bool:
        return (
            self.state in SCHEDULABLE_NODE_STATES
            and self.scheduling_enabled
            and not self.leaving
            and not self.attaching  # after a restart, nothing new until its agent has said what it runs
            and self.pending_action is None
            and self.free >= slots
        )


def environment_of(settings: list[EnvironmentSetting] | None) -> dict[str, str]:
    return {e.name: e.value or "" for e in settings or []}


def node_ip(node_id: str) -> str:
    """A loopback address of its own (127.0.0.0/8 is all loopback on Linux), stable for the node id."""
    digest = hashlib.sha256(node_id.encode()).digest()
    return f"127.{digest[0]}.{digest[1]}.{max(1, min(254, digest[2]))}"


@dataclass(eq=False)
class LivePool:
    entity: Pool  # written by the scheduler alone
    nodes: dict[str, LiveNode] = field(default_factory=dict)
    allocating: int = 0  # nodes whose allocation is under way
    deleting: bool = False

    @property
    def account(self) -> str:
        return self.entity.account

    @property
    def id(self) -> str:
        return self.entity.id

    @property
    def key(self) -> str:
        return self.entity.key

    @property
    def vm_size(self) -> str:
        return self.entity.wire.vm_size

    @property
    def slots_per_node(self) -> int:
        return self.entity.wire.task_slots_per_node or 1

    @property
    def fill_pack(self) -> bool:
        policy = self.entity.wire.task_scheduling_policy
        return policy is not None and policy.node_fill_type == BatchNodeFillType.PACK

    @property
    def package_refs(self) -> list[BatchApplicationPackageReference]:
        return self.entity.wire.application_package_references or []

    def counts(self) -> tuple[int, int]:
        """(dedicated, low-priority) nodes."""
        dedicated = sum(1 for n in self.nodes.values() if n.spec.is_dedicated)
        return dedicated, len(self.nodes) - dedicated


class PrepState(StrEnum):
    """A job's preparation task on one node."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(eq=False)
class LiveJob:
    entity: Job  # written by the scheduler alone while the job is live
    wall_timer: Timer | None = None
    prep: dict[str, PrepState] = field(default_factory=dict)  # node id -> preparation task outcome
    prep_waiters: dict[str, list[Callable[[bool], None]]] = field(default_factory=dict)
    # Task dependencies: completed tasks that satisfy / block their dependents, and who waits.
    satisfied: set[str] = field(default_factory=set)
    blocking: set[str] = field(default_factory=set)
    waiting: dict[str, LiveTask] = field(default_factory=dict)
    dependents: dict[str, set[str]] = field(default_factory=dict)
    running: int = 0
    followable: set[Run] = field(default_factory=set)  # its started runs that may take a successor
    ready: deque[LiveTask] = field(default_factory=deque)
    tasks: dict[str, LiveTask] = field(default_factory=dict)  # tasks not yet completed, by key

    @property
    def account(self) -> str:
        return self.entity.account

    @property
    def id(self) -> str:
        return self.entity.id

    @property
    def key(self) -> str:
        return self.entity.key

    @property
    def seq(self) -> int:
        return self.entity.seq

    @property
    def state(self) -> JobState:
        return self.entity.wire.state

    @property
    def pool_key(self) -> str:
        return self.entity.pool_id.lower()

    @property
    def priority(self) -> int:
        return self.entity.wire.priority or 0

    @property
    def prep_dir(self) -> str | None:
        return f"workitems/{self.id}/job-1/jobpreparation" if self.entity.wire.job_preparation_task else None

    def environment(self, settings: list[EnvironmentSetting] | None) -> dict[str, str]:
        """What a task of this job sees: the job's commonEnvironmentSettings, then the task's own."""
        env = environment_of(self.entity.wire.common_environment_settings)
        env.update(environment_of(settings))
        return env

    def can_run_more(self) -> bool:
        limit = self.entity.wire.max_parallel_tasks
        return self.state == JobState.ACTIVE and (limit is None or limit < 0 or self.running < limit)


class Projection:
    """The live pools and jobs, by (account, key)."""

    def __init__(self) -> None:
        self.pools: dict[tuple[str, str], LivePool] = {}
        self.jobs: dict[tuple[str, str], LiveJob] = {}

    def pool(self, account: str, pool_id: str) -> LivePool | None:
        return self.pools.get((account, pool_id.lower()))

    def job(self, account: str, job_id: str) -> LiveJob | None:
        return self.jobs.get((account, job_id.lower()))

    def node(self, account: str, pool_id: str, node_id: str) -> tuple[LivePool, LiveNode] | None:
        pool = self.pool(account, pool_id)
        node = pool.nodes.get(node_id) if pool is not None else None
        return (pool, node) if pool is not None and node is not None else None

    def pool_of(self, node: LiveNode) -> LivePool | None:
        pool = self.pool(node.spec.account, node.spec.pool_id)
        return pool if pool is not None and pool.nodes.get(node.id) is node else None

    def job_of(self, run: Run) -> LiveJob | None:
        return self.jobs.get((run.task.account, run.job_key))

    def nodes_of(self, account: str) -> list[LiveNode]:
        return [n for p in self.pools.values() if p.account == account for n in p.nodes.values()]
