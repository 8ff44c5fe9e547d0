# ruff: noqa: E501 - the documented formulas are quoted verbatim, long lines included
"""The example formulas of the Azure docs ("Create a formula to automatically scale compute nodes in a Batch
pool", the Pool autoscale event and Evaluate-autoscale REST pages), run on sample histories built here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from batchite.autoscale import EvaluationInputs, EvaluationResult, StaticSamples, evaluate, parse, unparse

NOW = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)  # a Monday, noon UTC

PENDING_TASKS = """startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;"""

PREEMPTED_NODES = """maxNumberofVMs = 25;
$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));
$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);
$NodeDeallocationOption = taskcompletion;"""

CPU_BASED = """$totalDedicatedNodes =
    (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ?
    ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;
$totalDedicatedNodes =
    (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ?
    ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;
$TargetDedicatedNodes = min(400, $totalDedicatedNodes)"""

TIME_OF_DAY = """$curTime = time();
$workHours = $curTime.hour >= 8 && $curTime.hour < 18;
$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
$isWorkingWeekdayHour = $workHours && $isWeekday;
$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;
$NodeDeallocationOption = taskcompletion;"""

TASK_BASED = """// Get pending tasks for the past 15 minutes.
$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);
// If we have fewer than 70 percent data points, we use the last sample point,
// otherwise we use the maximum of last sample point and the history average.
$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));
// If number of pending tasks is not 0, set targetVM to pending tasks, otherwise
// half of current dedicated.
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
// The pool size is capped at 20, if target VM value is more than that, set it
// to 20. This value should be adjusted according to your use case.
$TargetDedicatedNodes = max(0, min($targetVMs, 20));
// Set node deallocation mode - let running tasks finish before removing a node
$NodeDeallocationOption = taskcompletion;"""

PARALLEL_TASKS = """// Determine whether 70 percent of the samples have been recorded in the past
// 15 minutes; if not, use last sample
$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
// Set the number of nodes to add to one-fourth the number of active tasks
$cores = $TargetDedicatedNodes * 4;
$extraVMs = (($tasks - $cores) + 3) / 4;
$targetVMs = ($TargetDedicatedNodes + $extraVMs);
// Attempt to grow the number of compute nodes to match the number of active
// tasks, with a maximum of 3
$TargetDedicatedNodes = max(0,min($targetVMs,3));
// Keep the nodes active until the tasks finish
$NodeDeallocationOption = taskcompletion;"""

INITIAL_SIZE = """
    $TargetDedicatedNodes = 4;
    lifespan         = time() - time("Mon, 06 May 2024 11:00:00 GMT");
    span             = TimeInterval_Minute * 60;
    startup          = TimeInterval_Minute * 10;
    ratio            = 50;

    $TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : 4);
    """

POWERSHELL = (
    "totalNodes=($CPUPercent.GetSamplePercent(TimeInterval_Minute*0,TimeInterval_Minute*10)<0.7?5:"
    "(min($CPUPercent.GetSample(TimeInterval_Minute*0, TimeInterval_Minute*10))>0.8?($CurrentDedicated*1.1):"
    "$CurrentDedicated));$TargetDedicated=min(100,totalNodes);"
)

ALL_EXAMPLES = [
    PENDING_TASKS,
    PREEMPTED_NODES,
    CPU_BASED,
    TIME_OF_DAY,
    TASK_BASED,
    PARALLEL_TASKS,
    INITIAL_SIZE,
    POWERSHELL,
]


def every(seconds: int, values: Sequence[float], end: datetime = NOW) -> list[tuple[datetime, float]]:
    """Samples `seconds` apart ending at `end`, oldest first, with the given values."""
    count = len(values)
    return [(end - timedelta(seconds=seconds * (count - 1 - i)), float(v)) for i, v in enumerate(values)]


def run(formula: str, now: datetime = NOW, **kwargs: object) -> EvaluationResult:
    histories = kwargs.pop("histories", {})
    assert isinstance(histories, dict)
    inputs = EvaluationInputs(now=now, samples=StaticSamples(histories), **kwargs)  # type: ignore[arg-type]
    return evaluate(parse(formula), inputs)


@pytest.mark.parametrize("formula", ALL_EXAMPLES)
def test_examples_parse_and_round_trip(formula: str) -> None:
    program = parse(formula)
    assert parse(unparse(program)) == program


def test_pending_tasks_with_full_history_averages_the_last_three_minutes() -> None:
    # 6 samples in the 180 s window (100%), average 12.5; one older sample outside the window is ignored.
    history = every(30, [99, 10, 11, 12, 13, 14, 15])
    result = run(PENDING_TASKS, histories={"PendingTasks": history})
    assert result.error is None
    assert result.target_dedicated == 12
    assert result.node_deallocation_option == "taskcompletion"
    assert result.results == (
        "$TargetDedicatedNodes=12.5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;"
        "maxNumberofVMs=25;pendingTaskSamplePercent=100;pendingTaskSamples=12.5;startingNumberOfVMs=1"
    )


def test_pending_tasks_caps_at_max_vms() -> None:
    result = run(PENDING_TASKS, histories={"PendingTasks": every(30, [400] * 6)})
    assert result.target_dedicated == 25


def test_pending_tasks_with_sparse_history_uses_the_starting_size() -> None:
    # 4 of the 6 expected samples: 66.67% < 70, so startingNumberOfVMs.
    result = run(PENDING_TASKS, histories={"PendingTasks": every(30, [50] * 4)})
    assert result.error is None
    assert result.target_dedicated == 1
    assert "pendingTaskSamplePercent=66.66666666666667;pendingTaskSamples=1;" in result.results


def test_pending_tasks_with_no_history_matches_the_documented_results_string() -> None:
    # The shape of a real autoScaleRun.results for this formula on an idle pool.
    result = run(PENDING_TASKS.replace("taskcompletion", "requeue"))
    assert result.results == (
        "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "maxNumberofVMs=25;pendingTaskSamplePercent=0;pendingTaskSamples=1;startingNumberOfVMs=1"
    )


def test_preempted_nodes_are_replaced_with_dedicated_ones() -> None:
    result = run(PREEMPTED_NODES, histories={"PreemptedNodeCount": every(30, [3, 3, 4, 4, 4, 5])})
    assert result.error is None
    assert (result.target_dedicated, result.target_low_priority) == (3, 22)


def test_cpu_based_grows_by_ten_percent_when_busy() -> None:
    history = every(30, [0.9] * 120)
    result = run(CPU_BASED, current_dedicated=10, histories={"CPUPercent": history})
    assert result.error is None
    assert result.variables["$totalDedicatedNodes"] == pytest.approx(11.0)
    assert result.target_dedicated == 11


def test_cpu_based_shrinks_by_ten_percent_when_idle() -> None:
    history = every(30, [0.1] * 120)
    result = run(CPU_BASED, current_dedicated=10, histories={"CPUPercent": history})
    assert result.target_dedicated == 9
    assert result.results.startswith("$TargetDedicatedNodes=9;")


def test_cpu_based_keeps_the_size_in_between_and_caps_at_400() -> None:
    history = every(30, [0.5] * 120)
    assert run(CPU_BASED, current_dedicated=10, histories={"CPUPercent": history}).target_dedicated == 10
    busy = every(30, [0.99] * 120)
    assert run(CPU_BASED, current_dedicated=1000, histories={"CPUPercent": busy}).target_dedicated == 400


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 5, 6, 12, 0, tzinfo=UTC), 20),  # Monday noon
        (datetime(2024, 5, 10, 17, 59, tzinfo=UTC), 20),  # Friday 17:59
        (datetime(2024, 5, 6, 18, 0, tzinfo=UTC), 10),  # Monday 18:00
        (datetime(2024, 5, 6, 7, 59, tzinfo=UTC), 10),  # Monday 07:59
        (datetime(2024, 5, 11, 12, 0, tzinfo=UTC), 10),  # Saturday
        (datetime(2024, 5, 12, 12, 0, tzinfo=UTC), 10),  # Sunday
    ],
)
def test_time_of_day(now: datetime, expected: int) -> None:
    result = run(TIME_OF_DAY, now=now)
    assert result.error is None
    assert result.target_dedicated == expected


def test_time_of_day_results_match_the_documented_layout() -> None:
    now = datetime(2016, 10, 14, 18, 36, 43, 282000, tzinfo=UTC)  # the docs' sample run
    result = run(TIME_OF_DAY.replace("taskcompletion", "requeue"), now=now)
    assert result.results == (
        "$TargetDedicatedNodes=10;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "$curTime=2016-10-14T18:36:43.282Z;$isWeekday=1;$isWorkingWeekdayHour=0;$workHours=0"
    )


def test_task_based_follows_pending_tasks() -> None:
    history = every(30, [6] * 30)
    result = run(TASK_BASED, histories={"PendingTasks": history})
    assert result.target_dedicated == 6
    result = run(TASK_BASED, histories={"PendingTasks": every(30, [60] * 30)})
    assert result.target_dedicated == 20


def test_task_based_halves_the_pool_when_idle() -> None:
    result = run(TASK_BASED, target_dedicated=8, histories={"PendingTasks": every(30, [0] * 30)})
    assert result.error is None
    assert result.target_dedicated == 4


def test_parallel_tasks_rounds_up_with_integer_division() -> None:
    # 1 node x 4 slots, 9 active tasks: (9 - 4 + 3) / 4 = 2 extra -> 3, the cap.
    result = run(PARALLEL_TASKS, target_dedicated=1, histories={"ActiveTasks": every(30, [9] * 30)})
    assert result.error is None
    assert result.variables["$extraVMs"] == 2.0
    assert result.target_dedicated == 3
    # 2 active tasks on an empty pool: (2 + 3) / 4 = 1.25 -> 1 node.
    result = run(PARALLEL_TASKS, histories={"ActiveTasks": every(30, [2] * 30)})
    assert result.target_dedicated == 1


def test_initial_size_holds_during_startup() -> None:
    # The pool is 20 minutes old: past startup; no running/active tasks in the last hour -> 0.
    now = datetime(2024, 5, 6, 11, 20, tzinfo=UTC)
    idle = every(30, [0] * 120, end=now)
    result = run(INITIAL_SIZE, now=now, histories={"RunningTasks": idle, "ActiveTasks": idle})
    assert result.error is None
    assert result.target_dedicated == 0
    # Five minutes old: still in startup, so 4.
    result = run(INITIAL_SIZE, now=datetime(2024, 5, 6, 11, 5, tzinfo=UTC))
    assert result.target_dedicated == 4


def test_initial_size_fails_on_insufficient_samples() -> None:
    result = run(INITIAL_SIZE, now=datetime(2024, 5, 6, 11, 20, tzinfo=UTC))
    assert result.error is not None
    assert result.error.code == "InsufficientSampleData"
    assert result.error.message == "Autoscale evaluation failed due to insufficient sample data"
    (name, value), *_ = result.error.values
    assert name == "Message"
    assert value.endswith("Insufficient data from data set: $RunningTasks wanted 50%, received 0%")
    assert value.startswith("Line 8, Col ")
    assert result.target_dedicated == 0  # the pool's target is left alone


def test_powershell_example_uses_the_legacy_names() -> None:
    history = every(30, [0.9] * 20)
    result = run(POWERSHELL, current_dedicated=3, histories={"CPUPercent": history})
    assert result.error is None
    assert result.target_dedicated == 3
    # 3 * 1.1 is 3.3000000000000003 in doubles; results show the shortest round-trip text, as .NET does.
    assert result.results == (
        "$TargetDedicatedNodes=3.3000000000000003;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "totalNodes=3.3000000000000003"
    )
