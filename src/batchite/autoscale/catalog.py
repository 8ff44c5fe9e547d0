"""The language's fixed names: service variables, constants, functions, sample methods, timestamp fields."""

from __future__ import annotations

from datetime import timedelta

# Read-write service variables, in the order the service lists them first in `autoScaleRun.results`.
TARGET_DEDICATED = "$TargetDedicatedNodes"
TARGET_LOW_PRIORITY = "$TargetLowPriorityNodes"
NODE_DEALLOCATION_OPTION = "$NodeDeallocationOption"
READ_WRITE_VARIABLES = (TARGET_DEDICATED, TARGET_LOW_PRIORITY, NODE_DEALLOCATION_OPTION)

ALIASES = {"$TargetDedicated": TARGET_DEDICATED, "$TargetLowPriority": TARGET_LOW_PRIORITY}
"""Documented aliases; when both a name and its alias are assigned, the full name wins."""

# Read-only service variables whose values are sample histories (use them through the sample methods).
SAMPLED_VARIABLES = frozenset(
    {
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
    }
)

# Read-only service variables that also have a current value usable directly as a double.
SCALAR_VARIABLES = frozenset(
    {
        "$TaskSlotsPerNode",
        "$CurrentDedicatedNodes",
        "$CurrentLowPriorityNodes",
        "$UsableNodeCount",
        "$PreemptedNodeCount",
        "$CurrentDedicated",  # the pre-2017 name, still in the PowerShell examples
        "$CurrentLowPriority",
    }
)

READ_ONLY_VARIABLES = SAMPLED_VARIABLES | SCALAR_VARIABLES

TICKS_PER_SECOND = 10_000_000
"""A timeinterval counts 100-nanosecond ticks, like .NET's TimeSpan."""

TIME_INTERVALS = {
    "TimeInterval_Zero": 0,
    "TimeInterval_100ns": 1,
    "TimeInterval_Microsecond": 10,
    "TimeInterval_Millisecond": 10_000,
    "TimeInterval_Second": TICKS_PER_SECOND,
    "TimeInterval_Minute": 60 * TICKS_PER_SECOND,
    "TimeInterval_Hour": 3600 * TICKS_PER_SECOND,
    "TimeInterval_Day": 86400 * TICKS_PER_SECOND,
    "TimeInterval_Week": 7 * 86400 * TICKS_PER_SECOND,
    "TimeInterval_Year": 365 * 86400 * TICKS_PER_SECOND,
}

DEALLOCATION_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")
"""The values of $NodeDeallocationOption; in formulas they are bare words (`= taskcompletion;`)."""
DEFAULT_DEALLOCATION_OPTION = "requeue"

RESERVED_NAMES = frozenset(TIME_INTERVALS) | frozenset(DEALLOCATION_OPTIONS)
"""Bare words with a fixed meaning; they cannot be assigned."""

UNBOUNDED = -1
FUNCTIONS: dict[str, tuple[int, int]] = {
    "avg": (0, UNBOUNDED),
    "ceil": (1, UNBOUNDED),
    "floor": (1, UNBOUNDED),
    "len": (0, UNBOUNDED),
    "lg": (1, UNBOUNDED),
    "ln": (1, UNBOUNDED),
    "log": (1, UNBOUNDED),
    "max": (0, UNBOUNDED),
    "min": (0, UNBOUNDED),
    "norm": (0, UNBOUNDED),
    "percentile": (2, 2),
    "rand": (0, 0),
    "range": (0, UNBOUNDED),
    "round": (1, UNBOUNDED),
    "std": (0, UNBOUNDED),
    "stop": (0, 0),
    "sum": (0, UNBOUNDED),
    "time": (0, 1),
    "val": (2, 2),
}
"""Function name -> (fewest, most) arguments; UNBOUNDED for a doubleVecList."""

SAMPLE_METHODS: dict[str, tuple[int, int]] = {
    "GetSample": (1, 3),
    "GetSamplePercent": (1, 2),
    "GetSamplePeriod": (0, 0),
    "Count": (0, 0),
    "HistoryBeginTime": (0, 0),
}

TIMESTAMP_FIELDS = ("year", "month", "day", "weekday", "hour", "minute", "second")

DEFAULT_SAMPLE_PERIOD = timedelta(seconds=30)
"""The docs: "samples are recorded every 30 seconds"."""


def arity_text(bounds: tuple[int, int]) -> str:
    low, high = bounds
    if high == UNBOUNDED:
        return f"at least {low}"
    return str(low) if low == high else f"{low} to {high}"
