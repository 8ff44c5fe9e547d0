"""Autoscale formulas: operators on each documented type pair, every function, time and values' text."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from batchite.autoscale import EVALUATION_ERROR, EvaluationInputs, EvaluationResult, TimeInterval, evaluate, parse
from batchite.autoscale.values import format_double, format_interval, parse_time_string

NOW = datetime(2024, 5, 6, 12, 30, 15, tzinfo=UTC)  # Monday
SECOND = 10_000_000  # ticks
YEAR = 365 * 86400 * SECOND


def run(formula: str, **kwargs: object) -> EvaluationResult:
    return evaluate(parse(formula), EvaluationInputs(now=NOW, **kwargs))  # type: ignore[arg-type]


def value_of(expression: str, **kwargs: object) -> object:
    result = run(f"x = {expression};", **kwargs)
    assert result.error is None, result.error
    return result.variables["x"]


def error_of(expression: str) -> str:
    result = run(f"x = {expression};")
    assert result.error is not None, f"{expression} evaluated to {result.variables.get('x')!r}"
    assert result.error.code == EVALUATION_ERROR
    (name, message), *_ = result.error.values
    assert name == "Message"
    assert message.startswith("Line 1, Col ")
    return message


# -- operators -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2", 3.0),
        ("1 - 2", -1.0),
        ("3 * 2", 6.0),
        ("3 / 2", 1.5),
        ("2 * TimeInterval_Second", TimeInterval(2 * SECOND)),
        ("[1, 2] + 1", (2.0, 3.0)),
        ("[1, 2] - 1", (0.0, 1.0)),
        ("[1, 2] * 3", (3.0, 6.0)),
        ("[1, 2] / 2", (0.5, 1.0)),
        ("[1, 2] + [10, 20]", (11.0, 22.0)),
        ("[1, 2] - [10, 20]", (-9.0, -18.0)),
        ("[1, 2] * [10, 20]", (10.0, 40.0)),
        ("[1, 2] / [10, 20]", (0.1, 0.1)),
        ("TimeInterval_Minute * 2", TimeInterval(120 * SECOND)),
        ("TimeInterval_Minute / 4", TimeInterval(15 * SECOND)),
        ("TimeInterval_Minute * 1.5", TimeInterval(90 * SECOND)),
        ("TimeInterval_Minute + TimeInterval_Second", TimeInterval(61 * SECOND)),
        ("TimeInterval_Minute - TimeInterval_Second", TimeInterval(59 * SECOND)),
        ("TimeInterval_Hour + time()", NOW + timedelta(hours=1)),
        ("time() + TimeInterval_Hour", NOW + timedelta(hours=1)),
        ("time() + -TimeInterval_Day", NOW - timedelta(days=1)),
        ('time() - time("2024-05-06T12:00:00Z")', TimeInterval(1815 * SECOND)),
        ("-2", -2.0),
        ("!2", 0.0),
        ("!0", 1.0),
        ("-TimeInterval_Second", TimeInterval(-SECOND)),
        ('"abc" < "abd"', 1.0),
        ('"abc" == "abc"', 1.0),
        ('"B" < "a"', 1.0),
        ('time() > time("2024-01-01")', 1.0),
        ('time() == time("Mon, 06 May 2024 12:30:15 GMT")', 1.0),
        ("TimeInterval_Hour >= TimeInterval_Minute * 60", 1.0),
        ("TimeInterval_Hour != TimeInterval_Minute", 1.0),
        ("2 <= 2", 1.0),
        ("2 >= 3", 0.0),
        ("2 > 1", 1.0),
        ("0.5 && 2", 1.0),
        ("0 || 0", 0.0),
    ],
)
def test_documented_operations(expression: str, expected: object) -> None:
    assert value_of(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "1 + TimeInterval_Second",  # double + timeinterval: only * is listed
        "2 / TimeInterval_Second",
        "1 + [1, 2]",  # double op doubleVec is not in the table (doubleVec op double is)
        "[1] < [2]",  # no comparison of doubleVecs
        "-[1, 2]",
        "![1]",
        "[1, 2] + [1, 2, 3]",
        "time() - TimeInterval_Hour",  # timestamp - timeinterval is not listed; the docs add a negative interval
        "time() + time()",
        "time() * 2",
        "TimeInterval_Hour * TimeInterval_Hour",
        "TimeInterval_Hour / TimeInterval_Minute",
        "TimeInterval_Hour - time()",
        '"a" + "b"',
        '"a" < 1',
        "time() < 1",
        "!TimeInterval_Second",
        '"x" && 1',
        "0 || [1]",
        "[1] ? 1 : 2",
        "TimeInterval_Second ? 1 : 2",
        "TimeInterval_Year * 1e300",
        "time() + TimeInterval_Year * 100000",
    ],
)
def test_undocumented_operations_fail(expression: str) -> None:
    error_of(expression)


def test_division_by_zero_follows_ieee() -> None:
    result = run("a = 1 / 0; b = -1 / 0; c = 0 / 0; d = [1, 0] / 0; e = TimeInterval_Second / 2")
    assert result.error is None
    assert result.results.endswith(";a=Infinity;b=-Infinity;c=NaN;d=[Infinity,NaN];e=00:00:00.5000000")
    assert error_of("TimeInterval_Second / 0").endswith("time interval out of range")


def test_short_circuit_and_lazy_ternary() -> None:
    # the unevaluated sides would fail (an undefined variable, a type error)
    assert value_of("0 && undefined") == 0.0
    assert value_of("1 || undefined") == 1.0
    assert value_of("1 ? 5 : undefined") == 5.0
    assert value_of("0 ? time() * 2 : 6") == 6.0


# -- functions -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("avg(1, 2, 3)", 2.0),
        ("avg([1, 2, 3], 7)", 3.25),
        ("len([1, 2, 3], 4, [])", 4.0),
        ("len()", 0.0),
        ("max(1, [7, 3], 2)", 7.0),
        ("min(1, [7, -3], 2)", -3.0),
        ("norm(3, 4)", 5.0),
        ("norm()", 0.0),
        ("range([4, 9, 1])", 8.0),
        ("std(2, 4, 4, 4, 5, 5, 7, 9)", math.sqrt(32 / 7)),
        ("std(5)", 0.0),
        ("sum([1, 2], 3)", 6.0),
        ("sum()", 0.0),
        ("lg(8)", 3.0),
        ("lg([8, 2])", (3.0, 1.0)),
        ("lg(8, 2)", (3.0, 1.0)),
        ("ln(1)", 0.0),
        ("ln([1])", (0.0,)),
        ("log(1000)", pytest.approx(3.0)),
        ("log([100, 10])", (2.0, 1.0)),
        ("log(0)", -math.inf),
        ("ceil(1.2)", 2.0),
        ("ceil(-1.2)", -1.0),
        ("ceil([1.2, 2])", (2.0, 2.0)),
        ("floor(1.8)", 1.0),
        ("floor(-1.2)", -2.0),
        ("floor([1.8])", (1.0,)),
        ("round(2.5)", 3.0),
        ("round(-2.5)", -3.0),
        ("round(2.4)", 2.0),
        ("round(0.49999999999999994)", 0.0),
        ("round([0.5, 1.5, -0.5])", (1.0, 2.0, -1.0)),
        ("percentile([15, 20, 35, 40, 50], 40)", 20.0),
        ("percentile([15, 20, 35, 40, 50], 0)", 15.0),
        ("percentile([50, 40, 35, 20, 15], 100)", 50.0),
        ("percentile([3, 1, 2], 50)", 2.0),
        ("percentile(4, 50)", 4.0),
        ("val([10, 20, 30], 0)", 10.0),
        ("val([10, 20, 30], 2)", 30.0),
        ("val([10, 20, 30], 1.9)", 20.0),
    ],
)
def test_functions(expression: str, expected: object) -> None:
    assert value_of(expression) == expected


def test_log_of_negative_is_nan() -> None:
    value = value_of("ln(-1)")
    assert isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("avg()", "avg of an empty doubleVecList"),
        ("max([])", "max of an empty"),
        ("min()", "min of an empty"),
        ("range()", "range of an empty"),
        ("std([])", "std of an empty"),
        ('avg("a")', "avg takes doubles and doubleVecs, got string"),
        ("sum(time())", "got timestamp"),
        ("ceil(TimeInterval_Second)", "got timeinterval"),
        ("percentile([1, 2], 101)", "between 0 and 100"),
        ("percentile([], 50)", "empty doubleVec"),
        ("percentile([1], [50])", "must be a double"),
        ("val([1, 2], 2)", "outside a doubleVec of length 2"),
        ("val([1, 2], -1)", "outside"),
        ("val([1, 2], 0 / 0)", "outside"),
        ("val(1, [0])", "val takes (doubleVec, double)"),
        ("time(5)", "time takes a string, got double"),
        ('time("yesterday")', "neither a W3C-DTF nor an RFC 1123"),
        ('time("2024-02-30T00:00:00Z")', "neither"),
        ('time("2024-05-06T12:00:00.123456789Z")', "neither"),
        ("[1, time()]", "a doubleVec cannot hold a timestamp"),
        ("$CPUPercent", "$CPUPercent is a sample data set"),
        ("avg($CPUPercent)", "sample data set"),
        ("undefinedName + 1", "variable undefinedName is used before it is assigned"),
        ("time().year.hour", "'.hour' needs a timestamp, got double"),
        ("(1 ? 2 : 3).hour", "needs a timestamp"),
        ("(1 ? time() : 3).GetSample(1)", "GetSample() needs a sampled service variable, got timestamp"),
    ],
)
def test_function_and_value_errors(expression: str, fragment: str) -> None:
    assert fragment in error_of(expression)


def test_rand_uses_the_injected_generator() -> None:
    assert value_of("rand()", random=lambda: 0.25) == 0.25
    values = {value_of("rand()") for _ in range(5)}
    assert all(isinstance(v, float) and 0 <= v < 1 for v in values)


def test_stop_ends_the_run_keeping_earlier_assignments() -> None:
    result = run("$TargetDedicatedNodes = 4; x = 1; stop(); $TargetDedicatedNodes = 9; y = 2")
    assert result.error is None
    assert result.stopped
    assert result.target_dedicated == 4
    assert dict(result.variables) == {"$TargetDedicatedNodes": 4.0, "x": 1.0}
    result = run("$TargetLowPriorityNodes = $CurrentLowPriorityNodes > 2 ? stop() : 7", current_low_priority=5)
    assert result.stopped and result.target_low_priority == 0


# -- timestamps and time() -------------------------------------------------------------------------------------------


def test_timestamp_fields() -> None:
    result = run(
        "y = t.year; mo = t.month; d = t.day; w = t.weekday; h = t.hour; mi = t.minute; s = t.second; "
        'sun = time("2024-05-12").weekday; sat = time("2024-05-11").weekday',
    )
    assert result.error is not None  # t is not assigned
    result = run(
        't = time("2024-02-29T23:05:09+02:00"); y = t.year; mo = t.month; d = t.day; w = t.weekday; '
        'h = t.hour; mi = t.minute; s = t.second; sun = time("2024-05-12").weekday; sat = time("2024-05-11").weekday'
    )
    assert result.error is None
    variables = dict(result.variables)
    del variables["t"]
    assert variables == {
        "y": 2024.0,
        "mo": 2.0,
        "d": 29.0,
        "w": 4.0,  # Thursday (21:05 UTC)
        "h": 21.0,
        "mi": 5.0,
        "s": 9.0,
        "sun": 0.0,
        "sat": 6.0,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-05", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-06", datetime(2024, 5, 6, tzinfo=UTC)),
        ("2024-05-06T10:20Z", datetime(2024, 5, 6, 10, 20, tzinfo=UTC)),
        ("2024-05-06T10:20:30Z", datetime(2024, 5, 6, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-06T10:20:30.5-01:30", datetime(2024, 5, 6, 11, 50, 30, 500000, tzinfo=UTC)),
        ("2016-10-14T18:36:43.2820000Z", datetime(2016, 10, 14, 18, 36, 43, 282000, tzinfo=UTC)),
        ("Mon, 06 May 2024 10:20:30 GMT", datetime(2024, 5, 6, 10, 20, 30, tzinfo=UTC)),
        ("Mon, 06 May 2024 10:20:30 +0200", datetime(2024, 5, 6, 8, 20, 30, tzinfo=UTC)),
        ("2024-05-06T10:20:30", None),  # W3C-DTF needs a zone designator with a time
        ("06/05/2024", None),
        ("", None),
    ],
)
def test_time_strings(text: str, expected: datetime | None) -> None:
    assert parse_time_string(text) == expected


def test_time_without_argument_is_the_injected_now() -> None:
    assert value_of("time()") == NOW
    assert value_of('time("")') == NOW
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert evaluate(parse("x = time()"), EvaluationInputs(now=naive)).variables["x"] == naive.replace(tzinfo=UTC)


def test_time_interval_constants() -> None:
    names = ["Zero", "100ns", "Microsecond", "Millisecond", "Second", "Minute", "Hour", "Day", "Week", "Year"]
    result = run("; ".join(f"i{n} = TimeInterval_{n}" for n in names))
    assert [result.variables[f"i{n}"] for n in names] == [
        TimeInterval(t)
        for t in (0, 1, 10, 10_000, SECOND, 60 * SECOND, 3600 * SECOND, 86400 * SECOND, 604800 * SECOND, YEAR)
    ]


# -- text form -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (5.0, "5"),
        (-12.0, "-12"),
        (0.5, "0.5"),
        (2.75, "2.75"),
        (1 / 3, "0.3333333333333333"),
        (0.0001, "0.0001"),
        (0.00001, "1E-05"),
        (123456789012345.0, "123456789012345"),
        (1e15, "1E+15"),
        (1.5e15, "1.5E+15"),
        (-2.5e-7, "-2.5E-07"),
        (1e300, "1E+300"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
    ],
)
def test_double_text(value: float, text: str) -> None:
    assert format_double(value) == text


@pytest.mark.parametrize(
    ("ticks", "text"),
    [
        (0, "00:00:00"),
        (90 * SECOND, "00:01:30"),
        (86400 * SECOND + 5, "1.00:00:00.0000005"),
        (-3600 * SECOND, "-01:00:00"),
    ],
)
def test_interval_text(ticks: int, text: str) -> None:
    assert format_interval(TimeInterval(ticks)) == text


def test_results_text_of_every_type() -> None:
    result = run('s = "taskcompletion"; v = [1, 2.5]; e = []; t = time(); i = TimeInterval_Minute; d = 7')
    assert result.results == (
        "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;"
        "d=7;e=[];i=00:01:00;s=taskcompletion;t=2024-05-06T12:30:15.000Z;v=[1,2.5]"
    )
