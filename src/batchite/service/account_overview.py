"""One account at a glance: its pools, nodes by state, jobs, task counts and quota use.

What the portal's dashboard and quotas page show. Pools and nodes come from the scheduler's live
projection (in memory, current to the tick); jobs and task counts from the store's indexes. A
completed job's task counts are kept by its ETag, so an account with many finished jobs costs one
job listing and one count query per job still running (a completed job's are counted again
every KEEP seconds: deleting one of its tasks does not change its ETag). Also the account record management keeps
(keys, resource group), found by name.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from batchite.domain import vmsizes
from batchite.domain.entities.accounts import BatchAccountRecord, ProvisioningState
from batchite.domain.quotas import Quotas
from batchite.domain.states import JobState, ScheduleState, TaskState
from batchite.service.batch_accounts import BatchAccountService
from batchite.service.context import ServiceContext
from batchite.store.base import StateCount

# The node states in the order the dashboard writes them (Batch's own order, busiest first).
NODE_STATE_ORDER = (
    "running",
    "idle",
    "creating",
    "starting",
    "waitingforstarttask",
    "rebooting",
    "reimaging",
    "leavingpool",
    "preempted",
    "offline",
    "starttaskfailed",
    "unusable",
    "unknown",
    "deallocating",
    "deallocated",
    "upgradingos",
)


@dataclass(frozen=True)
class PoolSummary:
    id: str
    vm_size: str
    state: str  # active, deleting
    allocation_state: str  # steady, resizing, stopping
    dedicated_nodes: int
    low_priority_nodes: int
    target_dedicated_nodes: int
    target_low_priority_nodes: int


@dataclass(frozen=True)
class TaskTotals:
    active: int = 0  # waiting to run (preparing counts as active, as the Batch task counts do)
    running: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0

    def __add__(self, other: TaskTotals) -> TaskTotals:
        return TaskTotals(
            self.active + other.active,
            self.running + other.running,
            self.completed + other.completed,
            self.succeeded + other.succeeded,
            self.failed + other.failed,
        )

    @classmethod
    def of(cls, rows: list[StateCount]) -> TaskTotals:
        active = running = completed = succeeded = failed = 0
        for row in rows:
            if row.state in (TaskState.ACTIVE, TaskState.PREPARING):
                active += row.tasks
            elif row.state == TaskState.RUNNING:
                running += row.tasks
            elif row.state == TaskState.COMPLETED:
                completed += row.tasks
                if row.result == "success":
                    succeeded += row.tasks
                elif row.result == "failure":
                    failed += row.tasks
        return cls(active, running, completed, succeeded, failed)


@dataclass(frozen=True)
class QuotaUse:
    key: str  # dedicatedCores, lowPriorityCores, pools, activeJobs
    label: str
    used: int
    limit: int

    @property
    def percent(self) -> float:
        return min(100.0, 100.0 * self.used / self.limit) if self.limit else (100.0 if self.used else 0.0)


@dataclass(frozen=True)
class JobTotals:
    active: int = 0  # every job not completed (active, disabled, terminating...): what the quota counts
    completed: int = 0
    schedules_active: int = 0


@dataclass(frozen=True)
class AccountOverview:
    account: str
    pools: list[PoolSummary]
    nodes_by_state: list[tuple[str, int]]  # (state, count), states with nodes only, in NODE_STATE_ORDER
    nodes_total: int
    jobs: JobTotals
    tasks: TaskTotals
    quotas: list[QuotaUse]


KEEP = 10.0  # seconds a completed job's task counts are kept (a task deleted from it shows by then)


@dataclass
class _Counted:
    etag: str
    totals: TaskTotals
    at: float  # time.monotonic() when counted


@dataclass
class AccountOverviewService:
    ctx: ServiceContext
    _completed: dict[tuple[str, str], _Counted] = field(default_factory=dict)  # completed jobs' counts by ETag

    # -- what runs: in memory, call on the event loop ---------------------------------------
    def pools(self, account: str) -> list[PoolSummary]:
        live = [p for p in self.ctx.scheduler.projection.pools.values() if p.account == account]
        out = []
        for pool in sorted(live, key=lambda p: p.key):
            wire = pool.entity.wire
            dedicated = sum(1 for n in pool.nodes.values() if n.spec.is_dedicated)
            out.append(
                PoolSummary(
                    id=pool.id,
                    vm_size=wire.vm_size,
                    state="deleting" if pool.deleting else str(wire.state or "active"),
                    allocation_state=str(wire.allocation_state or "steady"),
                    dedicated_nodes=dedicated,
                    low_priority_nodes=len(pool.nodes) - dedicated,
                    target_dedicated_nodes=wire.target_dedicated_nodes or 0,
                    target_low_priority_nodes=wire.target_low_priority_nodes or 0,
                )
            )
        return out

    def nodes_by_state(self, account: str) -> list[tuple[str, int]]:
        counts = Counter(str(n.state).lower() for n in self.ctx.scheduler.projection.nodes_of(account))
        ordered = [(s, counts.pop(s)) for s in NODE_STATE_ORDER if s in counts]
        return ordered + sorted(counts.items())

    def cores_in_use(self, account: str) -> tuple[int, int]:
        """(dedicated, low-priority) cores of the account's nodes, by their pools' VM sizes (as the
        scheduler counts them against the core quotas)."""
        dedicated = low = 0
        for pool in self.ctx.scheduler.projection.pools.values():
            if pool.account != account:
                continue
            cores = vmsizes.cores(pool.vm_size)
            for node in pool.nodes.values():
                if node.spec.is_dedicated:
                    dedicated += cores
                else:
                    low += cores
        return dedicated, low

    # -- what is stored: blocking reads, fine in a thread -----------------------------------
    def jobs(self, account: str) -> JobTotals:
        store = self.ctx.store
        total = store.jobs.count(account, "")
        active = store.jobs.count(account, "", exclude_states=[JobState.COMPLETED])
        schedules = store.schedules.count(account, "", exclude_states=[ScheduleState.COMPLETED])
        return JobTotals(active=active, completed=total - active, schedules_active=schedules)

    def tasks(self, account: str) -> TaskTotals:
        """Every task of the account, summed over its jobs (a completed job's counts are kept)."""
        store = self.ctx.store
        totals = TaskTotals()
        seen: set[tuple[str, str]] = set()
        for job in store.jobs.list(account, ""):
            key = (account, job.key)
            seen.add(key)
            kept = self._completed.get(key)
            now = time.monotonic()
            if kept is not None and kept.etag == job.etag and now - kept.at < KEEP:
                totals += kept.totals
                continue
            counted = TaskTotals.of(store.tasks.counts(account, job.key))
            if job.wire.state == JobState.COMPLETED and counted.active == counted.running == 0:
                self._completed[key] = _Counted(job.etag, counted, now)  # its tasks' kills reported: settled
            totals += counted
        for gone in [k for k in list(self._completed) if k[0] == account and k not in seen]:
            self._completed.pop(gone, None)  # several streams may read at once, each in its thread
        return totals

    def quotas(self, account: str, jobs: JobTotals | None = None) -> list[QuotaUse]:
        limits: Quotas = self.ctx.accounts.quotas_of(account)
        dedicated, low = self.cores_in_use(account)
        jobs = jobs or self.jobs(account)
        return [
            QuotaUse("dedicatedCores", "Dedicated cores", dedicated, limits.dedicated_cores),
            QuotaUse("lowPriorityCores", "Low-priority (spot) cores", low, limits.low_priority_cores),
            QuotaUse("pools", "Pools", self.ctx.store.pools.count(account, ""), limits.pools),
            QuotaUse(
                "activeJobs",
                "Active jobs and job schedules",
                jobs.active + jobs.schedules_active,
                limits.active_jobs,
            ),
        ]

    def stored(self, account: str) -> tuple[JobTotals, TaskTotals]:
        """The store's part of the overview (blocking: call it in a thread)."""
        return self.jobs(account), self.tasks(account)

    def overview(self, account: str, stored: tuple[JobTotals, TaskTotals] | None = None) -> AccountOverview:
        """The whole overview; `stored`: the store's part read beforehand (off the event loop)."""
        jobs, tasks = stored or self.stored(account)
        by_state = self.nodes_by_state(account)
        return AccountOverview(
            account=account,
            pools=self.pools(account),
            nodes_by_state=by_state,
            nodes_total=sum(n for _, n in by_state),
            jobs=jobs,
            tasks=tasks,
            quotas=self.quotas(account, jobs),
        )

    # -- the account's record ---------------------------------------------------------------
    def record(self, account: str, accounts: BatchAccountService) -> BatchAccountRecord | None:
        """The account as management keeps it (keys, subscription, resource group; a configured one
        too), unless it is being deleted."""
        found = self.ctx.store.accounts.get(account) or accounts.configured(account)
        if found is None or found.provisioning_state == ProvisioningState.DELETING:
            return None
        return found
