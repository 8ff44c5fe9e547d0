"""Runtime values and their text form in `autoScaleRun.results`.

double -> float, doubleVec -> tuple[float, ...], string -> str, timestamp -> aware datetime (UTC),
timeinterval -> TimeInterval (100 ns ticks, like .NET TimeSpan), and a read-only service variable used as the
receiver of a sample method -> SampledVariable.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime

from batchite.autoscale.catalog import TICKS_PER_SECOND

MAX_TICKS = 2**63 - 1


@dataclass(frozen=True, order=True)
class TimeInterval:
    ticks: int

    @classmethod
    def from_timedelta(cls, delta: timedelta) -> TimeInterval:
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(micros * 10)

    def to_timedelta(self) -> timedelta:
        return timedelta(microseconds=self.ticks // 10)


@dataclass(frozen=True)
class SampledVariable:
    """A read-only service variable such as $CPUPercent: only its sample methods give values."""

    name: str


Value = float | tuple[float, ...] | str | datetime | TimeInterval
RuntimeValue = Value | SampledVariable


def type_name(value: RuntimeValue) -> str:
    if isinstance(value, float):
        return "double"
    if isinstance(value, tuple):
        return "doubleVec"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, TimeInterval):
        return "timeinterval"
    return f"sample data set {value.name}"


def checked_ticks(ticks: float) -> int | None:
    """Round a tick count; None when it is not finite or does not fit a TimeSpan."""
    if not math.isfinite(ticks):
        return None
    rounded = round(ticks)
    return rounded if -MAX_TICKS <= rounded <= MAX_TICKS else None


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- text form -----------------------------------------------------------------------------------------------------


def format_double(value: float) -> str:
    """Like .NET's shortest round-trip double text: 5, 0.5, 1E+15, 1E-05, NaN, Infinity."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" not in text and abs(value) < 1e15:
        return text
    sign, digits, exponent = Decimal(text).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(str(d) for d in digits)
    power = exponent + len(mantissa) - 1
    body = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    return f"{'-' if sign else ''}{body}E{'+' if power >= 0 else '-'}{abs(power):02d}"


def format_interval(interval: TimeInterval) -> str:
    """.NET TimeSpan's constant format: [-][d.]hh:mm:ss[.fffffff]."""
    ticks = abs(interval.ticks)
    days, rest = divmod(ticks, 86400 * TICKS_PER_SECOND)
    hours, rest = divmod(rest, 3600 * TICKS_PER_SECOND)
    minutes, rest = divmod(rest, 60 * TICKS_PER_SECOND)
    seconds, fraction = divmod(rest, TICKS_PER_SECOND)
    text = f"{'-' if interval.ticks < 0 else ''}{f'{days}.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text + (f".{fraction:07d}" if fraction else "")


def format_timestamp(moment: datetime) -> str:
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def format_value(value: Value) -> str:
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, tuple):
        return "[" + ",".join(format_double(item) for item in value) + "]"
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, TimeInterval):
        return format_interval(value)
    return value


# -- time("...") ---------------------------------------------------------------------------------------------------

_W3C_DTF = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,7}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2}))?)?)?"
)
_RFC_1123 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (?:GMT|UT|UTC|Z|[+-]\d{4})")


def parse_time_string(text: str) -> datetime | None:
    """A W3C-DTF (ISO 8601 profile) or RFC 1123 date-time, as UTC; None when it is neither."""
    text = text.strip()
    match = _W3C_DTF.fullmatch(text)
    if match:
        return _from_w3c(match)
    if _RFC_1123.fullmatch(text):
        try:
            return as_utc(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return None


def _from_w3c(match: re.Match[str]) -> datetime | None:
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(7, "0")
    try:
        moment = datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction) // 10,
            tzinfo=UTC,
        )
        zone = parts["zone"]
        if zone and zone != "Z":
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            moment = moment - offset if zone[0] == "+" else moment + offset
        return moment
    except (ValueError, OverflowError):
        return None
