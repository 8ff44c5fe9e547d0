"""Which agent process hosts a node: nodes of one pool share agents, up to nodes_per_agent each;
the key is stored with the node, so a restarted service finds the same agents; a node stored
before agents were shared keeps an agent of its own."""

from __future__ import annotations

import hashlib
from collections import Counter

from batchite.compute.local import LocalBackend
from batchite.domain.states import NodeState
from batchite.scheduler import Scheduler, SchedulerSettings
from batchite.scheduler.live import LivePool
from tests.unit.scheduler.fakes import FakeBackend, Harness


def groups(live: LivePool) -> list[int]:
    return sorted(Counter(n.spec.agent for n in live.nodes.values()).values())


def test_a_pool_of_20_shares_three_agents_and_the_keys_are_stored() -> None:
    h = Harness(SchedulerSettings(nodes_per_agent=8))
    live = h.pool(dedicated=20)
    assert groups(live) == [4, 8, 8]
    for node in live.nodes.values():
        stored = h.store.nodes.get(h.account, live.key, node.id)
        assert stored is not None and stored.internal.agent == node.spec.agent != ""

    backend = FakeBackend(h.clock)  # a restart: the nodes are looked for under the same agents
    scheduler = Scheduler(h.store, backend, h.clock, h.urls, None, SchedulerSettings(nodes_per_agent=8))
    scheduler.recover()
    h.settle()
    again = scheduler.projection.pool(h.account, "p")
    assert again is not None
    assert {n.id: n.spec.agent for n in again.nodes.values()} == {n.id: n.spec.agent for n in live.nodes.values()}


def test_pools_never_share_an_agent() -> None:
    h = Harness(SchedulerSettings(nodes_per_agent=8))
    first, second = h.pool("a", dedicated=3), h.pool("b", dedicated=3)
    assert groups(first) == groups(second) == [3]
    assert not {n.spec.agent for n in first.nodes.values()} & {n.spec.agent for n in second.nodes.values()}


def test_one_per_agent_gives_every_node_its_own() -> None:
    h = Harness(SchedulerSettings(nodes_per_agent=1))
    assert groups(h.pool(dedicated=4)) == [1, 1, 1, 1]


def test_a_new_node_does_not_join_an_agent_that_was_lost() -> None:
    h = Harness(SchedulerSettings(nodes_per_agent=8))
    live = h.pool(dedicated=2)
    lost_key = next(iter(live.nodes.values())).spec.agent
    for node in list(live.nodes.values()):
        h.scheduler.node_lost(node.spec, "its agent exited")
    h.settle()
    assert all(n.state == NodeState.UNUSABLE for n in live.nodes.values())
    h.scheduler.nodes.resize(live, 3, 0)
    h.settle()
    (new,) = (n for n in live.nodes.values() if n.state != NodeState.UNUSABLE)
    assert new.spec.agent not in ("", lost_key)


def test_a_node_stored_without_a_key_keeps_the_agent_of_its_own_id() -> None:
    h = Harness()
    live = h.pool(dedicated=1)
    spec = next(iter(live.nodes.values())).spec
    old = type(spec)(spec.account, spec.account_url, spec.pool_id, spec.node_id, spec.is_dedicated, spec.vm_size)
    assert old.agent == ""
    assert LocalBackend.agent_id(old) == hashlib.sha256(spec.node_id.encode()).hexdigest()[:16]
