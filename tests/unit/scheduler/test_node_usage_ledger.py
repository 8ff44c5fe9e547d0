"""The node-usage ledger says whether each node that left its pool was dedicated or low-priority
(the Usage and cost page splits node-hours by it)."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.scheduler.fakes import Harness


def test_nodes_that_leave_are_recorded_with_their_kind() -> None:
    h = Harness()
    live = h.pool(dedicated=2, low=1)
    kinds = {node.id: node.spec.is_dedicated for node in live.nodes.values()}
    assert sorted(kinds.values()) == [False, True, True]
    h.clock.advance(timedelta(minutes=1))
    h.scheduler.nodes.resize(live, 0, 0)
    h.clock.settle()
    usage = h.store.node_usage.list(h.account, "p")
    assert {u.id: u.wire.dedicated for u in usage} == kinds
    assert all(u.wire.vm_size == live.vm_size and u.wire.end > u.wire.start for u in usage)
