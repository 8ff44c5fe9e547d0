"""Autoscale formulas under fuzzing: arbitrary text and token soup only ever raise FormulaSyntaxError, evaluation
never raises, and generated well-formed formulas parse, round-trip through unparse and evaluate the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchite.autoscale import (
    EVALUATION_ERROR,
    INSUFFICIENT_SAMPLE_DATA,
    MAX_STATEMENTS,
    EvaluationInputs,
    EvaluationResult,
    FormulaSyntaxError,
    FormulaTooLongError,
    Program,
    StaticSamples,
    evaluate,
    parse,
    unparse,
)
from batchite.autoscale.catalog import FUNCTIONS, SAMPLED_VARIABLES, SCALAR_VARIABLES, TIME_INTERVALS, TIMESTAMP_FIELDS

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
HISTORY = [(NOW - timedelta(seconds=30 * i), float(i % 7)) for i in range(40)]
INPUTS = EvaluationInputs(
    now=NOW,
    samples=StaticSamples({"CPUPercent": HISTORY, "PendingTasks": HISTORY[::2], "ActiveTasks": HISTORY[:5]}),
    current_dedicated=3,
    target_dedicated=2,
    random=lambda: 0.5,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def try_parse(text: str) -> Program | None:
    try:
        return parse(text)
    except FormulaSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert error.line >= 1 and error.column >= 1
        assert error.message.startswith(f"Line {error.line}, Col {error.column}: ")
        return None


def check_run(program: Program) -> EvaluationResult:
    result = evaluate(program, INPUTS)
    assert result.results.startswith("$TargetDedicatedNodes=")
    assert result.target_dedicated >= 0 and result.target_low_priority >= 0
    if result.error is not None:
        assert result.error.code in (EVALUATION_ERROR, INSUFFICIENT_SAMPLE_DATA)
        assert result.error.values[0][1].startswith("Line ")
        assert result.target_dedicated == INPUTS.target_dedicated
    return result


# -- arbitrary text --------------------------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=200))
def test_random_text_only_raises_syntax_errors(text: str) -> None:
    program = try_parse(text)
    if program is not None:
        check_run(program)


FORMULA_ALPHABET = st.sampled_from([*"$abcxyz_019.+-*/%<>=!&|?:;,()[]\"' \n\t", "//", "TimeInterval_", "e"])


@FUZZ
@given(st.lists(FORMULA_ALPHABET, max_size=60).map("".join))
def test_formula_like_characters_only_raise_syntax_errors(text: str) -> None:
    program = try_parse(text)
    if program is not None:
        check_run(program)


OPERATOR_TOKENS = [
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "!",
    "&&",
    "||",
    "?",
    ":",
    ";",
    ",",
    ".",
    "(",
    ")",
    "[",
    "]",
]
VALUE_TOKENS = ["1", "0", "2.5", "1e3", '"s"', '"2024-05-06T00:00:00Z"', "x", "$y", "taskcompletion"]
SERVICE_TOKENS = ["$CPUPercent", "$PendingTasks", "$CurrentDedicatedNodes", "$TargetDedicatedNodes"]
METHOD_TOKENS = ["GetSample", "GetSamplePercent", "GetSamplePeriod", "Count", "HistoryBeginTime"]
TOKENS = [
    *OPERATOR_TOKENS,
    *VALUE_TOKENS,
    *SERVICE_TOKENS,
    *METHOD_TOKENS,
    *sorted(FUNCTIONS),
    *sorted(TIME_INTERVALS),
    *TIMESTAMP_FIELDS,
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from([" ", "", "\n"]))
def test_random_token_sequences_only_raise_syntax_errors(tokens: list[str], glue: str) -> None:
    program = try_parse(glue.join(tokens))
    if program is not None:
        check_run(program)
        assert parse(unparse(program)) == program


# -- well-formed formulas --------------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(0, 1000).map(str),
    st.floats(0, 1e6, allow_nan=False).map(lambda f: repr(f) if "e" not in repr(f) else "1.5"),
    st.sampled_from(["0.5", ".25", "1e3", "2E-2"]),
)
USER_NAMES = st.sampled_from(["a", "b", "$c", "total", "$TargetDedicatedNodes", "$TargetLowPriority"])
SAMPLED = st.sampled_from(sorted(SAMPLED_VARIABLES | SCALAR_VARIABLES))
INTERVALS = st.sampled_from(sorted(TIME_INTERVALS))
LIST_FUNCTIONS = [
    "avg",
    "len",
    "max",
    "min",
    "norm",
    "range",
    "std",
    "sum",
    "lg",
    "ln",
    "log",
    "ceil",
    "floor",
    "round",
]


def _call(name: str, args: list[str]) -> str:
    return f"{name}({', '.join(args)})"


ATOMS = st.one_of(
    NUMBERS,
    USER_NAMES,
    SAMPLED,
    INTERVALS,
    st.just("time()"),
    st.just('time("2024-05-06T10:00:00Z")'),
    st.just("rand()"),
    st.sampled_from(["requeue", "taskcompletion", '"terminate"']),
    st.builds(lambda f: f"time().{f}", st.sampled_from(TIMESTAMP_FIELDS)),
    st.builds(lambda v, i, m: f"{v}.GetSample({i} * {m})", SAMPLED, INTERVALS, st.integers(0, 20)),
    st.builds(lambda v, n: f"{v}.GetSample({n})", SAMPLED, st.integers(0, 50)),
    st.builds(lambda v, i, p: f"{v}.GetSample({i}, {p})", SAMPLED, INTERVALS, st.integers(0, 100)),
    st.builds(lambda v: f"{v}.GetSamplePercent(TimeInterval_Minute, TimeInterval_Minute * 5)", SAMPLED),
    st.builds(lambda v, m: f"{v}.{m}()", SAMPLED, st.sampled_from(["Count", "GetSamplePeriod", "HistoryBeginTime"])),
)

BINARY_OPS = st.sampled_from(["+", "-", "*", "/", "<", "<=", "==", "!=", ">=", ">", "&&", "||"])
SPACE = st.sampled_from([" ", "", "  ", "\n", " // note\n"])
SHAPES = ["binary", "paren", "unary", "ternary", "call", "percentile", "val", "vector", "field"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 4) -> str:
    """A syntactically valid expression (its types may well not fit: evaluation errors are fine)."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return draw(ATOMS)
    sub = expressions(depth - 1)
    shape = draw(st.sampled_from(SHAPES))
    if shape == "binary":
        space = draw(SPACE)
        return f"{draw(sub)}{space}{draw(BINARY_OPS)}{space}{draw(sub)}"
    if shape == "paren":
        return f"({draw(sub)})"
    if shape == "unary":
        return draw(st.sampled_from(["-", "!"])) + draw(sub)
    if shape == "ternary":
        return f"{draw(sub)} ? {draw(sub)} : {draw(sub)}"
    if shape == "call":
        return _call(draw(st.sampled_from(LIST_FUNCTIONS)), draw(st.lists(sub, min_size=1, max_size=3)))
    if shape in ("percentile", "val"):
        return f"{shape}({draw(sub)}, {draw(sub)})"
    if shape == "vector":
        return "[" + ", ".join(draw(st.lists(sub, max_size=3))) + "]"
    return f"({draw(sub)}).hour"


EXPRESSIONS = expressions()
STATEMENTS = st.one_of(
    st.builds(lambda n, e, s: f"{n}{s}={s}{e}", USER_NAMES, EXPRESSIONS, SPACE),
    st.builds(lambda e: f"$NodeDeallocationOption = {e}", EXPRESSIONS),
    EXPRESSIONS,
)
FORMULAS = st.builds(
    lambda statements, trailing: ";\n".join(statements) + (";" if trailing else ""),
    st.lists(STATEMENTS, min_size=1, max_size=6),
    st.booleans(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FORMULAS)
def test_well_formed_formulas_round_trip_and_evaluate(formula: str) -> None:
    program = parse(formula)
    text = unparse(program)
    again = parse(text)
    assert again == program
    assert unparse(again) == text
    first, second = check_run(program), check_run(again)
    assert first.results == second.results
    if first.error is None or second.error is None:
        assert first.error is second.error is None
    else:  # the same failure, though unparse moved its column
        assert first.error.code == second.error.code
        assert first.error.values[0][1].split(": ", 1)[1] == second.error.values[0][1].split(": ", 1)[1]


DOC_FORMULA = (
    "startingNumberOfVMs = 1;\nmaxNumberofVMs = 25;\n"
    "pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);\n"
    "pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : "
    "avg($PendingTasks.GetSample(180 * TimeInterval_Second));\n"
    "$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);\n$NodeDeallocationOption = taskcompletion;"
)


@FUZZ
@given(st.integers(0, len(DOC_FORMULA) - 1), st.integers(0, 10), st.text(max_size=3))
def test_mutated_documented_formula_never_crashes(start: int, length: int, insert: str) -> None:
    program = try_parse(DOC_FORMULA[:start] + insert + DOC_FORMULA[start + length :])
    if program is not None:
        check_run(program)


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 5) -> str:
    """Integer arithmetic with + - * and unary minus: the same text means the same value in Python."""
    if depth == 0 or draw(st.booleans()):
        return str(draw(st.integers(0, 9)))
    sub = arithmetic(depth - 1)
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return f"{draw(sub)} {draw(st.sampled_from('+-*'))} {draw(sub)}"
    if shape == 1:
        return f"({draw(sub)})"
    return f"-{draw(sub)}"


@FUZZ
@given(arithmetic())
def test_arithmetic_precedence_matches_python(expression: str) -> None:
    result = evaluate(parse(f"x = {expression}"), INPUTS)
    assert result.error is None
    assert result.variables["x"] == float(eval(expression))  # digits and + - * ( ) only


# -- hostile sizes: the limits answer, never the interpreter ---------------------------------------------------------

TARGET = "$TargetDedicatedNodes="


@pytest.mark.parametrize(
    "formula",
    [
        TARGET + "(" * 4000 + "1" + ")" * 4000 + ";",  # past MAX_NESTING, under the length limit
        TARGET + "-" * 8000 + "1;",
        TARGET + "!" * 8000 + "1;",
        TARGET + "1?" * 2000 + "1" + ":1" * 2000 + ";",
        "$a=1;" * (MAX_STATEMENTS + 1),
    ],
)
def test_deep_or_long_formulas_are_syntax_errors(formula: str) -> None:
    assert try_parse(formula) is None


def test_a_formula_past_the_length_limit_is_too_long_before_it_is_read() -> None:
    with pytest.raises(FormulaTooLongError):
        parse(TARGET + "max(" * 2100 + "1" + ")" * 2100 + ";")


@pytest.mark.parametrize(
    "formula",
    [TARGET + "9" * 8000 + ";", TARGET + "1e999999;", TARGET + "1+" * 4000 + "1;", TARGET + "0.0000001e-999999;"],
)
def test_huge_numbers_and_long_chains_parse_and_evaluate(formula: str) -> None:
    program = try_parse(formula)
    assert program is not None
    check_run(program)
