"""Pools: create, read, update, replace, resize, stop resize, delete; node counts.

The service checks what a request may do; the scheduler's NodeManager, the one writer of pools,
does it.
"""

from __future__ import annotations

import builtins
from datetime import timedelta

from batchite.domain import vmsizes
from batchite.domain.entities import Pool
from batchite.domain.entities.records import PoolInternal
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.domain.states import NodeState, PoolState
from batchite.scheduler.live import LivePool
from batchite.service.conflicts import pool_being_deleted
from batchite.service.container_checks import check_container_configuration
from batchite.service.context import ServiceContext, require
from batchite.service.formula_checks import check_formula, check_interval
from batchite.service.images import check_image
from batchite.service.packages import check_package_references
from batchite.store.base import Page
from batchite.wire.enums import AllocationState, BatchNodeDeallocationOption, BatchNodeFillType
from batchite.wire.models import (
    BatchMetadataItem,
    BatchNodeCounts,
    BatchPool,
    BatchPoolCreateOptions,
    BatchPoolNodeCounts,
    BatchPoolReplaceOptions,
    BatchPoolResizeOptions,
    BatchPoolSpecification,
    BatchPoolUpdateOptions,
    BatchTaskSchedulingPolicy,
)
from batchite.wire.types import Duration, build, set_fields

MAX_SLOTS = 256
INT32_MAX = 2**31 - 1
DEFAULT_RESIZE_TIMEOUT = Duration(minutes=15)
BACKEND_METADATA = "batchite.backend"  # a pool's metadata item choosing its compute backend


def _check_slots(slots: int | None, size: vmsizes.VmSize) -> None:
    if slots is None:
        return
    limit = min(MAX_SLOTS, 4 * size.cores)
    if not 1 <= slots <= limit:
        raise invalid_property(
            "taskSlotsPerNode", slots, f"The value must be between 1 and {limit} (4 times the cores of {size.name})."
        )


def _check_targets(dedicated: int | None, low_priority: int | None) -> None:
    for name, value in (("targetDedicatedNodes", dedicated), ("targetLowPriorityNodes", low_priority)):
        if value is not None and not 0 <= value <= INT32_MAX:
            raise invalid_property(name, value, "The value must be between 0 and 2147483647.")


def _counts(nodes: list[NodeState]) -> BatchNodeCounts:
    n = {state: nodes.count(state) for state in set(nodes)}
    c = NodeState
    return BatchNodeCounts(
        creating=n.get(c.CREATING, 0),
        idle=n.get(c.IDLE, 0),
        offline=n.get(c.OFFLINE, 0),
        preempted=n.get(c.PREEMPTED, 0),
        rebooting=n.get(c.REBOOTING, 0),
        reimaging=n.get(c.REIMAGING, 0),
        running=n.get(c.RUNNING, 0),
        starting=n.get(c.STARTING, 0),
        start_task_failed=n.get(c.START_TASK_FAILED, 0),
        leaving_pool=n.get(c.LEAVING_POOL, 0),
        unknown=n.get(c.UNKNOWN, 0),
        unusable=n.get(c.UNUSABLE, 0),
        waiting_for_start_task=n.get(c.WAITING_FOR_START_TASK, 0),
        deallocated=n.get(c.DEALLOCATED, 0),
        deallocating=n.get(c.DEALLOCATING, 0),
        total=len(nodes),
        upgrading_os=n.get(c.UPGRADING_OS, 0),
    )


class PoolService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- reads --------------------------------------------------------------------------
    def get(self, account: str, pool_id: str) -> Pool:
        return require(self.ctx.store.pools.get(account, "", pool_id), not_found("pool"))

    def list(self, account: str, after: int, limit: int, flt: Filter | None = None) -> Page[Pool]:
        return self.ctx.store.pools.page(account, "", after, limit, flt)

    def node_counts(self, account: str) -> builtins.list[BatchPoolNodeCounts]:
        self.ctx.scheduler.flush_node_documents()
        out = []
        for pool in self.ctx.store.pools.list(account, ""):
            nodes = self.ctx.store.nodes.list(account, pool.key)
            dedicated = [n.wire.state for n in nodes if n.wire.is_dedicated is not False]
            low = [n.wire.state for n in nodes if n.wire.is_dedicated is False]
            out.append(BatchPoolNodeCounts(pool_id=pool.id, dedicated=_counts(dedicated), low_priority=_counts(low)))
        return out

    def live(self, account: str, pool_id: str) -> LivePool:
        """The pool as the scheduler runs it: 404 when there is none, 409 while it is being deleted."""
        live = self.ctx.scheduler.projection.pool(account, pool_id)
        if live is None or live.deleting:
            if self.get(account, pool_id).wire.state == PoolState.DELETING:
                raise pool_being_deleted()
            raise not_found("pool")
        return live

    # -- create -------------------------------------------------------------------------
    def create(self, account: str, body: BatchPoolCreateOptions) -> Pool:
        return self._create(account, check_id(body.id), body)

    def create_auto_pool(self, account: str, pool_id: str, spec: BatchPoolSpecification) -> Pool:
        """The pool of an autoPoolSpecification (its id is made by the service, not checked as a user's)."""
        return self._create(account, pool_id, spec)

    def _create(self, account: str, pool_id: str, body: BatchPoolCreateOptions | BatchPoolSpecification) -> Pool:
        size = vmsizes.lookup(body.vm_size)
        config = body.virtual_machine_configuration
        if config is None:
            raise missing_property("virtualMachineConfiguration")
        check_image(config)
        check_container_configuration(config, self.ctx.scheduler.nodes.container_engine)
        _check_slots(body.task_slots_per_node, size)
        _check_targets(body.target_dedicated_nodes, body.target_low_priority_nodes)
        _check_resize_timeout(body.resize_timeout)
        check_package_references(self.ctx, account, body.application_package_references)
        autoscale = bool(body.enable_auto_scale)
        if autoscale:
            if not body.auto_scale_formula:
                raise missing_property("autoScaleFormula")
            for name, value in (
                ("targetDedicatedNodes", body.target_dedicated_nodes),
                ("targetLowPriorityNodes", body.target_low_priority_nodes),
            ):
                if value is not None:
                    raise BatchError(
                        400,
                        "InvalidPropertyValue",
                        "targetDedicatedNodes and targetLowPriorityNodes must not be set on an autoscale pool.",
                        [("PropertyName", name)],
                    )
        existing = self.ctx.store.pools.get(account, "", pool_id)
        if existing is not None:
            raise pool_being_deleted() if existing.wire.state == PoolState.DELETING else exists("pool")
        quota = self.ctx.scheduler.quotas_of(account).pools
        if self.ctx.store.pools.count(account, "") >= quota:
            raise conflict(
                "PoolQuotaReached", "The specified account has reached its pool quota.", [("PoolQuota", str(quota))]
            )
        interval = None
        if autoscale:
            check_formula(body.auto_scale_formula or "")
            interval = check_interval(body.auto_scale_evaluation_interval)
        if config.image_reference.version is None:
            config.image_reference.version = "latest"
        now = self.ctx.clock.now()
        wire = build(
            BatchPool,
            body,
            id=pool_id,
            state=PoolState.ACTIVE,
            state_transition_time=now,
            creation_time=now,
            allocation_state=AllocationState.STEADY,
            allocation_state_transition_time=now,
            current_dedicated_nodes=0,
            current_low_priority_nodes=0,
            enable_auto_scale=autoscale,
            enable_inter_node_communication=bool(body.enable_inter_node_communication),
            task_slots_per_node=body.task_slots_per_node or 1,
            task_scheduling_policy=body.task_scheduling_policy
            or BatchTaskSchedulingPolicy(node_fill_type=BatchNodeFillType.SPREAD),
            target_dedicated_nodes=0 if autoscale else body.target_dedicated_nodes or 0,
            target_low_priority_nodes=0 if autoscale else body.target_low_priority_nodes or 0,
            resize_timeout=None if autoscale else body.resize_timeout or DEFAULT_RESIZE_TIMEOUT,
            auto_scale_evaluation_interval=interval,
        )
        internal = PoolInternal(backend=self._backend_of(body.metadata))
        live = self.ctx.scheduler.nodes.add(Pool(account, "", wire, internal))
        if autoscale:
            self.ctx.scheduler.autoscale.arm(live)
        return live.entity

    def _backend_of(self, metadata: builtins.list[BatchMetadataItem] | None) -> str:
        """The compute backend a pool's `batchite.backend` metadata asks for ("" = the default)."""
        wanted = next((m.value for m in metadata or [] if m.name == BACKEND_METADATA), "")
        served = getattr(self.ctx.scheduler.backend, "names", [self.ctx.scheduler.backend.name])
        if wanted and wanted not in served:
            raise invalid_property(
                "metadata", wanted, f"The compute backend '{wanted}' is not served here (served: {', '.join(served)})."
            )
        return wanted

    # -- updates ------------------------------------------------------------------------
    def update(self, account: str, pool_id: str, body: BatchPoolUpdateOptions) -> Pool:
        live = self.live(account, pool_id)
        if body.task_slots_per_node is not None:
            _check_slots(body.task_slots_per_node, vmsizes.lookup(body.vm_size or live.vm_size))
        if body.vm_size is not None:
            vmsizes.lookup(body.vm_size)
        check_package_references(self.ctx, account, body.application_package_references)
        with self.ctx.scheduler.nodes.edit(live) as pool:
            set_fields(pool.wire, body)
        return live.entity

    def replace_properties(self, account: str, pool_id: str, body: BatchPoolReplaceOptions) -> Pool:
        live = self.live(account, pool_id)
        check_package_references(self.ctx, account, body.application_package_references)
        with self.ctx.scheduler.nodes.edit(live) as pool:
            pool.wire.start_task = body.start_task
            pool.wire.application_package_references = body.application_package_references or None
            pool.wire.metadata = body.metadata or None
        return live.entity

    def resize(self, account: str, pool_id: str, body: BatchPoolResizeOptions) -> Pool:
        live = self.live(account, pool_id)
        wire = live.entity.wire
        if wire.enable_auto_scale:
            raise conflict(
                "AutoScalingEnabled", "The pool has automatic scaling enabled; it cannot be resized by hand."
            )
        if wire.allocation_state != AllocationState.STEADY:
            raise conflict("PoolBeingResized", "The specified pool is already being resized.")
        _check_targets(body.target_dedicated_nodes, body.target_low_priority_nodes)
        _check_resize_timeout(body.resize_timeout)
        nodes = self.ctx.scheduler.nodes
        with nodes.edit(live) as pool:
            if body.target_dedicated_nodes is not None:
                pool.wire.target_dedicated_nodes = body.target_dedicated_nodes
            if body.target_low_priority_nodes is not None:
                pool.wire.target_low_priority_nodes = body.target_low_priority_nodes
            if body.resize_timeout:
                pool.wire.resize_timeout = body.resize_timeout
        option = body.node_deallocation_option or BatchNodeDeallocationOption.REQUEUE
        nodes.resize(live, wire.target_dedicated_nodes or 0, wire.target_low_priority_nodes or 0, option)
        return live.entity

    def stop_resize(self, account: str, pool_id: str) -> Pool:
        live = self.live(account, pool_id)
        self.ctx.scheduler.nodes.stop_resize(live)
        return live.entity

    def delete(self, account: str, pool_id: str) -> None:
        """The pool goes `deleting` until its nodes have left; deleting it again is 409 PoolBeingDeleted."""
        self.ctx.scheduler.nodes.delete(self.live(account, pool_id))

    def release(self, account: str, pool_id: str) -> None:
        """Delete an auto pool whose job or schedule ended, unless it is gone or going already."""
        pool = self.ctx.store.pools.get(account, "", pool_id)
        if pool is not None and pool.wire.state == PoolState.ACTIVE:
            self.delete(account, pool_id)


MIN_RESIZE_TIMEOUT = timedelta(minutes=5)


def _check_resize_timeout(value: timedelta | None) -> None:
    """resizeTimeout is at least 5 minutes (Azure answers a shorter one with a 400)."""
    if value is not None and value < MIN_RESIZE_TIMEOUT:
        raise invalid_property("resizeTimeout", Duration.of(value).wire(), "The minimum resize timeout is 5 minutes.")
