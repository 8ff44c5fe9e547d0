"""Pools and their nodes in the scheduler: allocation and resizes, nodes from allocation to
leaving (the start task: StartTasks). The one writer of pools and nodes: the service hands new pools to `add`,
edits through `edit`, asks for resizes and deletes (PoolDeletion); every state move goes through
`transition`. What changes with every task is written by NodeDocuments, grouped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from batchite.agent.container_specs import EngineSettings
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend, NodeSpec, NodeUsers
from batchite.domain import vmsizes
from batchite.domain.entities import Node, NodeUsage, Pool
from batchite.domain.entities.records import NodeInternal, NodeUsageRecord
from batchite.domain.node_actions import NodeAction
from batchite.domain.quotas import Quotas
from batchite.domain.states import ALLOCATION, NodeState, can_move, transition
from batchite.domain.urls import Urls
from batchite.scheduler.agent_groups import DEFAULT_NODES_PER_AGENT, agent_for_new_node
from batchite.scheduler.containers import pool_containers
from batchite.scheduler.events import EventBus, NodeRebooted, RunEnded, RunStarted
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import KillReason, LiveNode, LivePool, Projection
from batchite.scheduler.node_capacity import NodeCapacity
from batchite.scheduler.node_documents import NodeDocuments
from batchite.scheduler.pool_deletion import PoolDeletion
from batchite.scheduler.side_tasks import SideTasks
from batchite.scheduler.staging import Staging
from batchite.scheduler.start_tasks import StartTasks
from batchite.scheduler.task_runs import TaskRunner
from batchite.store.base import Store
from batchite.wire.enums import (
    AllocationState,
    BatchNodeDeallocationOption,
    ElevationLevel,
    SchedulingState,
)
from batchite.wire.models import (
    BatchNode,
    BatchNodeAgentInfo,
    BatchNodeEndpointConfiguration,
    BatchNodeError,
    NameValuePair,
    ResizeError,
    VirtualMachineInfo,
)

WAITING_OPTIONS = (BatchNodeDeallocationOption.TASK_COMPLETION, BatchNodeDeallocationOption.RETAINED_DATA)
N = NodeState
BOOTING = frozenset({N.CREATING, N.STARTING, N.WAITING_FOR_START_TASK, N.REBOOTING, N.REIMAGING})


def new_node_id(dedicated: bool) -> str:
    return f"tvmps_{uuid.uuid4().hex}{uuid.uuid4().hex}_{'d' if dedicated else 'p'}"


def eviction(option: BatchNodeDeallocationOption | None) -> KillReason:
    """What happens to running tasks: `terminate` ends them, anything else requeues them."""
    return KillReason.TERMINATE if option == BatchNodeDeallocationOption.TERMINATE else KillReason.REQUEUE


class NodeManager:
    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        projection: Projection,
        tasks: TaskRunner,
        side_tasks: SideTasks,
        staging: Staging,
        events: EventBus,
        kick: Kick,
        urls: Urls,
        quotas: Quotas,
        release_time: timedelta,
        nodes_per_agent: int = DEFAULT_NODES_PER_AGENT,
        container_engine: EngineSettings | None = None,
    ) -> None:
        self.nodes_per_agent = nodes_per_agent
        self.container_engine = container_engine or EngineSettings()
        self.store = store
        self.backend = backend
        self.clock = clock
        self.projection = projection
        self.tasks = tasks
        self.side_tasks = side_tasks
        self.staging = staging
        self.events = events
        self.kick = kick
        self.urls = urls
        self.quotas = quotas  # the default; quotas_of answers per account
        self.quotas_of: Callable[[str], Quotas] = lambda _account: self.quotas
        self.documents = NodeDocuments(store, clock, urls)
        self.deletion = PoolDeletion(self, store, clock, projection, tasks, events, release_time)
        self.start_tasks = StartTasks(store, clock, projection, side_tasks, staging, kick, self.set_state)
        self.capacity = NodeCapacity(self, clock, projection)
        events.subscribe(RunStarted, lambda e: self._run_started(e.node, e.job.id, e.task.id))
        events.subscribe(RunEnded, lambda e: self._run_ended(e.node, e.job.id, e.task.id, e.succeeded))

    # -- pools --------------------------------------------------------------------------
    def restore_pool(self, pool: Pool) -> LivePool:
        """The pool's live record (at creation, and for every pool at start)."""
        live = LivePool(pool)
        self.projection.pools[(pool.account, pool.key)] = live
        return live

    def add(self, pool: Pool) -> LivePool:
        """A new pool: stored, then grown to its targets."""
        pool.internal.uid_block = self.store.next_number("uid-block")
        self.store.pools.insert(pool)
        live = self.restore_pool(pool)
        self.resize(live, pool.wire.target_dedicated_nodes or 0, pool.wire.target_low_priority_nodes or 0)
        return live

    @contextmanager
    def edit(self, live: LivePool) -> Iterator[Pool]:
        """Change a pool's properties; stored (and seen by dispatch) when the block ends."""
        yield live.entity
        self.save(live)
        self.kick()

    def save(self, live: LivePool) -> None:
        self.store.pools.update(live.entity)

    def delete(self, live: LivePool) -> None:
        """The pool goes `deleting`, its nodes leave (their tasks requeued), then it is gone."""
        self.deletion.delete(live)

    def _cores_in_use(self, account: str, dedicated: bool) -> int:
        return sum(
            vmsizes.cores(p.vm_size) * sum(1 for n in p.nodes.values() if n.spec.is_dedicated == dedicated)
            for p in self.projection.pools.values()
            if p.account == account
        )

    def resize(
        self,
        live: LivePool,
        dedicated: int,
        low_priority: int,
        option: BatchNodeDeallocationOption | None = None,
    ) -> None:
        """Grow or shrink to the targets; growth stops at the account's core quota (a resize error)."""
        self.set_allocation(live, AllocationState.RESIZING)
        errors: list[ResizeError] = []
        for is_dedicated, target in ((True, dedicated), (False, low_priority)):
            current = [n for n in live.nodes.values() if n.spec.is_dedicated == is_dedicated and not n.leaving]
            wanted = target - len(current)
            if wanted > 0:
                quotas = self.quotas_of(live.account)
                quota = quotas.dedicated_cores if is_dedicated else quotas.low_priority_cores
                in_use = self._cores_in_use(live.account, is_dedicated)
                room = max(0, quota - in_use) // max(1, vmsizes.cores(live.vm_size))
                if room < wanted:
                    kind = "dedicated" if is_dedicated else "low-priority"
                    errors.append(
                        ResizeError(
                            code="AccountCoreQuotaReached" if is_dedicated else "AccountLowPriorityCoreQuotaReached",
                            message=f"The specified account has reached its {kind} core quota ({quota} cores); "
                            f"{room} of the {wanted} nodes asked for could be allocated.",
                            error_values=[NameValuePair(name="CoreQuota", value=str(quota))],
                        )
                    )
                    wanted = room
            for _ in range(wanted):
                self._add_node(live, is_dedicated)
            surplus = len(current) - target
            if surplus > 0:
                # Idle nodes go first, then the least busy.
                victims = sorted(current, key=lambda n: (n.used, n.state != NodeState.IDLE))[:surplus]
                for node in victims:
                    self.remove_node(live, node, option)
        wire = live.entity.wire
        if errors or wire.resize_errors:
            wire.resize_errors = errors or None
            self.save(live)
        self.maybe_steady(live)

    def stop_resize(self, live: LivePool) -> None:
        if live.allocating or any(n.leaving for n in live.nodes.values()):
            self.set_allocation(live, AllocationState.STOPPING)
        for node in live.nodes.values():
            node.leaving = False
        self.maybe_steady(live)
        self.kick()

    def set_allocation(self, live: LivePool, allocation: AllocationState) -> None:
        wire = live.entity.wire
        if wire.allocation_state == allocation:
            return
        if allocation == AllocationState.STOPPING and not can_move(ALLOCATION, wire.allocation_state, allocation):
            return
        transition(wire, allocation, self.clock.now(), field="allocation_state", keep_previous=False)
        self.save(live)

    def update_counts(self, live: LivePool) -> None:
        dedicated, low = live.counts()
        wire = live.entity.wire
        if (wire.current_dedicated_nodes, wire.current_low_priority_nodes) != (dedicated, low):
            wire.current_dedicated_nodes, wire.current_low_priority_nodes = dedicated, low
            self.save(live)

    def maybe_steady(self, live: LivePool) -> None:
        self.update_counts(live)
        if live.allocating == 0 and not any(n.leaving for n in live.nodes.values()):
            self.set_allocation(live, AllocationState.STEADY)

    # -- nodes --------------------------------------------------------------------------
    def _users(self, live: LivePool) -> NodeUsers | None:
        """The pool's users on its nodes: its auto users and userAccounts, uids of its own block."""
        pool = live.entity
        if pool.internal.uid_block is None:
            pool.internal.uid_block = self.store.next_number("uid-block")
            self.save(live)
        named = [(u.name, u.elevation_level == ElevationLevel.ADMIN) for u in pool.wire.user_accounts or []]
        return NodeUsers.of_block(pool.internal.uid_block, named)

    def node_spec(self, live: LivePool, node_id: str, dedicated: bool, agent: str) -> NodeSpec:
        return NodeSpec(
            account=live.account,
            account_url=self.urls.account(live.account),
            pool_id=live.id,
            node_id=node_id,
            is_dedicated=dedicated,
            vm_size=live.vm_size,
            users=self._users(live),
            agent=agent,
            backend=live.entity.internal.backend,
            spread=bool(live.entity.wire.enable_inter_node_communication),
            containers=pool_containers(live.entity.wire.virtual_machine_configuration, self.container_engine),
        )

    def _add_node(self, live: LivePool, dedicated: bool) -> LiveNode:
        node_id = new_node_id(dedicated)
        now = self.clock.now()
        config = live.entity.wire.virtual_machine_configuration
        wire = BatchNode(
            id=node_id,
            state=NodeState.CREATING,
            scheduling_state=SchedulingState.ENABLED,
            state_transition_time=now,
            allocation_time=now,
            last_boot_time=now,
            ip_address="",
            affinity_id=f"TVM:{node_id}",
            vm_size=live.vm_size,
            total_tasks_run=0,
            total_tasks_succeeded=0,
            running_tasks_count=0,
            running_task_slots_count=0,
            is_dedicated=dedicated,
            endpoint_configuration=BatchNodeEndpointConfiguration(inbound_endpoints=[]),
            node_agent_info=BatchNodeAgentInfo(
                version=f"batchite/{live.entity.internal.backend or self.backend.name}", last_update_time=now
            ),
            virtual_machine_info=VirtualMachineInfo(image_reference=config.image_reference if config else None),
        )
        agent = agent_for_new_node(live, node_id, self.nodes_per_agent)
        node = LiveNode(
            entity=Node(live.account, live.key, wire, NodeInternal(agent=agent)),
            spec=self.node_spec(live, node_id, dedicated, agent),
            slots=live.slots_per_node,
        )
        wire.ip_address = node.ip
        live.nodes[node.id] = node
        self.store.nodes.insert(node.entity)
        self._bring_up(live, node)
        return node

    def _bring_up(self, live: LivePool, node: LiveNode, *, fresh: bool = False) -> None:
        live.allocating += 1
        self.set_state(node, NodeState.STARTING)
        self.backend.allocate(node.spec, fresh=fresh)

    def node_ready(self, spec: NodeSpec) -> None:
        """The backend made the node ready (allocation, reboot, reimage)."""
        live = self.projection.pool(spec.account, spec.pool_id)
        node = live.nodes.get(spec.node_id) if live is not None else None
        if live is None or node is None:
            return
        live.allocating = max(0, live.allocating - 1)
        if node.state == NodeState.STARTING:
            node.entity.wire.last_boot_time = self.clock.now()
            node.entity.wire.errors = None
            self.booted(live, node)
        if not live.deleting:
            self.maybe_steady(live)
        self.kick()

    def unusable(self, spec: NodeSpec, code: str, message: str, details: list[tuple[str, str]]) -> None:
        """The node booted but cannot run tasks: unusable, with its node error, until rebooted or removed."""
        live = self.projection.pool(spec.account, spec.pool_id)
        node = live.nodes.get(spec.node_id) if live is not None else None
        if live is None or node is None:
            return
        live.allocating = max(0, live.allocating - 1)
        wire = node.entity.wire
        wire.errors = [
            BatchNodeError(
                code=code, message=message, error_details=[NameValuePair(name=n, value=v) for n, v in details] or None
            )
        ]
        transition(wire, NodeState.UNUSABLE, self.clock.now(), keep_previous=False, check=False)
        self.store.nodes.update(node.entity)
        if not live.deleting:
            self.maybe_steady(live)
        self.kick()

    def booted(self, live: LivePool, node: LiveNode) -> None:
        """A node finished allocating or rebooting: its start task runs, then it is idle."""
        self.start_tasks.booted(live, node)

    def set_state(self, node: LiveNode, new: NodeState) -> None:
        if transition(node.entity.wire, new, self.clock.now(), keep_previous=False):
            self.store.nodes.update(node.entity)

    def reboot(self, live: LivePool, node: LiveNode, *, fresh: bool) -> None:
        """Boot a node again (reboot, reimage, start after deallocation, returned spot capacity)."""
        if live.nodes.get(node.id) is not node:
            return
        self.events.publish(NodeRebooted(node, fresh))  # its jobs' preparation tasks run again
        live.allocating += 1
        self.set_state(node, NodeState.STARTING)
        self.backend.allocate(node.spec, fresh=fresh)

    def remove_node(self, live: LivePool, node: LiveNode, option: BatchNodeDeallocationOption | None) -> None:
        if option in WAITING_OPTIONS and node.runs:
            node.leaving = True
            return
        self.tasks.evict(node, eviction(option))
        self.drop(live, node)

    def drop(self, live: LivePool, node: LiveNode, update_pool: bool = True) -> None:
        live.nodes.pop(node.id, None)
        self.documents.forget(node)
        transition(node.entity.wire, NodeState.LEAVING_POOL, self.clock.now(), keep_previous=False)
        usage = NodeUsageRecord(
            node_id=node.id,
            pool_id=live.id,
            vm_size=live.vm_size,
            start=node.entity.wire.allocation_time,
            end=self.clock.now(),
            dedicated=node.spec.is_dedicated,
        )
        self.store.node_usage.insert(NodeUsage(live.account, live.key, usage))  # outlives the node
        self.store.nodes.delete(live.account, live.key, node.id)
        self.backend.release(node.spec)
        if update_pool:
            self.maybe_steady(live)

    # -- run bookkeeping and node documents ---------------------------------------------
    def _run_started(self, node: LiveNode, job_id: str, task_id: str) -> None:
        if node.state == NodeState.IDLE:
            transition(node.entity.wire, NodeState.RUNNING, self.clock.now(), keep_previous=False)
        self.documents.record(node, job_id, task_id, started=True)

    def _run_ended(self, node: LiveNode, job_id: str, task_id: str, succeeded: bool | None) -> None:
        live = self.projection.pool_of(node)
        if live is None:
            return
        if node.leaving and not node.runs:
            if not live.deleting:  # a deleted pool's nodes leave on their own time (PoolDeletion)
                self.drop(live, node)
            return
        if node.pending_action is not None and not node.runs:
            self.run_pending_action(live, node)
        if node.state == NodeState.RUNNING and not node.runs:
            transition(node.entity.wire, NodeState.IDLE, self.clock.now(), keep_previous=False)
        self.documents.record(node, job_id, task_id, started=False, succeeded=succeeded)

    def run_pending_action(self, live: LivePool, node: LiveNode) -> None:
        action, node.pending_action = node.pending_action, None
        if action == NodeAction.DEALLOCATE:
            self.set_state(node, NodeState.DEALLOCATING)
            self.clock.call_soon(partial(self._deallocated, live, node))
        elif action in (NodeAction.REBOOT, NodeAction.REIMAGE):
            reimage = action == NodeAction.REIMAGE
            self.set_state(node, NodeState.REIMAGING if reimage else NodeState.REBOOTING)
            self.reboot(live, node, fresh=reimage)

    def _deallocated(self, live: LivePool, node: LiveNode) -> None:
        if live.nodes.get(node.id) is node:
            self.set_state(node, NodeState.DEALLOCATED)
