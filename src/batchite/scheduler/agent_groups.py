"""Which node agent process hosts a new node: nodes of one pool share agents, up to K each.

An agent is a process of some 27 MB; one per node makes a pool of hundreds of nodes cost
gigabytes and start hundreds of processes at once. So a new node joins an agent of its own pool
that hosts fewer than K of the pool's nodes, or names a new one after itself. The key is stored
with the node (its internal part), so a restarted service finds the same agent again; nodes of
other pools (and so of other accounts) never share it. A node stored before agents were shared
has the key "" and keeps an agent of its own.
"""

from __future__ import annotations

from collections import Counter

from batchite.domain.states import NodeState
from batchite.scheduler.live import LivePool

DEFAULT_NODES_PER_AGENT = 8


def agent_for_new_node(live: LivePool, node_id: str, per_agent: int) -> str:
    """The agent key for a node about to join `live`: the fullest agent of the pool with room
    left (nodes whose agent was lost do not count), else a new one named after the node."""
    if per_agent <= 1:
        return node_id
    hosted = Counter(n.spec.agent for n in live.nodes.values() if n.spec.agent and n.state != NodeState.UNUSABLE)
    with_room = [(count, key) for key, count in hosted.items() if count < per_agent]
    if not with_room:
        return node_id
    return max(with_room)[1]
