"""Sample histories and the sample methods: GetSample, GetSamplePercent, GetSamplePeriod, Count, HistoryBeginTime.

A window is (start, end]. Interval arguments look back from "now": `GetSample(1 * TimeInterval_Minute,
6 * TimeInterval_Minute)` is the window from 6 minutes ago to 1 minute ago; timestamp arguments are absolute;
the two bounds may come in either order. The sample percent of a window is the number of samples in it divided
by the number the service would have recorded (window length / sample period), times 100, capped at 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from batchite.autoscale.errors import INSUFFICIENT_SAMPLE_DATA
from batchite.autoscale.values import RuntimeValue, TimeInterval, as_utc, format_double, type_name

Sample = tuple[datetime, float]


@runtime_checkable
class SampleSource(Protocol):
    """What the service implements to feed metric histories to a formula.

    `samples(name)` gets the variable's name without the `$` ("CPUPercent", "PendingTasks") and returns its
    (timestamp, value) samples, oldest first. The evaluator sorts them anyway and ignores samples later than
    the evaluation time; an unknown name or a metric with no data returns [].
    """

    def samples(self, name: str) -> Sequence[Sample]: ...


class StaticSamples:
    """A SampleSource over a mapping; keys may be written with or without the `$`."""

    def __init__(self, histories: Mapping[str, Sequence[Sample]] | None = None) -> None:
        self._histories = {key.lstrip("$"): list(value) for key, value in (histories or {}).items()}

    def samples(self, name: str) -> Sequence[Sample]:
        return self._histories.get(name.lstrip("$"), [])


class SampleError(Exception):
    """A sample method failed; `code` is InsufficientSampleData or None for a generic evaluation error."""

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class History:
    """One variable's samples, sorted oldest first, none later than `now`."""

    name: str
    samples: tuple[Sample, ...]
    now: datetime
    period: timedelta

    @classmethod
    def load(cls, source: SampleSource, name: str, now: datetime, period: timedelta) -> History:
        raw = source.samples(name.lstrip("$"))
        cleaned = [(as_utc(moment), float(value)) for moment, value in raw]
        cleaned = [sample for sample in cleaned if sample[0] <= now]
        cleaned.sort(key=lambda sample: sample[0])
        return cls(name, tuple(cleaned), now, period)

    def bound(self, value: RuntimeValue, which: str) -> datetime:
        if isinstance(value, datetime):
            return as_utc(value)
        if isinstance(value, TimeInterval):
            try:
                return self.now - value.to_timedelta()
            except OverflowError as exc:
                raise SampleError(f"the {which} time of the sample window is out of range") from exc
        raise SampleError(f"the {which} of a sample window must be a timestamp or timeinterval, got {type_name(value)}")

    def window(self, start: RuntimeValue, end: RuntimeValue | None) -> tuple[datetime, datetime]:
        first = self.bound(start, "start")
        second = self.now if end is None else self.bound(end, "end")
        return (first, second) if first <= second else (second, first)

    def in_window(self, low: datetime, high: datetime) -> tuple[float, ...]:
        return tuple(value for moment, value in self.samples if low < moment <= high)

    def percent(self, low: datetime, high: datetime, found: int) -> float:
        expected = math.floor((high - low) / self.period)
        if expected <= 0:
            return 100.0
        return min(100.0, found * 100.0 / expected)

    def get_sample(self, args: Sequence[RuntimeValue]) -> tuple[float, ...]:
        first = args[0]
        if isinstance(first, float):
            if len(args) > 1:
                raise SampleError("GetSample(count) takes a single argument")
            if not math.isfinite(first) or first < 0:
                raise SampleError(f"GetSample count must be a non-negative number, got {format_double(first)}")
            count = int(first)
            return tuple(value for _, value in self.samples[max(0, len(self.samples) - count) :]) if count else ()
        end: RuntimeValue | None = None
        wanted: RuntimeValue | None = None
        if len(args) == 2:
            (end, wanted) = (None, args[1]) if isinstance(args[1], float) else (args[1], None)
        elif len(args) == 3:
            end, wanted = args[1], args[2]
        low, high = self.window(first, end)
        values = self.in_window(low, high)
        if wanted is not None:
            if not isinstance(wanted, float):
                raise SampleError(f"the sample percent must be a double, got {type_name(wanted)}")
            received = self.percent(low, high, len(values))
            if received < wanted:
                raise SampleError(
                    f"Insufficient data from data set: {self.name} wanted {format_double(wanted)}%, "
                    f"received {format_double(float(math.floor(received)))}%",
                    INSUFFICIENT_SAMPLE_DATA,
                )
        return values

    def get_sample_percent(self, args: Sequence[RuntimeValue]) -> float:
        low, high = self.window(args[0], args[1] if len(args) > 1 else None)
        return self.percent(low, high, len(self.in_window(low, high)))

    def history_begin_time(self) -> datetime:
        """The oldest sample's time; the evaluation time when there are none."""
        return self.samples[0][0] if self.samples else self.now


def call_method(history: History, name: str, args: Sequence[RuntimeValue]) -> RuntimeValue:
    if name == "GetSample":
        return history.get_sample(args)
    if name == "GetSamplePercent":
        return history.get_sample_percent(args)
    if name == "GetSamplePeriod":
        return TimeInterval.from_timedelta(history.period)
    if name == "Count":
        return float(len(history.samples))
    if name == "HistoryBeginTime":
        return history.history_begin_time()
    raise SampleError(f"unknown sample method '{name}'")
