"""The usage report's arithmetic: spans clipped to the period, dedicated and low-priority apart,
by VM size, jobs' node-hours from their tasks' runs (by slot), costs at the user's prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from batchite.clock import ManualClock
from batchite.domain.entities import Job, NodeUsage, Task
from batchite.domain.entities.records import NodeUsageRecord, RunUsage
from batchite.domain.urls import Urls
from batchite.scheduler import Scheduler
from batchite.service.accounts import AccountRegistry
from batchite.service.context import ServiceContext
from batchite.service.prices import InMemoryPrices, PriceService, PriceTable, VmPrice
from batchite.service.usage_report import (
    UNKNOWN_SIZE,
    LiveNode,
    NodeSpan,
    Period,
    PoolFacts,
    TaskRun,
    UsageReports,
    aggregate,
    job_spans,
    pool_spans,
)
from batchite.store.sqlite import SqliteStore
from batchite.wire import models

T0 = datetime(2026, 12, 1, tzinfo=UTC)
H = timedelta(hours=1)
NO_PRICES = PriceTable()


def at(hours: float) -> datetime:
    return T0 + hours * H


def left(pool: str, node: str, size: str, start: float, end: float, dedicated: bool | None = True) -> NodeUsageRecord:
    return NodeUsageRecord(node_id=node, pool_id=pool, vm_size=size, start=at(start), end=at(end), dedicated=dedicated)


def test_period_clips_spans() -> None:
    period = Period(at(1), at(3))
    assert period.seconds(at(0), at(2)) == 3600  # starts before
    assert period.seconds(at(2), at(5)) == 3600  # ends after
    assert period.seconds(at(0), at(5)) == 7200  # covers it
    assert period.seconds(at(4), at(5)) == 0  # outside
    assert Period(None, at(3)).seconds(at(-10), at(1)) == 11 * 3600  # since the beginning


def test_pool_hours_dedicated_and_low_priority_by_vm_size() -> None:
    pools = [PoolFacts("p1", "standard_d2s_v3", 1), PoolFacts("p2", "standard_f4s_v2", 1)]
    live = [LiveNode("p1", "n1", True, at(0)), LiveNode("p1", "n2", False, at(1)), LiveNode("P2", "m1", True, at(2))]
    ledger = [left("p1", "n0", "standard_d2s_v3", 0, 0.5, dedicated=False), left("gone", "x", "standard_a1", 0, 2)]
    spans = pool_spans(pools, live, ledger, now=at(3))
    table = aggregate(spans, Period(None, at(3)), NO_PRICES)
    rows = {(r.owner, r.vm_size): r for r in table.rows}
    assert rows[("p1", "standard_d2s_v3")].dedicated_hours == pytest.approx(3.0)
    assert rows[("p1", "standard_d2s_v3")].low_priority_hours == pytest.approx(2.0 + 0.5)
    assert rows[("P2", "standard_f4s_v2")].dedicated_hours == pytest.approx(1.0)  # the node's own spelling
    assert rows[("gone", "standard_a1")].dedicated_hours == pytest.approx(2.0)  # a deleted pool still counts
    assert table.total.hours == pytest.approx(3 + 2.5 + 1 + 2)
    by_size = aggregate(spans, Period(None, at(3)), NO_PRICES, by_owner=False)
    assert [r.vm_size for r in by_size.rows] == ["standard_a1", "standard_d2s_v3", "standard_f4s_v2"]


def test_old_ledger_records_count_as_dedicated() -> None:
    spans = pool_spans([], [], [left("p", "n", "s", 0, 1, dedicated=None)], now=at(2))
    assert spans[0].dedicated is True


def test_period_leaves_out_rows_with_no_time_in_it() -> None:
    spans = pool_spans([], [], [left("old", "n", "s", 0, 1), left("new", "n", "s", 5, 7)], now=at(8))
    table = aggregate(spans, Period(at(6), at(8)), NO_PRICES)
    assert [(r.owner, r.dedicated_hours) for r in table.rows] == [("new", pytest.approx(1.0))]


def test_job_hours_by_slot_share_and_node_kind() -> None:
    pools = [PoolFacts("p", "standard_d2s_v3", slots_per_node=4)]
    live = [LiveNode("p", "dedi", True, at(0)), LiveNode("p", "spot", False, at(0))]
    runs = [
        TaskRun("job", "p", "dedi", 1, at(0), at(2)),  # 2 h x 1/4
        TaskRun("job", "p", "spot", 2, at(1), at(2)),  # 1 h x 2/4, low-priority
        TaskRun("job", "p", "dedi", 8, at(0), at(1)),  # more slots than the node: the whole node
        TaskRun("other", "p", "dedi", 1, at(2), None),  # running: to now
    ]
    spans = job_spans(runs, pools, live, [], now=at(4))
    table = aggregate(spans, Period(None, at(4)), NO_PRICES)
    rows = {r.owner: r for r in table.rows}
    assert rows["job"].dedicated_hours == pytest.approx(0.5 + 1.0)
    assert rows["job"].low_priority_hours == pytest.approx(0.5)
    assert rows["other"].dedicated_hours == pytest.approx(2 * 0.25)
    assert all(r.vm_size == "standard_d2s_v3" for r in table.rows)


def test_job_hours_of_nodes_and_pools_that_are_gone() -> None:
    ledger = [left("deleted", "n1", "standard_a1", 0, 3, dedicated=False)]
    runs = [TaskRun("j", "deleted", "n1", 1, at(0), at(1)), TaskRun("j", "nowhere", "n9", 1, at(0), at(1))]
    table = aggregate(job_spans(runs, [], [], ledger, now=at(4)), Period(None, at(4)), NO_PRICES)
    rows = {r.vm_size: r for r in table.rows}
    assert rows["standard_a1"].low_priority_hours == pytest.approx(1.0)  # the ledger says the node's kind
    assert rows[UNKNOWN_SIZE].dedicated_hours == pytest.approx(1.0)  # found nowhere: dedicated


def test_job_retries_count_before_the_last_run() -> None:
    pools = [PoolFacts("p", "s", 1)]
    # ended: 1 h last run, 3 h in all -> 2 h of earlier runs, placed before the last start
    ended = TaskRun("j", "p", "n", 1, at(5), at(6), earlier_seconds=3 * 3600)
    # running: its 1 h of earlier runs, then its run so far
    running = TaskRun("k", "p", "n", 1, at(5), None, earlier_seconds=3600)
    spans = job_spans([ended, running], pools, [LiveNode("p", "n", True, at(0))], [], now=at(7))
    rows = {r.owner: r for r in aggregate(spans, Period(None, at(7)), NO_PRICES).rows}
    assert rows["j"].hours == pytest.approx(3.0)
    assert rows["k"].hours == pytest.approx(3.0)
    clipped = {r.owner: r for r in aggregate(spans, Period(at(4), at(7)), NO_PRICES).rows}
    assert clipped["j"].hours == pytest.approx(2.0)  # 1 h of the earlier runs and the last run


def test_costs_at_prices_and_unpriced_cells() -> None:
    prices = PriceTable(
        currency="EUR",
        prices=[VmPrice(vm_size="Standard_D2s_v3", dedicated=0.1, low_priority=None), VmPrice(vm_size="b")],
    )
    spans = [
        NodeSpan("p", "standard_d2s_v3", True, at(0), at(10)),
        NodeSpan("p", "standard_d2s_v3", False, at(0), at(1)),
        NodeSpan("q", "standard_d2s_v3", True, at(0), at(2)),
    ]
    table = aggregate(spans, Period(None, at(10)), prices)
    p, q = table.rows
    assert p.dedicated_cost == pytest.approx(1.0)  # 10 h x 0.1, VM size matched in any case
    assert p.low_priority_cost is None and p.cost is None  # hours without a price
    assert p.known_cost == pytest.approx(1.0)
    assert q.low_priority_cost == 0.0 and q.cost == pytest.approx(0.2)  # no hours: nothing to price
    assert table.total.dedicated_cost == pytest.approx(1.2)
    assert table.total.cost is None and not table.complete
    priced = PriceTable(prices=[VmPrice(vm_size="standard_d2s_v3", dedicated=0.1, low_priority=0.02)])
    assert aggregate(spans, Period(None, at(10)), priced).total.cost == pytest.approx(1.2 + 0.02)


def stored_task(task_id: str, state: str, start: float, end: float | None, node: str, **extra: Any) -> Task:
    wire = models.BatchTask(
        id=task_id,
        command_line="x",
        creation_time=at(0),
        state=models.BatchTaskState(state),
        state_transition_time=at(0),
        execution_info=models.BatchTaskExecutionInfo(
            start_time=at(start), end_time=at(end) if end is not None else None, retry_count=0, requeue_count=0
        ),
        node_info=models.BatchNodeInfo(pool_id="p", node_id=node),
        **extra,
    )
    return Task("acct", "job", wire)


def test_the_report_reads_the_store_of_its_account_only(tmp_path: Path) -> None:
    clock = ManualClock(at(10))
    store = SqliteStore(tmp_path / "b.db", clock)
    ledger = [("acct", left("p", "gone", "standard_a1", 1, 3, dedicated=False)), ("other", left("p", "x", "s", 0, 9))]
    for account, record in ledger:
        store.node_usage.insert(NodeUsage(account, "p", record))
    job = models.BatchJob(
        id="job",
        creation_time=at(0),
        state=models.BatchJobState.ACTIVE,
        state_transition_time=at(0),
        pool_info=models.BatchPoolInfo(pool_id="p"),
    )
    store.jobs.insert(Job("acct", "", job))
    retried = stored_task("retried", "completed", 8, 9, "gone")
    retried.internal.usage = RunUsage(wall_clock_seconds=3 * 3600)  # 2 h before its last run
    for task in [stored_task(f"t{i}", "completed", 1, 2, "gone") for i in range(1200)] + [retried]:
        store.tasks.insert(task)
    store.flush()
    ctx = ServiceContext(store, cast(Scheduler, None), clock, AccountRegistry([]), Urls(lambda _: ""))
    prices = PriceService(InMemoryPrices())
    prices.replace("acct", PriceTable(prices=[VmPrice(vm_size="standard_a1", low_priority=0.5)]))
    report = UsageReports(ctx, prices).report("acct", None)
    assert [(r.owner, r.vm_size, r.low_priority_hours) for r in report.pools.rows] == [
        ("p", "standard_a1", pytest.approx(2.0))
    ]
    (job_row,) = report.jobs.rows  # read in pages: every one of the 1,201 tasks counted
    assert job_row.low_priority_hours == pytest.approx(1200 + 3)
    assert job_row.low_priority_cost == pytest.approx(0.5 * 1203)
    assert report.unpriced == [] and report.pools.complete
    last_hours = UsageReports(ctx, prices).report("acct", at(7)).jobs.rows[0]
    assert last_hours.hours == pytest.approx(2.0)  # 1 h of the retries' time and the last run
    store.close()
