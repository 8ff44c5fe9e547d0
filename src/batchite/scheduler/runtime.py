"""The scheduler's in-memory projection: what it must know fast, rebuilt from the store at start."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from batchite.compute.base import NodeSpec

SCHEDULABLE_NODE_STATES = frozenset({"idle", "running"})


@dataclass(eq=False)
class TaskRt:
    account: str
    job_key: str
    id: str
    seq: int
    required_slots: int = 1
    state: str = "active"
    run: Run | None = None  # the current run while the task is running
    instances: int = 1  # multi-instance tasks: how many nodes (primary + subtasks)
    sub_runs: list[Run] = field(default_factory=list)  # the subtasks' slots while it runs
    exclusive: bool = False  # a job manager with runExclusive: the whole node while it runs
    job_manager: bool = False
    depends_on: tuple[str, ...] = ()  # task keys
    depends_ranges: tuple[tuple[int, int], ...] = ()

    @property
    def key(self) -> str:
        return self.id.lower()


def runtime_of_task(account: str, job_key: str, rec: Any) -> TaskRt:
    """The scheduler's view of a task record (a batchite.domain.record.Record)."""
    doc = rec.doc
    job_manager = bool(rec.extra.get("jobManager"))
    return TaskRt(
        account=account,
        job_key=job_key,
        id=rec.id,
        seq=rec.seq,
        required_slots=int(doc.get("requiredSlots") or 1),
        job_manager=job_manager,
        exclusive=job_manager and bool(rec.extra.get("runExclusive", True)),
        instances=int((doc.get("multiInstanceSettings") or {}).get("numberOfInstances") or 1),
    )


@dataclass(eq=False)
class Run:
    """One execution of a task on a node; a retry or requeue is a new Run."""

    task: TaskRt
    node: NodeRt
    job_key: str
    handle: Any = None
    slots: int = 1
    kill_reason: str | None = None  # why the scheduler killed the process, if it did
    detached: bool = False  # the task's state already moved on; the exit only frees the slot
    wall_timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class NodeRt:
    spec: NodeSpec
    slots: int
    state: str = "creating"
    scheduling_enabled: bool = True
    leaving: bool = False  # waiting for running tasks before it leaves the pool
    pending_action: str | None = None  # reboot/reimage/deallocate waiting for running tasks
    used: int = 0
    runs: set[Run] = field(default_factory=set)
    events: list[tuple[str, str, str, bool | None]] = field(default_factory=list)  # for the node document

    @property
    def id(self) -> str:
        return self.spec.node_id

    @property
    def ip(self) -> str:
        """A loopback address of its own (127.0.0.0/8 is all loopback on Linux), stable for the node id."""
        digest = hashlib.sha256(self.spec.node_id.encode()).digest()
        return f"127.{digest[0]}.{digest[1]}.{max(1, min(254, digest[2]))}"

    @property
    def free(self) -> int:
        return self.slots - self.used

    def accepts(self, slots: int) -> bool:
        return (
            self.state in SCHEDULABLE_NODE_STATES
            and self.scheduling_enabled
            and not self.leaving
            and self.pending_action is None
            and self.free >= slots
        )


@dataclass(eq=False)
class PoolRt:
    account: str
    id: str
    vm_size: str
    slots_per_node: int
    fill_type: str = "spread"
    package_refs: list[dict[str, Any]] = field(default_factory=list)  # the pool's applicationPackageReferences
    deleting: bool = False
    nodes: dict[str, NodeRt] = field(default_factory=dict)
    allocating: int = 0  # nodes whose allocation is under way

    @property
    def key(self) -> str:
        return self.id.lower()


@dataclass(eq=False)
class JobRt:
    account: str
    id: str
    seq: int
    pool_key: str
    state: str = "active"
    priority: int = 0
    max_parallel: int = -1
    on_all_complete: str = "noaction"
    common_env: dict[str, str] = field(default_factory=dict)
    on_task_failure: str = "noaction"
    allow_preemption: bool = False  # allowTaskPreemption: higher-priority jobs may requeue its tasks
    wall_timer: asyncio.TimerHandle | None = None
    prep_dir: str | None = None  # set when the job has a job preparation task
    prep: dict[str, str] = field(default_factory=dict)  # node id -> running / succeeded / failed
    prep_waiters: dict[str, list[Any]] = field(default_factory=dict)  # node id -> callbacks(ok)
    # Task dependencies: completed tasks that satisfy / block their dependents, and who waits.
    satisfied: set[str] = field(default_factory=set)
    blocking: set[str] = field(default_factory=set)
    waiting: dict[str, TaskRt] = field(default_factory=dict)
    dependents: dict[str, set[str]] = field(default_factory=dict)
    running: int = 0
    incomplete: int = 0
    ready: deque[TaskRt] = field(default_factory=deque)
    tasks: dict[str, TaskRt] = field(default_factory=dict)  # tasks not yet completed, by key

    @property
    def key(self) -> str:
        return self.id.lower()

    def can_run_more(self) -> bool:
        return self.state == "active" and (self.max_parallel < 0 or self.running < self.max_parallel)
