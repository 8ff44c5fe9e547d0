"""`$filter` under hostile input: whatever a client sends, the parser (domain/odata_lexer.py, domain/odata.py)
gives a filter or the documented Batch error (400 InvalidQueryParameterValue naming `$filter`), never
another exception; a parsed filter always compiles to SQL that SQLite runs (store/filter_sql.py) and
evaluates in Python (domain/filters.py); huge numbers, deep nesting and long inputs are refused or
handled in time proportional to their length."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchite.domain.errors import BatchError
from batchite.domain.filters import Filter, evaluate
from batchite.domain.odata import FILTERABLE, MAX_DEPTH, MAX_TERMS, parse_filter, parse_list_filter
from batchite.store.filter_sql import compile_filter
from batchite.store.sqlite import SCHEMA

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_URL = 32 * 1024  # the longest request target the server reads: no filter is longer
DOC = {
    "id": "Task-1",
    "state": "completed",
    "creationTime": "2026-11-25T16:18:16.878512Z",
    "executionInfo": {"exitCode": 3, "result": "failure", "startTime": "2026-11-25T16:18:17Z"},
}


def _is_documented_error(err: BatchError, text: str) -> None:
    assert err.status == 400 and err.code == "InvalidQueryParameterValue", (err.status, err.code)
    values = dict(err.values)
    assert values["QueryParameterName"] == "$filter"
    assert values["QueryParameterValue"] == text
    assert values["Reason"]


def parse_or_400(text: str, operation: str | None = None) -> Filter | None:
    try:
        return parse_list_filter(operation, text) if operation else parse_filter(text)
    except BatchError as err:
        _is_documented_error(err, text)
        return None


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO entities (account, kind, parent, key, id, state, etag, last_modified, seq, doc) "
        "VALUES ('acct', 'task', 'job', ?, ?, ?, '0x1', '', 1, ?)",
        (DOC["id"].lower(), DOC["id"], DOC["state"], json.dumps(DOC)),
    )
    yield conn
    conn.close()


def run_everywhere(conn: sqlite3.Connection, f: Filter, *, checked: bool = True) -> None:
    """A parsed filter compiles, runs in SQLite and evaluates in Python; checked against the list
    operation's properties (as every list operation does), to the same answer."""
    where, params = compile_filter(f)
    rows = conn.execute(f"SELECT id FROM entities WHERE account='acct' AND ({where})", params).fetchall()
    matched = evaluate(f, DOC)
    if checked:
        assert (rows == [(DOC["id"],)]) == matched


# -- generated text: grammar pieces, hostile literals, and anything at all --------------------------------------------

HUGE_NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=19, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=6000).map(lambda n: "-" + "0" * n + "1"),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e309", "-1e309"]),
    st.sampled_from(["1.5e99999", "0." + "0" * 5000 + "1", "1" * 400 + ".5", "1e-99999", "NaN", "Infinity"]),
)
LONG_STRINGS = st.one_of(
    st.integers(min_value=0, max_value=12000).map(lambda n: "'" + "a" * n + "'"),
    st.integers(min_value=0, max_value=3000).map(lambda n: "'" + "''" * n + "'"),
    st.integers(min_value=0, max_value=3000).map(lambda n: "'" + "''" * n),  # never closed
    st.text(max_size=40).map(lambda s: "'" + s.replace("'", "''") + "'"),
)
DATETIMES = st.one_of(
    st.sampled_from(["DateTime'2026-11-25T16:18:16Z'", "datetime'Sun, 08 May 2011 08:49:37 GMT'", "DateTime''"]),
    st.text(max_size=30).map(lambda s: "DateTime'" + s.replace("'", "''") + "'"),
    st.sampled_from(["DateTime'9999-12-31T23:59:59.9999999+14:00'", "DateTime'0001-01-01T00:00:00-14:00'"]),
)
PROPERTIES = st.sampled_from(sorted({p for props in FILTERABLE.values() for p in props} | {"a/b/c", "x" * 300}))
PIECES = st.one_of(
    st.sampled_from(["(", ")", ",", " ", "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le"]),
    st.sampled_from(["true", "false", "null", "startswith", "startswith(", "'", "/", "-", "\t", "\n"]),
    PROPERTIES,
    HUGE_NUMBERS,
    LONG_STRINGS,
    DATETIMES,
    st.text(max_size=5),
)
SOUP = st.lists(PIECES, max_size=40).map(" ".join)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_a_filter_or_the_documented_error(text: str) -> None:
    parse_or_400(text)


@FUZZ
@given(SOUP)
def test_grammar_pieces_and_hostile_literals_are_a_filter_or_the_documented_error(text: str) -> None:
    parse_or_400(text)


@FUZZ
@given(SOUP, st.sampled_from(sorted(FILTERABLE)))
def test_each_list_operation_answers_a_filter_or_the_documented_error(text: str, operation: str) -> None:
    parse_or_400(text, operation)


@st.composite
def well_formed(draw: st.DrawFn, depth: int = 0) -> str:
    """A filter of the grammar, of any size of literal, nested a little."""
    if depth < 4 and draw(st.booleans()):
        parts = draw(st.lists(st.deferred(lambda: well_formed(depth + 1)), min_size=1, max_size=4))
        joined = draw(st.sampled_from([" and ", " or "])).join(parts)
        return draw(st.sampled_from(["({})", "not ({})", "{}"])).format(joined)
    prop = draw(st.sampled_from(["id", "state", "executionInfo/exitCode", "creationTime", "executionInfo/result"]))
    if draw(st.booleans()):
        return f"startswith({prop}, {draw(LONG_STRINGS)})"
    literal = draw(st.one_of(HUGE_NUMBERS, LONG_STRINGS, DATETIMES, st.sampled_from(["true", "false", "null"])))
    return f"{prop} {draw(st.sampled_from(['eq', 'ne', 'gt', 'ge', 'lt', 'le']))} {literal}"


@FUZZ
@given(well_formed())
def test_well_formed_filters_parse_compile_and_run_or_are_the_documented_error(
    db: sqlite3.Connection, text: str
) -> None:
    unchecked = parse_or_400(text)
    if unchecked is not None:
        run_everywhere(db, unchecked, checked=False)
    f = parse_or_400(text, "tasks")
    if f is not None:
        run_everywhere(db, f)


# -- the limits ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "executionInfo/exitCode eq " + "9" * 5000,  # past int() of a string (4,300 digits): once a 500
        "executionInfo/exitCode eq -" + "0" * 5000 + "1" + "0" * 19,
        "executionInfo/exitCode eq 9223372036854775808",
        "executionInfo/exitCode gt 1e400",
    ],
)
def test_numbers_past_int64_or_a_double_are_out_of_range(text: str) -> None:
    with pytest.raises(BatchError) as info:
        parse_list_filter("tasks", text)
    _is_documented_error(info.value, text)
    assert "out of range" in dict(info.value.values)["Reason"]


def test_leading_zeros_are_not_digits_of_the_value(db: sqlite3.Connection) -> None:
    f = parse_list_filter("tasks", "executionInfo/exitCode eq -" + "0" * 5000 + "3")
    run_everywhere(db, f)
    assert evaluate(parse_list_filter("tasks", "executionInfo/exitCode eq " + "0" * 5000 + "3"), DOC)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 20000 + "id eq 'a'" + ")" * 20000,
        "not " * 8000 + "id eq 'a'",
        "not (" * 5000 + "id eq 'a'" + ")" * 5000,
        "(" * 20000,
        "startswith(" * 5000,
    ],
)
def test_deep_nesting_is_refused_clearly_not_a_recursion_error(text: str) -> None:
    with pytest.raises(BatchError) as info:
        parse_filter(text)
    _is_documented_error(info.value, text)


def test_the_deepest_and_widest_filters_allowed_run(db: sqlite3.Connection) -> None:
    deep = "(" * MAX_DEPTH + "id eq 'task-1'" + ")" * MAX_DEPTH
    wide = " or ".join([f"id eq 'x{i}'" for i in range(MAX_TERMS - 1)] + ["id eq 'TASK-1'"])
    for text in (deep, wide):
        f = parse_filter(text)
        run_everywhere(db, f)
        assert evaluate(f, DOC)


def test_a_prefix_as_long_as_a_url_runs_in_sqlite(db: sqlite3.Connection) -> None:
    """startswith is substr(), not LIKE: SQLite's 50,000-byte LIKE pattern limit cannot be reached."""
    prefix = "é" * (MAX_URL // 2)
    f = parse_filter(f"startswith(id, '{prefix}')")
    run_everywhere(db, f)


# -- time in proportion to the input ----------------------------------------------------------------------------------

SHAPES: dict[str, Callable[[int], str]] = {
    "long string": lambda n: "id eq '" + "a" * n + "'",
    "doubled quotes": lambda n: "id eq '" + "''" * (n // 2) + "'",
    "unterminated": lambda n: "id eq '" + "''" * (n // 2),
    "long number": lambda n: "executionInfo/exitCode eq 0." + "1" * n,
    "long path": lambda n: "a" + "/a" * (n // 2) + " eq 1",
    "many terms": lambda n: " or ".join(["id eq 'abcdefgh'"] * min(MAX_TERMS, n // 18)),
    "spaces": lambda n: " " * n + "id eq 'a'",
    "datetime": lambda n: "creationTime eq DateTime'2026-11-25T16:18:16." + "1" * n + "Z'",
    "open parens": lambda n: "(" * n,
}


def _seconds(text: str, times: int) -> float:
    """The best of five timings of parsing `text` `times` times over."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(times):
            parse_or_400(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_30_kb_filter_takes_time_in_proportion_to_its_length(shape: str) -> None:
    """Scaling, not speed: one filter of 32 KB against eight of 4 KB, the same amount of text, best of
    five each, timed in the same moment so a loaded machine slows both alike. In proportion they cost
    the same; quadratic work or a backtracking pattern would make the long one cost eight times more."""
    small, large = SHAPES[shape](MAX_URL // 8), SHAPES[shape](MAX_URL - 100)
    assert len(large) <= MAX_URL
    ratio = _seconds(large, 1) / max(_seconds(small, 8), 1e-5)
    assert ratio < 3, f"{shape}: one 32 KB filter took {ratio:.1f}x the time of eight 4 KB ones"
