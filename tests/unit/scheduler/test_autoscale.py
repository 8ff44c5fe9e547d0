"""Autoscale: a pool's formula evaluated at once and then every interval, against its samples."""

from __future__ import annotations

from batchite.wire.types import Duration
from tests.unit.scheduler.fakes import Harness


def test_a_formula_sets_the_targets_and_the_pool_resizes() -> None:
    h = Harness()
    live = h.pool(
        dedicated=0,
        enable_auto_scale=True,
        auto_scale_formula="$TargetDedicatedNodes = 2;",
        auto_scale_evaluation_interval=Duration(minutes=5),
    )
    h.scheduler.autoscale.arm(live)
    h.settle()
    h.advance(0)
    assert len(live.nodes) == 2
    run = live.entity.wire.auto_scale_run
    assert run is not None and run.results is not None and "$TargetDedicatedNodes=2" in run.results


def test_the_formula_is_evaluated_again_every_interval() -> None:
    h = Harness()
    live = h.pool(
        dedicated=0,
        enable_auto_scale=True,
        auto_scale_formula="$TargetDedicatedNodes = max($PendingTasks.GetSample(1)) > 0 ? 1 : 0;",
        auto_scale_evaluation_interval=Duration(minutes=5),
    )
    h.scheduler.autoscale.start()
    h.scheduler.autoscale.arm(live)
    h.advance(0)
    assert len(live.nodes) == 0
    job = h.job()
    h.add(job, h.task(job, "t1"))
    h.advance(5 * 60)
    assert len(live.nodes) == 1


def test_a_formula_error_is_recorded_and_changes_nothing() -> None:
    h = Harness()
    live = h.pool(dedicated=1, enable_auto_scale=True, auto_scale_formula="$TargetDedicatedNodes = $Nope;")
    h.scheduler.autoscale.apply(live)
    run = live.entity.wire.auto_scale_run
    assert run is not None and run.error is not None
    assert len(live.nodes) == 1


def test_evaluate_does_not_resize() -> None:
    h = Harness()
    live = h.pool(dedicated=0)
    result, run = h.scheduler.autoscale.evaluate(live, "$TargetDedicatedNodes = 3;")
    assert result is not None and result.target_dedicated == 3
    assert run.results is not None
    assert len(live.nodes) == 0
