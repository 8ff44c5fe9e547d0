"""Evaluating an autoscale formula against a pool before it is enabled (the portal's formula editor).

`AutoScaleService.evaluate` refuses a pool without autoscale (409 AutoScalingNotEnabled, as Azure
does); this evaluates the same way, against the same samples and counts, on any active pool, and
changes nothing: no autoScaleRun is recorded and no resize follows.
"""

from __future__ import annotations

from batchite.service.batch import BatchService
from batchite.service.formula_checks import check_formula
from batchite.wire.models import AutoScaleRun


def preview_formula(batch: BatchService, account: str, pool_id: str, formula: str) -> AutoScaleRun:
    """The autoScaleRun the formula would give now: its results, or its run error. A formula that is
    too long or does not parse raises the Batch error the evaluate API gives (400)."""
    live = batch.pools.live(account, pool_id)
    check_formula(formula)
    _, run = batch.scheduler.autoscale.evaluate(live, formula)
    return run
