"""The entities: pools, nodes, node users, jobs, job schedules, tasks, subtasks, preparation
statuses, applications, application packages, and the node-usage ledger."""

from __future__ import annotations

from datetime import datetime

from batchite.domain.entities.base import Entity, Internal
from batchite.domain.exits import FailureStage
from batchite.wire import models as wire
from batchite.wire.types import WireEnum, WireStruct


class PoolInternal(Internal):
    last_auto_scale_enable: datetime | None = None  # enable requests must be 30 s apart
    uid_block: int | None = None  # which uids its users have on the nodes (agent/identity.py)
    backend: str = ""  # the compute backend hosting its nodes, chosen at creation ("" = the default)


class Pool(Entity[wire.BatchPool, PoolInternal]):
    """parent '' (top level)."""

    KIND = "pool"
    WIRE = wire.BatchPool
    INTERNAL = PoolInternal
    __slots__ = ()


class NodeInternal(Internal):
    agent: str = ""  # the key of the agent process hosting it ("" before agents were shared: its own)


class Node(Entity[wire.BatchNode, NodeInternal]):
    """parent: the pool's key."""

    KIND = "node"
    WIRE = wire.BatchNode
    INTERNAL = NodeInternal
    __slots__ = ()


class NodeUserRecord(WireStruct, kw_only=True):
    """A user account added to a node (its password is never kept)."""

    name: str
    is_admin: bool | None = None
    expiry_time: datetime | None = None
    ssh_public_key: str | None = None


class NodeUser(Entity[NodeUserRecord, Internal]):
    """parent: '<pool key>/<node id>'."""

    KIND = "nodeuser"
    WIRE = NodeUserRecord
    __slots__ = ()

    @property
    def id(self) -> str:
        return self.wire.name


class NodeUsageRecord(WireStruct, kw_only=True):
    """How long a node that has left its pool was allocated, for pool usage metrics."""

    node_id: str
    pool_id: str
    vm_size: str
    start: datetime
    end: datetime
    dedicated: bool | None = None  # None: written before the ledger said (counted as dedicated)


class NodeUsage(Entity[NodeUsageRecord, Internal]):
    """parent: the pool's key."""

    KIND = "nodeusage"
    WIRE = NodeUsageRecord
    __slots__ = ()

    @property
    def id(self) -> str:
        return self.wire.node_id


class JobTotals(Internal):
    """What a job's tasks used and how they ended, kept up to date by the scheduler as runs end,
    tasks complete, are reactivated or deleted (the job's statistics come from it, not its tasks)."""

    wall_clock_seconds: float = 0.0  # of the ended runs (a running one adds its time so far)
    user_cpu_seconds: float = 0.0
    kernel_cpu_seconds: float = 0.0
    read_blocks: int = 0
    write_blocks: int = 0
    succeeded: int = 0  # completed tasks by result
    failed: int = 0
    retries: int = 0  # the tasks' retry counts, summed


class JobInternal(Internal):
    schedule: str | None = None  # the key of the job schedule that made it
    auto_pool: str | None = None  # the id of the auto pool made for it
    totals: JobTotals | None = None  # None: stored before jobs kept them (computed at start)


class Job(Entity[wire.BatchJob, JobInternal]):
    KIND = "job"
    WIRE = wire.BatchJob
    INTERNAL = JobInternal
    __slots__ = ()

    @property
    def pool_id(self) -> str:
        """The pool its tasks run on: poolInfo's, or the auto pool made for it."""
        info = self.wire.execution_info
        return (info.pool_id if info is not None else None) or self.wire.pool_info.pool_id or ""


class ScheduleInternal(Internal):
    """The timeline of a job schedule (service/jobschedules.py says how it moves)."""

    jobs: int = 0  # jobs made so far
    next: datetime | None = None  # the next run time
    pending: datetime | None = None  # a run that fell due and has no job yet
    last_due: datetime | None = None
    recent: str | None = None  # id of the most recent job
    auto_pool: str | None = None  # the pool its jobs share (poolLifetimeOption jobschedule)


class JobSchedule(Entity[wire.BatchJobSchedule, ScheduleInternal]):
    KIND = "jobschedule"
    WIRE = wire.BatchJobSchedule
    INTERNAL = ScheduleInternal
    __slots__ = ()


class RunUsage(Internal):
    """What a task's ended runs used, summed over its retries (its statistics come from it)."""

    wall_clock_seconds: float = 0.0
    user_cpu_seconds: float = 0.0
    kernel_cpu_seconds: float = 0.0
    read_blocks: int = 0  # file system block operations, 512 bytes each
    write_blocks: int = 0


class TaskInternal(Internal):
    job_manager: bool = False
    kill_job_on_completion: bool = True
    run_exclusive: bool = True
    failure_stage: FailureStage | None = None  # where the last run failed, if not in its process
    run_id: str | None = None  # the run on a node while it runs (or waits there as a successor)
    waiting_on_node: tuple[str, str] | None = None  # (pool id, node id) where it waits as a successor
    usage: RunUsage | None = None  # of its ended runs


class Task(Entity[wire.BatchTask, TaskInternal]):
    """parent: the job's key."""

    KIND = "task"
    WIRE = wire.BatchTask
    INTERNAL = TaskInternal
    __slots__ = ()

    @property
    def required_slots(self) -> int:
        return self.wire.required_slots or 1


class Subtask(Entity[wire.BatchSubtask, Internal]):
    """A multi-instance task's subtask; parent '<job key>/<task key>', id its index."""

    KIND = "subtask"
    WIRE = wire.BatchSubtask
    __slots__ = ()


class PreparationStatus(Entity[wire.BatchJobPreparationAndReleaseTaskStatus, Internal]):
    """A job's preparation and release task on one node; parent the job's key, id the node id."""

    KIND = "prepstatus"
    WIRE = wire.BatchJobPreparationAndReleaseTaskStatus
    __slots__ = ()

    @property
    def id(self) -> str:
        return self.wire.node_id or ""


class ApplicationInternal(Internal):
    allow_updates: bool = True
    container: str = ""  # the linked-storage container of its packages
    default_version: str | None = None
    tags: dict[str, str] | None = None  # its ARM resource tags


class Application(Entity[wire.BatchApplication, ApplicationInternal]):
    KIND = "application"
    WIRE = wire.BatchApplication
    INTERNAL = ApplicationInternal
    __slots__ = ()


class PackageState(WireEnum):
    PENDING = "pending"
    ACTIVE = "active"


class PackageRecord(WireStruct, kw_only=True):
    """An application package (a version of an application), as the management plane shows it."""

    id: str  # the version
    state: PackageState
    format: str | None = None
    storage_url: str | None = None
    storage_url_expiry: datetime | None = None
    last_activation_time: datetime | None = None


class PackageInternal(Internal):
    container: str = ""
    blob: str = ""  # the active zip
    upload_blob: str = ""  # where the last storageUrl points
    tags: dict[str, str] | None = None  # its ARM resource tags


class ApplicationPackage(Entity[PackageRecord, PackageInternal]):
    """parent: the application's key."""

    KIND = "applicationpackage"
    WIRE = PackageRecord
    INTERNAL = PackageInternal
    __slots__ = ()
