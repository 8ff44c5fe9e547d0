"""The usage report's arithmetic: spans clipped to the period, dedicated and low-priority apart,
by VM size, jobs' node-hours from their tasks' runs (by slot), costs at the user's prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batchite.domain.entities.records import NodeUsageRecord
from batchite.service.prices import PriceTable, VmPrice
from batchite.service.usage_report import (
    UNKNOWN_SIZE,
    LiveNode,
    NodeSpan,
    Period,
    PoolFacts,
    TaskRun,
    aggregate,
    job_spans,
    pool_spans,
)

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
