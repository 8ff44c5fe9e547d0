"""Enabling, disabling and evaluating a pool's autoscale formula."""

from __future__ import annotations

from batchite.domain.entities import Pool
from batchite.domain.errors import BatchError, conflict, missing_property
from batchite.service.context import ServiceContext
from batchite.service.formula_checks import ENABLE_SPACING, check_formula, check_interval
from batchite.service.pools import DEFAULT_RESIZE_TIMEOUT, PoolService
from batchite.wire.enums import AllocationState
from batchite.wire.models import AutoScaleRun, BatchPoolEnableAutoScaleOptions


class AutoScaleService:
    def __init__(self, ctx: ServiceContext, pools: PoolService) -> None:
        self.ctx = ctx
        self.pools = pools

    def enable(self, account: str, pool_id: str, body: BatchPoolEnableAutoScaleOptions) -> Pool:
        live = self.pools.live(account, pool_id)
        wire = live.entity.wire
        formula = body.auto_scale_formula
        if wire.enable_auto_scale:
            formula = formula or wire.auto_scale_formula
        if not formula:
            raise missing_property("autoScaleFormula")
        check_formula(formula)
        interval = check_interval(body.auto_scale_evaluation_interval or wire.auto_scale_evaluation_interval)
        if wire.allocation_state != AllocationState.STEADY and not wire.enable_auto_scale:
            raise conflict("PoolBeingResized", "Autoscale cannot be enabled while the pool is resizing.")
        last = live.entity.internal.last_auto_scale_enable
        now = self.ctx.clock.now()
        if last is not None and now - last < ENABLE_SPACING:
            raise BatchError(  # the wire code of what the SDKs call AutoScaleTooManyRequestsToEnable
                503,
                "TooManyEnableAutoScaleRequests",
                "Too many Enable Pool AutoScale requests are issued on the pool (30 seconds apart at least).",
            )
        with self.ctx.scheduler.nodes.edit(live) as pool:
            pool.internal.last_auto_scale_enable = now
            pool.wire.enable_auto_scale = True
            pool.wire.auto_scale_formula = formula
            pool.wire.auto_scale_evaluation_interval = interval
            pool.wire.resize_timeout = None
        autoscale = self.ctx.scheduler.autoscale
        autoscale.apply(live)
        autoscale.arm(live, interval)
        return live.entity

    def disable(self, account: str, pool_id: str) -> Pool:
        live = self.pools.live(account, pool_id)
        with self.ctx.scheduler.nodes.edit(live) as pool:
            pool.wire.auto_scale_formula = pool.wire.auto_scale_evaluation_interval = pool.wire.auto_scale_run = None
            pool.wire.enable_auto_scale = False
            pool.wire.resize_timeout = pool.wire.resize_timeout or DEFAULT_RESIZE_TIMEOUT
        self.ctx.scheduler.autoscale.disarm(account, live.key)
        return live.entity

    def evaluate(self, account: str, pool_id: str, formula: str) -> AutoScaleRun:
        live = self.pools.live(account, pool_id)
        if not live.entity.wire.enable_auto_scale:
            raise conflict(
                "AutoScalingNotEnabled", "Autoscale evaluation is only possible on a pool with autoscale enabled."
            )
        check_formula(formula)
        _, run = self.ctx.scheduler.autoscale.evaluate(live, formula)
        return run
