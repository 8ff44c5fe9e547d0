"""Autoscale formulas: the sample methods, the service variables, targets, results and the run error shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchite.autoscale import (
    EVALUATION_ERROR,
    INSUFFICIENT_SAMPLE_DATA,
    EvaluationInputs,
    EvaluationResult,
    SampleSource,
    StaticSamples,
    TimeInterval,
    evaluate,
    parse,
)

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
SECOND = 10_000_000


def history(ages: Sequence[int], values: Sequence[float] | None = None) -> list[tuple[datetime, float]]:
    """Samples taken `age` seconds before NOW."""
    values = values if values is not None else [float(i) for i in range(len(ages))]
    return [(NOW - timedelta(seconds=age), float(v)) for age, v in zip(ages, values, strict=True)]


def run(formula: str, samples: dict[str, list[tuple[datetime, float]]] | None = None, **kw: object) -> EvaluationResult:
    inputs = EvaluationInputs(now=NOW, samples=StaticSamples(samples or {}), **kw)  # type: ignore[arg-type]
    return evaluate(parse(formula), inputs)


def value_of(expression: str, samples: dict[str, list[tuple[datetime, float]]] | None = None, **kw: object) -> object:
    result = run(f"x = {expression};", samples, **kw)
    assert result.error is None, result.error
    return result.variables["x"]


# The docs' 10-minute example: 20 samples expected; with the last minute missing only 18 are there.
TEN_MINUTES_FULL = history(list(range(570, -1, -30)), [float(v) for v in range(20)])
TEN_MINUTES_LAST_MINUTE_MISSING = history(list(range(570, 59, -30)), [float(v) for v in range(18)])


def test_static_samples_is_a_sample_source() -> None:
    source = StaticSamples({"$CPUPercent": [(NOW, 1.0)]})
    assert isinstance(source, SampleSource)
    assert source.samples("CPUPercent") == [(NOW, 1.0)]
    assert source.samples("Nothing") == []


def test_get_sample_count_takes_the_most_recent_oldest_first() -> None:
    samples = {"RunningTasks": history([90, 60, 30, 0], [1, 2, 3, 4])}
    assert value_of("$RunningTasks.GetSample(2)", samples) == (3.0, 4.0)
    assert value_of("$RunningTasks.GetSample(1)", samples) == (4.0,)
    assert value_of("$RunningTasks.GetSample(10)", samples) == (1.0, 2.0, 3.0, 4.0)
    assert value_of("$RunningTasks.GetSample(0)", samples) == ()
    assert value_of("$RunningTasks.GetSample(1)") == ()
    assert value_of("max(0, $RunningTasks.GetSample(1))") == 0.0


def test_get_sample_interval_window() -> None:
    samples = {"CPUPercent": TEN_MINUTES_FULL}
    assert value_of("$CPUPercent.GetSample(TimeInterval_Minute * 10)", samples) == tuple(float(v) for v in range(20))
    assert value_of("len($CPUPercent.GetSample(TimeInterval_Minute * 5))", samples) == 10.0


def test_get_sample_percent_follows_the_docs_example() -> None:
    samples = {"CPUPercent": TEN_MINUTES_LAST_MINUTE_MISSING}
    assert value_of("$CPUPercent.GetSamplePercent(TimeInterval_Minute * 10)", samples) == 90.0
    assert value_of("len($CPUPercent.GetSample(TimeInterval_Minute * 10, 80))", samples) == 18.0
    result = run("$CPUPercent.GetSample(TimeInterval_Minute * 10, 95)", samples)
    assert result.error is not None
    assert result.error.to_dict() == {
        "code": "InsufficientSampleData",
        "message": "Autoscale evaluation failed due to insufficient sample data",
        "values": [
            {
                "name": "Message",
                "value": "Line 1, Col 1: Insufficient data from data set: $CPUPercent wanted 95%, received 90%",
            }
        ],
    }


def test_get_sample_with_start_and_end() -> None:
    samples = {"RunningTasks": TEN_MINUTES_FULL}
    # 1 to 6 minutes ago: (now - 360 s, now - 60 s] holds the samples aged 330 ... 60 s.
    got = value_of("$RunningTasks.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute)", samples)
    assert got == tuple(float(v) for v in range(8, 18))
    assert value_of("$RunningTasks.GetSample(6 * TimeInterval_Minute, 1 * TimeInterval_Minute)", samples) == got
    assert value_of("len($RunningTasks.GetSample(TimeInterval_Minute, 6 * TimeInterval_Minute, 100))", samples) == 10
    partial = {"RunningTasks": history(list(range(330, 59, -60)))}  # every other sample: 50%
    result = run("$RunningTasks.GetSample(60 * TimeInterval_Second, 360 * TimeInterval_Second, 75)", partial)
    assert result.error is not None and result.error.code == INSUFFICIENT_SAMPLE_DATA
    assert result.error.values[0][1].endswith("$RunningTasks wanted 75%, received 50%")
    assert value_of("$RunningTasks.GetSamplePercent(TimeInterval_Minute, 6 * TimeInterval_Minute)", partial) == 50.0


def test_get_sample_with_timestamps() -> None:
    samples = {"ActiveTasks": TEN_MINUTES_FULL}
    got = value_of('$ActiveTasks.GetSample(time("2024-05-06T11:55:00Z"))', samples)
    assert got == tuple(float(v) for v in range(10, 20))
    got = value_of('$ActiveTasks.GetSample(time("2024-05-06T11:55:00Z"), TimeInterval_Minute)', samples)
    assert got == tuple(float(v) for v in range(10, 18))
    assert value_of("$ActiveTasks.GetSamplePercent(time() + -TimeInterval_Minute * 2)", samples) == 100.0


def test_samples_are_sorted_and_future_ones_ignored() -> None:
    shuffled = history([0, 60, 30, -30], [3, 1, 2, 99])
    assert value_of("$PendingTasks.GetSample(5)", {"PendingTasks": shuffled}) == (1.0, 2.0, 3.0)
    assert value_of("$PendingTasks.Count()", {"PendingTasks": shuffled}) == 3.0


def test_other_sample_methods() -> None:
    samples = {"MemoryBytes": history([300, 200, 100])}
    assert value_of("$MemoryBytes.Count()", samples) == 3.0
    assert value_of("$MemoryBytes.HistoryBeginTime()", samples) == NOW - timedelta(seconds=300)
    assert value_of("$MemoryBytes.GetSamplePeriod()", samples) == TimeInterval(30 * SECOND)
    assert value_of("$MemoryBytes.GetSamplePeriod()", samples, sample_period=timedelta(minutes=1)) == TimeInterval(
        60 * SECOND
    )
    assert value_of("$DiskBytes.Count()") == 0.0
    assert value_of("$DiskBytes.HistoryBeginTime()") == NOW
    assert value_of("$DiskBytes.GetSamplePercent(TimeInterval_Minute)") == 0.0
    assert value_of("$DiskBytes.GetSamplePercent(TimeInterval_Zero)") == 100.0


@pytest.mark.parametrize(
    "name",
    [
        "$CPUPercent",
        "$WallClockSeconds",
        "$MemoryBytes",
        "$DiskBytes",
        "$DiskReadBytes",
        "$DiskWriteBytes",
        "$DiskReadOps",
        "$DiskWriteOps",
        "$NetworkInBytes",
        "$NetworkOutBytes",
        "$SampleNodeCount",
        "$ActiveTasks",
        "$RunningTasks",
        "$PendingTasks",
        "$SucceededTasks",
        "$FailedTasks",
        "$TaskSlotsPerNode",
        "$CurrentDedicatedNodes",
        "$CurrentLowPriorityNodes",
        "$UsableNodeCount",
        "$PreemptedNodeCount",
    ],
)
def test_every_read_only_variable_has_a_history(name: str) -> None:
    assert value_of(f"{name}.GetSample(2)", {name: history([60, 30, 0], [5, 6, 7])}) == (6.0, 7.0)


def test_scalar_service_variables() -> None:
    inputs: dict[str, Any] = {
        "current_dedicated": 3,
        "current_low_priority": 4,
        "task_slots_per_node": 8,
        "usable_node_count": 6,
        "preempted_node_count": 1,
    }
    formula = "a = $CurrentDedicatedNodes; b = $CurrentLowPriorityNodes; c = $TaskSlotsPerNode; d = $UsableNodeCount; "
    formula += "e = $PreemptedNodeCount; f = $CurrentDedicated; g = $CurrentLowPriority"
    result = run(formula, **inputs)
    assert result.error is None
    assert [result.variables[k] for k in "abcdefg"] == [3.0, 4.0, 8.0, 6.0, 1.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("$CPUPercent.GetSample(-1)", "non-negative"),
        ("$CPUPercent.GetSample(1, 50)", "GetSample(count) takes a single argument"),
        ('$CPUPercent.GetSample("a")', "must be a timestamp or timeinterval, got string"),
        ("$CPUPercent.GetSample(TimeInterval_Minute, [1])", "got doubleVec"),
        ("$CPUPercent.GetSample(TimeInterval_Minute, TimeInterval_Hour, time())", "sample percent must be a double"),
        ("$CPUPercent.GetSamplePercent(1)", "got double"),
        ("$CPUPercent.GetSample(TimeInterval_Year * 1e9)", "interval out of range"),
    ],
)
def test_sample_method_errors(expression: str, fragment: str) -> None:
    result = run(f"x = {expression}")
    assert result.error is not None
    assert result.error.code == EVALUATION_ERROR
    assert fragment in result.error.values[0][1]


# -- targets, aliases, results ---------------------------------------------------------------------------------------


def test_targets_start_from_the_pools_values() -> None:
    result = run("x = $TargetDedicatedNodes + $TargetLowPriorityNodes", target_dedicated=3, target_low_priority=2)
    assert (result.target_dedicated, result.target_low_priority) == (3, 2)
    assert result.results == ("$TargetDedicatedNodes=3;$TargetLowPriorityNodes=2;$NodeDeallocationOption=requeue;x=5")


def test_fractional_targets_truncate() -> None:
    result = run("$TargetDedicatedNodes = 2.99; $TargetLowPriorityNodes = 0.5")
    assert (result.target_dedicated, result.target_low_priority) == (2, 0)
    assert result.results.startswith("$TargetDedicatedNodes=2.99;$TargetLowPriorityNodes=0.5;")


def test_aliases_and_precedence_of_the_full_name() -> None:
    result = run("$TargetDedicated = 5; $TargetLowPriority = 6")
    assert (result.target_dedicated, result.target_low_priority) == (5, 6)
    assert result.results == "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=6;$NodeDeallocationOption=requeue"
    assert dict(result.variables) == {"$TargetDedicated": 5.0, "$TargetLowPriority": 6.0}
    result = run("$TargetDedicatedNodes = 2; $TargetDedicated = 5")
    assert result.target_dedicated == 2


@pytest.mark.parametrize("option", ["requeue", "terminate", "taskcompletion", "retaineddata"])
def test_deallocation_options(option: str) -> None:
    assert run(f"$NodeDeallocationOption = {option}").node_deallocation_option == option
    assert run(f'$NodeDeallocationOption = "{option}"').node_deallocation_option == option


def test_deallocation_option_defaults_to_the_pools() -> None:
    result = run("x = $NodeDeallocationOption", node_deallocation_option="terminate")
    assert result.variables["x"] == "terminate"
    assert result.node_deallocation_option == "terminate"


@pytest.mark.parametrize(
    ("formula", "fragment", "column"),
    [
        ("$NodeDeallocationOption = 1", "must be one of requeue, terminate, taskcompletion, retaineddata, got 1", 1),
        ('x = 1; $NodeDeallocationOption = "drain"', "got drain", 8),
        ("$TargetDedicatedNodes = -1", "finite, non-negative number, got -1", 1),
        ("x = 0;  $TargetLowPriorityNodes = 1 / 0", "got Infinity", 9),
        ("$TargetDedicated = 0 / 0", "$TargetDedicatedNodes must be a finite, non-negative number, got NaN", 1),
        ('$TargetDedicatedNodes = "3"', "must be a double, got string", 1),
        ("$TargetDedicatedNodes = [1, 2]", "must be a double, got doubleVec", 1),
    ],
)
def test_invalid_final_values_fail_the_run(formula: str, fragment: str, column: int) -> None:
    result = run(formula, target_dedicated=7, target_low_priority=1, node_deallocation_option="terminate")
    assert result.error is not None
    assert result.error.code == EVALUATION_ERROR
    assert result.error.message == "Autoscale evaluation failed"
    ((name, message),) = result.error.values
    assert name == "Message"
    assert message.startswith(f"Line 1, Col {column}: ")
    assert fragment in message
    # nothing changes on the pool
    assert (result.target_dedicated, result.target_low_priority, result.node_deallocation_option) == (
        7,
        1,
        "terminate",
    )


def test_an_error_keeps_the_results_assigned_before_it() -> None:
    result = run("$TargetDedicatedNodes = 5; b = 2;\nc = nope; d = 4", target_dedicated=1)
    assert result.error is not None
    assert result.error.values == (("Message", "Line 2, Col 5: variable nope is used before it is assigned"),)
    assert result.target_dedicated == 1
    assert result.results == "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;b=2"


def test_results_list_user_variables_sorted_by_name() -> None:
    result = run("zeta = 1; $beta = 2; alpha = 3; Alpha = 4; $TargetLowPriorityNodes = 1; zeta = 5")
    assert result.results == (
        "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=1;$NodeDeallocationOption=requeue;"
        "$beta=2;Alpha=4;alpha=3;zeta=5"
    )


def test_sample_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sample_period"):
        evaluate(parse("x = 1"), EvaluationInputs(now=NOW, sample_period=timedelta(0)))
