"""Enabling, disabling and evaluating a pool's autoscale formula."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from batchite.clock import parse_duration, parse_time
from batchite.domain.errors import conflict, missing_property
from batchite.service.context import ServiceContext
from batchite.service.formula_checks import ENABLE_SPACING, check_formula, check_interval
from batchite.service.pools import PoolService
from batchite.store.base import Record


class AutoScaleService:
    def __init__(self, ctx: ServiceContext, pools: PoolService) -> None:
        self.ctx = ctx
        self.pools = pools

    def enable(self, account: str, pool_id: str, body: dict[str, Any]) -> Record:
        rec = self.pools.get(account, pool_id)
        formula = body.get("autoScaleFormula")
        if rec.doc.get("enableAutoScale"):
            formula = formula or rec.doc.get("autoScaleFormula")
        if not formula:
            raise missing_property("autoScaleFormula")
        check_formula(str(formula))
        interval = check_interval(body.get("autoScaleEvaluationInterval") or rec.doc.get("autoScaleEvaluationInterval"))
        if rec.doc.get("allocationState") != "steady" and not rec.doc.get("enableAutoScale"):
            raise conflict("PoolBeingResized", "Autoscale cannot be enabled while the pool is resizing.")
        last = rec.extra.get("lastAutoScaleEnable")
        now = self.ctx.clock.now()
        if last and now - parse_time(str(last)) < ENABLE_SPACING:
            raise conflict(
                "AutoScaleTooManyRequestsToEnable",
                "Enable AutoScale requests for the same pool must be separated by at least 30 seconds.",
            )
        rec.extra["lastAutoScaleEnable"] = self.ctx.now_text()
        rec.doc.update({"enableAutoScale": True, "autoScaleFormula": formula, "autoScaleEvaluationInterval": interval})
        rec.doc.pop("resizeTimeout", None)
        self.ctx.scheduler.apply_autoscale(rec)
        interval_td = parse_duration(interval) or timedelta(minutes=15)
        self.ctx.scheduler.arm_autoscale(rec, interval_td)
        return self.pools.get(account, pool_id)

    def disable(self, account: str, pool_id: str) -> Record:
        rec = self.pools.get(account, pool_id)
        for name in ("autoScaleFormula", "autoScaleEvaluationInterval", "autoScaleRun"):
            rec.doc.pop(name, None)
        rec.doc["enableAutoScale"] = False
        rec.doc.setdefault("resizeTimeout", "PT15M")
        self.ctx.store.put(rec)
        self.ctx.scheduler.disarm_autoscale(account, rec.id)
        return rec

    def evaluate(self, account: str, pool_id: str, formula: str) -> dict[str, Any]:
        rec = self.pools.get(account, pool_id)
        if not rec.doc.get("enableAutoScale"):
            raise conflict(
                "AutoScalingNotEnabled", "Autoscale evaluation is only possible on a pool with autoscale enabled."
            )
        check_formula(formula)
        _, run = self.ctx.scheduler.evaluate_formula(rec, formula)
        return run
