"""A pool's nodes as the scheduler holds them now: id, state and kind of each, for the portal's
heatmap and its counts by state (in memory: no store read, fast at thousands of nodes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from batchite.domain.states import NodeState
from batchite.service.batch import BatchService


@dataclass(frozen=True, slots=True)
class NodeCell:
    id: str
    state: NodeState
    dedicated: bool


def node_cells(batch: BatchService, account: str, pool_id: str) -> list[NodeCell]:
    """The pool's nodes ordered by id (404 PoolNotFound when there is no such pool). A pool being
    deleted is read from the store, as its nodes leave."""
    live = batch.scheduler.projection.pool(account, pool_id)
    if live is not None:
        cells = [NodeCell(n.id, n.state, n.spec.is_dedicated) for n in list(live.nodes.values())]
    else:
        pool = batch.pools.get(account, pool_id)
        batch.scheduler.flush_node_documents()
        nodes = batch.store.nodes.list(account, pool.key)
        cells = [NodeCell(n.id, n.wire.state, n.wire.is_dedicated is not False) for n in nodes]
    cells.sort(key=lambda cell: cell.id)
    return cells


def state_counts(cells: list[NodeCell]) -> dict[NodeState, int]:
    """How many nodes are in each state, the states in the order NodeState lists them."""
    counts = Counter(cell.state for cell in cells)
    return {state: counts[state] for state in NodeState if counts[state]}
