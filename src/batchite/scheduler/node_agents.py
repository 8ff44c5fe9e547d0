"""Nodes and their agents: found again after a restart of the service, or lost.

Agents outlive the service. At start every stored node is looked for (`restore`); the backend
answers `attached` (its agent is there, with the runs it still has) or `lost` (no agent). While
the service runs, `lost` also comes when an agent dies or falls silent. A node whose agent is
gone after a restart boots again, as a VM comes back after a reboot; one lost while the service
runs is `unusable` and its tasks run elsewhere, as on Azure when a VM is lost. A node lost for
good (its Ray actor died: it cannot come back) is shown `unusable` (`preempted` when low-priority)
and the pool replaces it with a new node.
"""

from __future__ import annotations

from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend, NodeSpec
from batchite.domain.entities import Node
from batchite.domain.states import NodeState, transition
from batchite.scheduler.events import EventBus, NodeRebooted
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import KillReason, LiveNode, LivePool, Projection
from batchite.scheduler.nodes import BOOTING, NodeManager
from batchite.scheduler.task_runs import TaskRunner
from batchite.store.base import Store
from batchite.wire.models import BatchNodeError

AGENT_LOST = "NodeAgentLost"
_GONE_FOR_GOOD = (NodeState.UNUSABLE, NodeState.DEALLOCATED, NodeState.START_TASK_FAILED)


class NodeAgents:
    def __init__(
        self,
        nodes: NodeManager,
        tasks: TaskRunner,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        projection: Projection,
        events: EventBus,
        kick: Kick,
    ) -> None:
        self.nodes = nodes
        self.tasks = tasks
        self.store = store
        self.backend = backend
        self.clock = clock
        self.projection = projection
        self.events = events
        self.kick = kick

    def restore(self, live: LivePool, entity: Node) -> LiveNode:
        """After a restart: the node as it was stored; its agent is looked for (`attached` or `lost`)."""
        dedicated = entity.wire.is_dedicated is not False
        spec = self.nodes.node_spec(live, entity.id, dedicated, entity.internal.agent)
        node = LiveNode(entity=entity, spec=spec, slots=live.slots_per_node)
        node.attaching = True
        live.nodes[node.id] = node
        live.allocating += 1
        self.backend.attach(node.spec)
        return node

    def leaving(self, live: LivePool, entity: Node) -> LiveNode:
        """After a restart, a node of a pool being deleted: its agent is looked for only to be
        released (it ends with whatever it still runs; those tasks were requeued)."""
        dedicated = entity.wire.is_dedicated is not False
        node = LiveNode(
            entity=entity,
            spec=self.nodes.node_spec(live, entity.id, dedicated, entity.internal.agent),
            slots=live.slots_per_node,
        )
        node.leaving = node.attaching = True
        live.nodes[node.id] = node
        self.backend.attach(node.spec)
        return node

    def _leaves(self, live: LivePool, node: LiveNode) -> bool:
        """A node of a pool being deleted, found again or lost: it goes on leaving."""
        if not (live.deleting and node.leaving):
            return False
        node.attaching = False
        self.nodes.deletion.release_when_idle(live, node)
        return True

    def _found(self, spec: NodeSpec) -> tuple[LivePool, LiveNode] | None:
        return self.projection.node(spec.account, spec.pool_id, spec.node_id)

    def attached(self, spec: NodeSpec, running: set[str]) -> None:
        """The node's agent is still there: runs it no longer has are lost; the node carries on
        where it was, and boots again (start task included) if it was on the way up."""
        found = self._found(spec)
        if found is None:
            return
        live, node = found
        if self._leaves(live, node):
            return
        node.attaching = False
        live.allocating = max(0, live.allocating - 1)
        for run in [r for r in node.runs if r.id and r.id not in running]:
            self.tasks.lost(run)
        for run in [r for r in node.runs if r.held]:  # successors it started while the service was away
            job = self.projection.job_of(run)
            if job is not None:
                self.tasks.confirm_held(job, run)
        state = node.state
        if state in (NodeState.IDLE, NodeState.RUNNING):
            busy = NodeState.RUNNING if node.runs else NodeState.IDLE
            transition(node.entity.wire, busy, self.clock.now(), keep_previous=False)
            self.store.nodes.update(node.entity)
        elif state in BOOTING or state == NodeState.PREEMPTED:
            self.nodes.reboot(live, node, fresh=state == NodeState.PREEMPTED)
        elif state == NodeState.DEALLOCATING:
            self.nodes.set_state(node, NodeState.DEALLOCATED)
        self.nodes.maybe_steady(live)
        self.kick()

    def lost(self, spec: NodeSpec, reason: str, *, gone: bool = False) -> None:
        """The node's agent is gone: its tasks run elsewhere; the node is unusable (replaced when
        `gone`), or, when it was being looked for after a restart, boots again."""
        found = self._found(spec)
        if found is None:
            return
        live, node = found
        self.tasks.evict(node, KillReason.REQUEUE)
        self.tasks.abandon(node)
        if self._leaves(live, node):
            return
        if node.attaching:
            node.attaching = False
            live.allocating = max(0, live.allocating - 1)
            if node.state not in _GONE_FOR_GOOD:
                self._boot_again(live, node)
                return
        wire = node.entity.wire
        wire.errors = [BatchNodeError(code=AGENT_LOST, message=reason)]
        shown = NodeState.PREEMPTED if gone and not node.spec.is_dedicated else NodeState.UNUSABLE
        if wire.state != shown:
            transition(wire, shown, self.clock.now(), keep_previous=False, check=False)
        self.store.nodes.update(node.entity)
        if gone:
            self.nodes.capacity.replace(live, node)
        self.nodes.maybe_steady(live)
        self.kick()

    def _boot_again(self, live: LivePool, node: LiveNode) -> None:
        """As after a reboot, from whatever state it was stored in (hence check=False)."""
        self.events.publish(NodeRebooted(node, False))
        live.allocating += 1
        transition(node.entity.wire, NodeState.STARTING, self.clock.now(), keep_previous=False, check=False)
        self.store.nodes.update(node.entity)
        self.backend.allocate(node.spec)
