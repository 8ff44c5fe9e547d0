"""Node-hours per pool and per job, by VM size, dedicated and low-priority, over a period, and
what they cost at the account's price table (the portal's Usage and cost page).

Pools: every node's allocated time, from the node-usage ledger (nodes that have left) and the
live nodes (allocation time to now). Jobs: the time their tasks ran on nodes, each run counted as
`requiredSlots / taskSlotsPerNode` of its node (so the jobs on a node never add up to more than
the node), on its pool's VM size, dedicated or low-priority as its node was. A task's last run is
its execution info's start to end (or now while it runs); the runs before it (retries) are
counted by their wall-clock time, placed just before the last run on the same node. Spans are
clipped to the period. Reading is blocking (the store): the portal runs it in a thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from batchite.domain.entities.records import NodeUsageRecord
from batchite.domain.states import TaskState
from batchite.service.context import ServiceContext
from batchite.service.prices import PriceService, PriceTable
from batchite.wire.models import BatchTask

UNKNOWN_SIZE = "unknown"
TASK_PAGE = 500  # tasks read at a time


@dataclass(frozen=True)
class Period:
    """From `start` (None: since the beginning) to `end`."""

    start: datetime | None
    end: datetime

    def seconds(self, start: datetime, end: datetime) -> float:
        """How much of [start, end) falls inside the period."""
        lo = start if self.start is None else max(start, self.start)
        return max(0.0, (min(end, self.end) - lo).total_seconds())


@dataclass(frozen=True)
class NodeSpan:
    """Time a node was used by an owner (a pool, or a job's task): `share` of the node."""

    owner: str
    vm_size: str
    dedicated: bool
    start: datetime
    end: datetime
    share: float = 1.0


@dataclass(frozen=True)
class PoolFacts:
    id: str
    vm_size: str
    slots_per_node: int = 1


@dataclass(frozen=True)
class LiveNode:
    pool_id: str
    node_id: str
    dedicated: bool
    allocated: datetime


@dataclass(frozen=True)
class TaskRun:
    """What a task's stored state says of its runs."""

    job_id: str
    pool_id: str
    node_id: str
    required_slots: int
    start: datetime
    end: datetime | None  # None: still running
    earlier_seconds: float = 0.0  # wall clock of the runs before the last one


@dataclass
class UsageRow:
    owner: str  # the pool or job id ("" for a row of VM sizes)
    vm_size: str
    dedicated_hours: float = 0.0
    low_priority_hours: float = 0.0
    dedicated_cost: float | None = 0.0  # None: hours without a price
    low_priority_cost: float | None = 0.0

    @property
    def hours(self) -> float:
        return self.dedicated_hours + self.low_priority_hours

    @property
    def cost(self) -> float | None:
        if self.dedicated_cost is None or self.low_priority_cost is None:
            return None
        return self.dedicated_cost + self.low_priority_cost

    @property
    def known_cost(self) -> float:
        return (self.dedicated_cost or 0.0) + (self.low_priority_cost or 0.0)


@dataclass
class UsageTable:
    rows: list[UsageRow] = field(default_factory=list)
    total: UsageRow = field(default_factory=lambda: UsageRow("Total", ""))

    @property
    def complete(self) -> bool:
        """Every hour has a price."""
        return self.total.cost is not None


@dataclass
class UsageReport:
    period: Period
    currency: str
    pools: UsageTable
    jobs: UsageTable
    sizes: UsageTable  # the pools' node-hours by VM size
    unpriced: list[str]  # VM sizes with hours and a missing price
    pool_ids: set[str] = field(default_factory=set)  # the pools that still exist (lower-cased ids)
    job_ids: set[str] = field(default_factory=set)  # the jobs that still exist


def _cost(hours: float, price: float | None) -> float | None:
    if hours <= 0:
        return 0.0
    return None if price is None else hours * price


def _add_cost(total: float | None, part: float | None) -> float | None:
    return None if total is None or part is None else total + part


class Accumulator:
    """Node-hours of spans inside a period, per (owner, VM size), added as they come (a report
    reads its runs a page at a time and keeps only these sums, not the runs)."""

    def __init__(self, period: Period, by_owner: bool = True) -> None:
        self.period = period
        self.by_owner = by_owner
        self._hours: dict[tuple[str, str], list[float]] = {}
        self._spelling: dict[str, str] = {}

    def add(self, span: NodeSpan) -> None:
        seconds = self.period.seconds(span.start, span.end) * span.share
        if seconds <= 0:
            return
        key = (span.owner if self.by_owner else "", span.vm_size.lower())  # VM sizes match in any case
        self._spelling.setdefault(key[1], span.vm_size)  # shown as first seen
        cell = self._hours.get(key)
        if cell is None:
            cell = self._hours[key] = [0.0, 0.0]
        cell[0 if span.dedicated else 1] += seconds / 3600.0

    def table(self, prices: PriceTable) -> UsageTable:
        """The rows (those with time in the period), sorted by owner then VM size, priced."""
        table = UsageTable()
        total = table.total
        for (owner, size_key), (dedicated, low) in sorted(
            self._hours.items(), key=lambda kv: (kv[0][0].lower(), kv[0][1])
        ):
            vm_size = self._spelling[size_key]
            price = prices.find(vm_size)
            row = UsageRow(
                owner,
                vm_size,
                dedicated,
                low,
                _cost(dedicated, price.dedicated if price else None),
                _cost(low, price.low_priority if price else None),
            )
            table.rows.append(row)
            total.dedicated_hours += dedicated
            total.low_priority_hours += low
            total.dedicated_cost = _add_cost(total.dedicated_cost, row.dedicated_cost)
            total.low_priority_cost = _add_cost(total.low_priority_cost, row.low_priority_cost)
        return table


def aggregate(spans: Iterable[NodeSpan], period: Period, prices: PriceTable, by_owner: bool = True) -> UsageTable:
    acc = Accumulator(period, by_owner)
    for span in spans:
        acc.add(span)
    return acc.table(prices)


def left_span(record: NodeUsageRecord) -> NodeSpan | None:
    """A node that has left its pool: its allocated time, on the VM size the ledger records."""
    if record.end <= record.start:
        return None
    return NodeSpan(record.pool_id, record.vm_size, record.dedicated is not False, record.start, record.end)


class RunAttribution:
    """Whose node a run was on: the node's VM size is its pool's (the ledger's for a pool that was
    deleted); dedicated as the node is or was (a node found nowhere: dedicated); `share` =
    requiredSlots / taskSlotsPerNode (1 when the pool is gone). Keys are strings, so a big ledger
    leaves nothing for the garbage collector to walk."""

    def __init__(self, pools: Iterable[PoolFacts], now: datetime) -> None:
        self.now = now
        self.pools = {p.id.lower(): p for p in pools}
        self._dedicated: dict[str, bool] = {}
        self._left_sizes: dict[str, str] = {}

    def left(self, record: NodeUsageRecord) -> None:
        self._dedicated[f"{record.pool_id.lower()}\n{record.node_id}"] = record.dedicated is not False
        self._left_sizes[record.pool_id.lower()] = record.vm_size

    def live(self, node: LiveNode) -> None:
        self._dedicated[f"{node.pool_id.lower()}\n{node.node_id}"] = node.dedicated

    def live_span(self, node: LiveNode) -> NodeSpan:
        """A node still in its pool: from its allocation to now."""
        pool = self.pools.get(node.pool_id.lower())
        size = pool.vm_size if pool else UNKNOWN_SIZE
        return NodeSpan(node.pool_id, size, node.dedicated, node.allocated, max(self.now, node.allocated))

    def spans(self, run: TaskRun) -> list[NodeSpan]:
        pool_key = run.pool_id.lower()
        pool = self.pools.get(pool_key)
        size = pool.vm_size if pool else self._left_sizes.get(pool_key, UNKNOWN_SIZE)
        slots = max(1, pool.slots_per_node) if pool else 1
        share = min(1.0, max(1, run.required_slots) / slots)
        kind = self._dedicated.get(f"{pool_key}\n{run.node_id}", True)
        end = run.end or max(self.now, run.start)
        spans = []
        if end > run.start:
            spans.append(NodeSpan(run.job_id, size, kind, run.start, end, share))
        earlier = run.earlier_seconds - (end - run.start).total_seconds() * (run.end is not None)
        if earlier > 0.5:  # retries before the last run (its own time is in the sum once it ended)
            spans.append(NodeSpan(run.job_id, size, kind, run.start - timedelta(seconds=earlier), run.start, share))
        return spans


def pool_spans(
    pools: Iterable[PoolFacts], live: Iterable[LiveNode], ledger: Iterable[NodeUsageRecord], now: datetime
) -> list[NodeSpan]:
    """Every node's allocated time: those that left (the ledger) and those still in their pool."""
    attribution = RunAttribution(pools, now)
    spans = [span for span in map(left_span, ledger) if span is not None]
    return spans + [attribution.live_span(node) for node in live]


def job_spans(
    runs: Iterable[TaskRun],
    pools: Iterable[PoolFacts],
    live: Iterable[LiveNode],
    ledger: Iterable[NodeUsageRecord],
    now: datetime,
) -> list[NodeSpan]:
    """The node time of tasks' runs, owned by their jobs (RunAttribution says how)."""
    attribution = RunAttribution(pools, now)
    for record in ledger:
        attribution.left(record)
    for node in live:
        attribution.live(node)
    return [span for run in runs for span in attribution.spans(run)]


class UsageReports:
    """The usage report of one account, read from the store (blocking)."""

    def __init__(self, ctx: ServiceContext, prices: PriceService) -> None:
        self.ctx = ctx
        self.prices = prices

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def report(self, account: str, start: datetime | None, end: datetime | None = None) -> UsageReport:
        now = self.ctx.clock.now()
        period = Period(start, min(end, now) if end else now)
        store = self.ctx.store
        pools: list[PoolFacts] = []
        live: list[LiveNode] = []
        for pool in store.pools.list(account, ""):
            pools.append(PoolFacts(pool.id, pool.wire.vm_size, int(pool.wire.task_slots_per_node or 1)))
            for node in store.nodes.list(account, pool.key):
                if node.wire.allocation_time is not None:
                    dedicated = node.wire.is_dedicated is not False
                    live.append(LiveNode(pool.id, node.id, dedicated, node.wire.allocation_time))
        attribution = RunAttribution(pools, now)
        by_pool, by_size, by_job = Accumulator(period), Accumulator(period, by_owner=False), Accumulator(period)
        for usage in store.node_usage.every():
            if usage.account == account:
                attribution.left(usage.wire)
                span = left_span(usage.wire)
                if span is not None:
                    by_pool.add(span)
                    by_size.add(span)
        for alive in live:
            attribution.live(alive)
            span = attribution.live_span(alive)
            by_pool.add(span)
            by_size.add(span)
        job_ids: set[str] = set()
        for job in store.jobs.list(account, ""):
            job_ids.add(job.key)
            after: int | None = 0
            while after is not None:  # in pages: the store's lock is held for one page at a time
                page = store.tasks.page(account, job.key, after, TASK_PAGE)
                for task in page.items:
                    usage_of = task.internal.usage
                    run = _task_run(job.id, task.wire, usage_of.wall_clock_seconds if usage_of else 0.0)
                    if run is not None:
                        for span in attribution.spans(run):
                            by_job.add(span)
                after = page.next_after
        prices = self.prices.table(account)
        sizes = by_size.table(prices)
        unpriced = [r.vm_size for r in sizes.rows if r.dedicated_cost is None or r.low_priority_cost is None]
        return UsageReport(
            period,
            prices.currency,
            by_pool.table(prices),
            by_job.table(prices),
            sizes,
            unpriced,
            pool_ids={p.id.lower() for p in pools},
            job_ids=job_ids,
        )


def _task_run(job_id: str, wire: BatchTask, earlier_seconds: float) -> TaskRun | None:
    info, node = wire.execution_info, wire.node_info
    if info is None or info.start_time is None or node is None or not node.node_id or not node.pool_id:
        return None
    running = wire.state == TaskState.RUNNING
    end = info.end_time if info.end_time is not None and info.end_time >= info.start_time else None
    if end is None and not running:
        end = info.start_time  # a run that ended without an end time (requeued): only earlier runs count
    return TaskRun(job_id, node.pool_id, node.node_id, wire.required_slots or 1, info.start_time, end, earlier_seconds)
