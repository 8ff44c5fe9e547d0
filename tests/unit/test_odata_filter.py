"""$filter: the AST, its text, the parser's errors, and the SQL compiler against a Python oracle."""

from __future__ import annotations

import email.utils
import json
import random
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchite.domain.errors import BatchError
from batchite.domain.filters import (
    ORDERING_OPS,
    And,
    CompareOp,
    Comparison,
    Filter,
    Not,
    Or,
    StartsWith,
    Value,
    evaluate,
    literal_text,
    to_text,
)
from batchite.domain.odata import FILTERABLE, MAX_DEPTH, MAX_TERMS, OPERATIONS, parse_filter, parse_list_filter
from batchite.store.filter_sql import compile_filter
from batchite.store.sqlite import SCHEMA

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYWORDS = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "true", "false", "null", "startswith"}


# -- strict structural equality (True == 1 and 1 == 1.0 in Python; not here) --------------------
def shape(f: Filter) -> Any:
    if isinstance(f, Comparison):
        return ("cmp", f.prop, f.op, type(f.value).__name__, f.value)
    if isinstance(f, StartsWith):
        return ("sw", f.prop, f.prefix)
    if isinstance(f, Not):
        return ("not", shape(f.operand))
    return (type(f).__name__, tuple(shape(o) for o in f.operands))


# -- strategies ------------------------------------------------------------------------------
NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s.lower() not in KEYWORDS)
PATHS = st.one_of(
    st.sampled_from(["id", "state", "executionInfo/exitCode", "nodeInfo/poolId", "creationTime", "name"]),
    st.lists(NAME, min_size=1, max_size=3).map("/".join),
)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
DATETIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)
ANY_LITERAL: st.SearchStrategy[Value] = st.one_of(
    TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    DATETIMES,
)


@st.composite
def comparisons(draw: st.DrawFn, paths: st.SearchStrategy[str] = PATHS) -> Comparison:
    op = draw(st.sampled_from(list(CompareOp)))
    value = draw(ANY_LITERAL)
    if op in ORDERING_OPS and (value is None or isinstance(value, bool)):
        op = draw(st.sampled_from([CompareOp.EQ, CompareOp.NE]))
    return Comparison(draw(paths), op, value)


ATOMS: st.SearchStrategy[Filter] = st.one_of(comparisons(), st.builds(StartsWith, PATHS, TEXT))
FILTERS: st.SearchStrategy[Filter] = st.recursive(
    ATOMS,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=4).map(lambda ops: And(tuple(ops))),
        st.lists(children, min_size=2, max_size=4).map(lambda ops: Or(tuple(ops))),
    ),
    max_leaves=12,
)


# -- an independent renderer: random keyword case, spacing, datetime spellings, extra parens ---
def _kw(word: str, rnd: random.Random) -> str:
    return "".join(c.upper() if rnd.random() < 0.5 else c for c in word)


def _ws(rnd: random.Random) -> str:
    return rnd.choice([" ", "  ", "\t", " \n "])


def _literal(value: Value, rnd: random.Random) -> str:
    if value is None or isinstance(value, bool):
        return _kw(literal_text(value), rnd)
    if isinstance(value, datetime):
        spelling = rnd.randrange(3)
        prefix = rnd.choice(["DateTime", "datetime", "DATETIME"])
        if spelling == 0 and value.microsecond == 0:
            return f"{prefix}'{email.utils.format_datetime(value, usegmt=True)}'"
        if spelling == 1:
            zone = timezone(timedelta(minutes=rnd.randrange(-720, 841, 15)))
            return f"{prefix}'{value.astimezone(zone).isoformat(timespec='microseconds')}'"
        return f"{prefix}'{value.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z'"
    return literal_text(value)


def render(f: Filter, rnd: random.Random) -> str:
    if isinstance(f, Comparison):
        return f"{f.prop}{_ws(rnd)}{_kw(f.op.value, rnd)}{_ws(rnd)}{_literal(f.value, rnd)}"
    if isinstance(f, StartsWith):
        return f"{_kw('startswith', rnd)}({f.prop},{_ws(rnd)}{literal_text(f.prefix)})"
    if isinstance(f, Not):
        inner = render(f.operand, rnd)
        if isinstance(f.operand, And | Or) or rnd.random() < 0.5:
            inner = f"({inner})"
        return f"{_kw('not', rnd)}{_ws(rnd)}{inner}"
    word = "and" if isinstance(f, And) else "or"
    parts = []
    for operand in f.operands:
        text = render(operand, rnd)
        needs = isinstance(operand, Or) or (isinstance(f, And) and isinstance(operand, And))
        parts.append(f"({_ws(rnd)}{text}{_ws(rnd)})" if needs or rnd.random() < 0.2 else text)
    return f"{_ws(rnd)}{_kw(word, rnd)}{_ws(rnd)}".join(parts)


# -- round trips -----------------------------------------------------------------------------
@SETTINGS
@given(FILTERS)
def test_to_text_round_trips(f: Filter) -> None:
    parsed = parse_filter(to_text(f))
    assert shape(parsed) == shape(f)
    assert parsed == f


@SETTINGS
@given(FILTERS, st.randoms(use_true_random=False))
def test_any_spelling_round_trips(f: Filter, rnd: random.Random) -> None:
    assert shape(parse_filter(render(f, rnd))) == shape(f)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "(state eq 'running') and startswith(id, 'renderTask')",
            And((Comparison("state", CompareOp.EQ, "running"), StartsWith("id", "renderTask"))),
        ),
        (
            "(executionInfo/exitCode lt 0) or (executionInfo/exitCode gt 0)",
            Or(
                (
                    Comparison("executionInfo/exitCode", CompareOp.LT, 0),
                    Comparison("executionInfo/exitCode", CompareOp.GT, 0),
                )
            ),
        ),
        (
            "a eq 1 or b eq 2 and c eq 3",
            Or(
                (
                    Comparison("a", CompareOp.EQ, 1),
                    And((Comparison("b", CompareOp.EQ, 2), Comparison("c", CompareOp.EQ, 3))),
                )
            ),
        ),
        (
            "NOT a Eq 'it''s' AND b NE NULL",
            And((Not(Comparison("a", CompareOp.EQ, "it's")), Comparison("b", CompareOp.NE, None))),
        ),
        (
            "creationTime gt DateTime'2011-05-08T08:49:37Z'",
            Comparison("creationTime", CompareOp.GT, datetime(2011, 5, 8, 8, 49, 37, tzinfo=UTC)),
        ),
        (
            "creationTime gt datetime'Sun, 08 May 2011 08:49:37 GMT'",
            Comparison("creationTime", CompareOp.GT, datetime(2011, 5, 8, 8, 49, 37, tzinfo=UTC)),
        ),
        (
            "t le DateTime'2024-01-01T02:00:00.1234567+02:00'",
            Comparison("t", CompareOp.LE, datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ),
        ("t ge DateTime'2024-01-01'", Comparison("t", CompareOp.GE, datetime(2024, 1, 1, tzinfo=UTC))),
        ("enableAutoScale eq TRUE", Comparison("enableAutoScale", CompareOp.EQ, True)),
        ("w ge -1.5e3", Comparison("w", CompareOp.GE, -1500.0)),
        ("StartsWith(name, 'wd/') eq true", StartsWith("name", "wd/")),
        ("startswith(name, 'a') eq false", Not(StartsWith("name", "a"))),
        ("startswith(name, 'a') ne true", Not(StartsWith("name", "a"))),
        ("startswith(name,'') ne false", StartsWith("name", "")),
        ("((a eq 1))", Comparison("a", CompareOp.EQ, 1)),
        ("not not a eq 1", Not(Not(Comparison("a", CompareOp.EQ, 1)))),
        (
            "a eq 1 and (b eq 2 and c eq 3)",
            And(
                (
                    Comparison("a", CompareOp.EQ, 1),
                    And((Comparison("b", CompareOp.EQ, 2), Comparison("c", CompareOp.EQ, 3))),
                )
            ),
        ),
    ],
)
def test_examples_parse(text: str, expected: Filter) -> None:
    assert shape(parse_filter(text)) == shape(expected)


# -- malformed input -------------------------------------------------------------------------
def _assert_filter_error(exc: BatchError, text: str) -> None:
    assert exc.status == 400
    assert exc.code == "InvalidQueryParameterValue"
    values = dict(exc.values)
    assert values["QueryParameterName"] == "$filter"
    assert values["QueryParameterValue"] == text
    assert values["Reason"]


MALFORMED = [
    "",
    "   ",
    "state eq 'active",
    "state eq 'it''s",
    "state eq active'",
    "(state eq 'active'",
    "state eq 'active')",
    "((a eq 1) or (b eq 2)",
    "()",
    "state == 'active'",
    "state like 'active'",
    "state 'active'",
    "state eq",
    "eq 'active'",
    "state eq 'active' garbage",
    "state eq 'active' and",
    "and state eq 'active'",
    "state eq 'active' or or b eq 1",
    "not",
    "startswith(id)",
    "startswith(id, 5)",
    "startswith('x', id)",
    "startswith(id, 'x'",
    "startswith(id, 'x') eq 1",
    "endswith(id, 'x')",
    "substringof('x', id)",
    "a gt null",
    "a lt true",
    "a eq DateTime'not a date'",
    "a eq DateTime'2024-13-45T00:00:00Z'",
    "a eq DateTime 'x'",
    "a eq 99999999999999999999",
    "a eq 1e999",
    "a eq 5L",
    "a/ eq 1",
    "a//b eq 1",
    "/a eq 1",
    "a eq 'x' ; drop table entities",
    "a eq @p",
    "true eq a",
    "a eq 1 and (b eq 2",
    "a eq 'nul\x00'",
    "a eq 'x\ud800'",
    "(" * (MAX_DEPTH + 1) + "a eq 1" + ")" * (MAX_DEPTH + 1),
    "not " * (MAX_DEPTH + 1) + "a eq 1",
    "(" * 5000 + "a eq 1" + ")" * 5000,
    " or ".join(["a eq 1"] * (MAX_TERMS + 1)),
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_is_a_400(text: str) -> None:
    with pytest.raises(BatchError) as info:
        parse_filter(text)
    _assert_filter_error(info.value, text)


def _parse_or_400(text: str, allowed: Mapping[str, str] | None = None) -> Filter | None:
    try:
        return parse_filter(text, allowed)
    except BatchError as exc:
        _assert_filter_error(exc, text)
        return None


@SETTINGS
@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_is_a_400(text: str) -> None:
    _parse_or_400(text)


@SETTINGS
@given(FILTERS, st.data())
def test_mutated_filters_parse_or_are_a_400(f: Filter, data: st.DataObject) -> None:
    text = to_text(f)
    cut = data.draw(st.integers(0, len(text)))
    mutation = data.draw(st.sampled_from(["truncate", "insert", "delete", "swap"]))
    if mutation == "truncate":
        text = text[:cut]
    elif mutation == "insert":
        text = text[:cut] + data.draw(st.sampled_from(list("()',/ -.aZ0'\"%\\"))) + text[cut:]
    elif mutation == "delete":
        text = text[:cut] + text[cut + 1 :]
    else:
        text = text[cut:] + " " + text[:cut]
    parsed = _parse_or_400(text)
    if parsed is not None:
        compile_filter(parsed)  # whatever parses also compiles


@SETTINGS
@given(
    st.one_of(st.text(max_size=40), st.from_regex(r"[0-9A-Za-z:,+\- .]{0,40}", fullmatch=True)).map(
        lambda s: s.replace("'", "''")
    )
)
def test_any_datetime_text_parses_or_is_a_400(raw: str) -> None:
    _parse_or_400(f"creationTime gt DateTime'{raw}'")


def test_unbalanced_quotes_and_parens_always_fail() -> None:
    for text in ["a eq '", "a eq '''", "a eq 'x''", "(a eq 1", "a eq 1)", ")(", "startswith(a, 'b'"]:
        with pytest.raises(BatchError):
            parse_filter(text)


# -- allowed properties and their types ------------------------------------------------------
def test_filterable_table_shape() -> None:
    expected = {
        "pools",
        "jobs",
        "jobsfromschedule",
        "jobschedules",
        "tasks",
        "nodes",
        "files",
        "supportedimages",
        "nodecounts",
        "poolusagemetrics",
        "jobpreparationandreleasetaskstatus",
        "certificates",
        "subtasks",
    }
    assert set(FILTERABLE) == expected
    kinds = {kind for props in FILTERABLE.values() for kind in props.values()}
    assert kinds <= {"string", "int", "datetime", "bool", "enum"}
    assert FILTERABLE["files"] == {"name": "string"}
    assert FILTERABLE["subtasks"] == {}
    assert set(OPERATIONS) <= set(FILTERABLE)


@pytest.mark.parametrize(
    ("operation", "text"),
    [
        ("tasks", "(state eq 'Completed') and (executionInfo/exitCode ne 0)"),
        ("tasks", "executionInfo/result eq 'failure' or startswith(id, 'render')"),
        ("tasks", "creationTime ge DateTime'2024-01-01T00:00:00Z' and lastModified lt DateTime'2030-01-01T00:00:00Z'"),
        ("pools", "enableAutoScale eq false and vmSize eq 'standard_d2s_v3' and allocationState eq 'steady'"),
        ("pools", "startswith(id, 'test') and not (state eq 'deleting')"),
        ("jobs", "executionInfo/poolId ge 'a' and startswith(executionInfo/poolId, 'p')"),
        ("jobschedules", "schedule/doNotRunAfter gt DateTime'2024-01-01T00:00:00Z'"),
        ("nodes", "startTaskInfo/exitCode eq 0 and state eq 'idle'"),
        ("files", "startswith(name, 'wd/')"),
        ("supportedimages", "osType eq 'linux' and verificationType ne 'unverified'"),
        ("nodecounts", "poolId eq 'p1'"),
        ("poolusagemetrics", "startswith(poolId, 'p') or poolId ge 'x'"),
        ("jobpreparationandreleasetaskstatus", "jobPreparationTaskExecutionInfo/exitCode gt 0 or nodeId eq 'n1'"),
        ("tasks", "state eq null"),
    ],
)
def test_documented_filters_are_accepted(operation: str, text: str) -> None:
    parse_list_filter(operation, text)


@pytest.mark.parametrize(
    ("operation", "text"),
    [
        ("tasks", "commandLine eq 'x'"),  # not filterable
        ("tasks", "State eq 'active'"),  # property names are case-sensitive
        ("tasks", "executionInfo/exitcode eq 0"),
        ("tasks", "startswith(state, 'a')"),  # enum: eq/ne only
        ("tasks", "state gt 'a'"),
        ("tasks", "executionInfo/exitCode eq '0'"),  # int takes an integer
        ("tasks", "executionInfo/exitCode eq 1.5"),
        ("tasks", "creationTime gt '2024-01-01T00:00:00Z'"),  # datetime takes DateTime'...'
        ("tasks", "id eq 5"),
        ("pools", "enableAutoScale eq 'true'"),
        ("pools", "startswith(creationTime, '2024')"),
        ("files", "name eq 'stdout.txt'"),  # files: startswith only
        ("nodecounts", "poolId ne 'p1'"),  # node counts: eq only
        ("poolusagemetrics", "poolId ne 'p1'"),
        ("subtasks", "id eq '1'"),
    ],
)
def test_undocumented_filters_are_a_400(operation: str, text: str) -> None:
    with pytest.raises(BatchError) as info:
        parse_list_filter(operation, text)
    _assert_filter_error(info.value, text)


@SETTINGS
@given(FILTERS, st.sampled_from(sorted(FILTERABLE)))
def test_checked_parse_accepts_or_is_a_400(f: Filter, operation: str) -> None:
    text = to_text(f)
    try:
        parse_list_filter(operation, text)
    except BatchError as exc:
        _assert_filter_error(exc, text)


# -- SQL against the oracle (the store's own schema) -------------------------------------------
STATES = ["active", "preparing", "running", "completed", "waitingForStartTask", "startTaskFailed"]
NAMES = ["render", "Render-final", "x%y", "a_b", "it's", "Äpfel", "äpfel", "naïve", "ok", "", "100%", "日本語"]
POOLS = ["pool-a", "Pool-B", "pool_c", "POOL-A"]
T0 = datetime(2026, 11, 25, 16, 18, 16, 878512, tzinfo=UTC)


def stamp(value: datetime) -> str:
    """How Batchite stores times: microseconds and 'Z'."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def make_docs(count: int = 50, seed: int = 20261125) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    docs: list[dict[str, Any]] = []
    for i in range(count):
        prefix = rnd.choice(["task", "Task", "RENDER", "render", "merge"])
        doc: dict[str, Any] = {
            "id": f"{prefix}{rnd.choice(['-', '_', ''])}{i:02d}",
            "state": rnd.choice(STATES),
            "creationTime": stamp(
                T0 + timedelta(seconds=rnd.randrange(-86400, 86400), microseconds=rnd.randrange(10**6))
            ),
            "priority": rnd.choice([-5, 0, 1, 2, 10, 2**40]),
        }
        if rnd.random() < 0.8:
            doc["displayName"] = rnd.choice(NAMES) if rnd.random() < 0.9 else 7  # sometimes the wrong type
        if rnd.random() < 0.7:
            info: dict[str, Any] = {"startTime": stamp(T0 + timedelta(minutes=rnd.randrange(-60, 60)))}
            roll = rnd.random()
            if roll < 0.6:
                info["exitCode"] = rnd.choice([-1, 0, 0, 1, 2, 137])
                info["result"] = "success" if info["exitCode"] == 0 else "failure"
                info["endTime"] = stamp(T0 + timedelta(minutes=rnd.randrange(0, 120)))
            elif roll < 0.7:
                info["exitCode"] = None
            elif roll < 0.8:
                info["exitCode"] = "0"  # the wrong type
            doc["executionInfo"] = info
        if rnd.random() < 0.6:
            doc["nodeInfo"] = {"poolId": rnd.choice(POOLS), "nodeId": f"tvm-{rnd.randrange(4)}"}
        elif rnd.random() < 0.3:
            doc["nodeInfo"] = "not an object"
        if rnd.random() < 0.7:
            doc["enableAutoScale"] = rnd.random() < 0.5
        if rnd.random() < 0.5:
            doc["weight"] = rnd.choice([0.5, 1, 1.0, 2.25, -3, "heavy"])
        docs.append(doc)
    return docs


DOCS = make_docs()

# The properties the SQL test filters on, with their types (as FILTERABLE spells them).
TYPES: dict[str, str] = {
    "id": "string",
    "state": "enum",
    "creationTime": "datetime",
    "executionInfo/startTime": "datetime",
    "executionInfo/endTime": "datetime",
    "executionInfo/exitCode": "int",
    "executionInfo/result": "enum",
    "nodeInfo/poolId": "string",
    "displayName": "string",
    "enableAutoScale": "bool",
    "priority": "int",
    "missing/path": "string",
}


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    for seq, doc in enumerate(DOCS, start=1):
        conn.execute(
            "INSERT INTO entities (account, kind, parent, key, id, state, etag, last_modified, seq, doc, result) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",  # result as SqliteStore.put fills it from the document
            (
                "acct",
                "task",
                "job1",
                doc["id"].lower(),
                doc["id"],
                doc["state"],
                "0x1",
                stamp(T0),
                seq,
                json.dumps(doc),
                (doc.get("executionInfo") or {}).get("result"),
            ),
        )
    # rows of another parent that a filter must never reach
    conn.execute(
        "INSERT INTO entities (account, kind, parent, key, id, state, etag, last_modified, seq, doc) "
        "VALUES ('acct', 'task', 'job2', 'other', 'other', 'active', '0x1', '', 999, '{\"id\": \"other\"}')"
    )
    yield conn
    conn.close()


def select(conn: sqlite3.Connection, f: Filter, columns: Mapping[str, str] | None = None) -> list[str]:
    where, params = compile_filter(f, columns)
    assert all(isinstance(p, str | int | float) for p in params)
    sql = f"SELECT id FROM entities WHERE account=? AND kind=? AND parent=? AND ({where}) ORDER BY seq"
    return [row[0] for row in conn.execute(sql, ["acct", "task", "job1", *params])]


# A tiny, independent evaluator: the meaning the SQL must have.
def _afold(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _get(doc: Any, prop: str) -> Any:
    for name in prop.split("/"):
        if not isinstance(doc, dict) or name not in doc:
            return None
        doc = doc[name]
    return doc


def _holds(op: CompareOp, left: Any, right: Any) -> bool:
    return {
        CompareOp.EQ: left == right,
        CompareOp.GT: left > right,
        CompareOp.GE: left >= right,
        CompareOp.LT: left < right,
        CompareOp.LE: left <= right,
    }[op]


def oracle(f: Filter, doc: dict[str, Any]) -> bool:
    if isinstance(f, And):
        return all(oracle(o, doc) for o in f.operands)
    if isinstance(f, Or):
        return any(oracle(o, doc) for o in f.operands)
    if isinstance(f, Not):
        return not oracle(f.operand, doc)
    value = _get(doc, f.prop)
    if isinstance(f, StartsWith):
        return isinstance(value, str) and _afold(value).startswith(_afold(f.prefix))
    if f.op is CompareOp.NE:
        return not oracle(Comparison(f.prop, CompareOp.EQ, f.value), doc)
    literal = f.value
    if literal is None:
        return value is None
    if isinstance(literal, bool):
        return type(value) is bool and value == literal
    if isinstance(literal, int | float):
        return type(value) in (int, float) and _holds(f.op, value, literal)
    if isinstance(literal, datetime):
        if not isinstance(value, str):
            return False
        return _holds(f.op, datetime.fromisoformat(value.replace("Z", "+00:00")), literal)
    return isinstance(value, str) and _holds(f.op, _afold(value), _afold(literal))


def _recase(text: str, rnd: random.Random) -> str:
    return "".join(c.swapcase() if rnd.random() < 0.3 else c for c in text)


@st.composite
def typed_literal(draw: st.DrawFn, prop: str) -> Value:
    kind = TYPES[prop]
    seen = [v for v in (_get(d, prop) for d in DOCS) if v is not None]
    if kind in ("string", "enum"):
        known = [v for v in seen if isinstance(v, str)] + STATES + NAMES + POOLS
        rnd = draw(st.randoms(use_true_random=False))
        return draw(st.one_of(st.sampled_from(known).map(lambda s: _recase(s, rnd)), TEXT))
    if kind == "int":
        return draw(st.one_of(st.sampled_from([-5, -1, 0, 1, 2, 10, 137, 2**40]), st.integers(-(2**62), 2**62)))
    if kind == "bool":
        return draw(st.booleans())
    known_times = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in seen if isinstance(v, str)]
    around = st.integers(-7200, 7200).map(lambda s: T0 + timedelta(seconds=s))
    return draw(st.one_of(st.sampled_from(known_times or [T0]), around, DATETIMES))


@st.composite
def typed_atoms(draw: st.DrawFn) -> Filter:
    prop = draw(st.sampled_from(sorted(TYPES)))
    kind = TYPES[prop]
    if kind == "string" and draw(st.integers(0, 3)) == 0:
        values = [v for v in (_get(d, prop) for d in DOCS) if isinstance(v, str)]
        prefixes = [v[:n] for v in values for n in range(len(v) + 1)] or [""]
        rnd = draw(st.randoms(use_true_random=False))
        prefix = draw(
            st.one_of(
                st.sampled_from(prefixes).map(lambda s: _recase(s, rnd)),
                TEXT,
                st.sampled_from(["%", "_", "'", "x' OR 1=1 --", "a%", "render"]),
            )
        )
        return StartsWith(prop, prefix)
    ops = [CompareOp.EQ, CompareOp.NE] if kind in ("enum", "bool") else list(CompareOp)
    op = draw(st.sampled_from(ops))
    value: Value = draw(
        st.one_of(typed_literal(prop), st.none()) if op in (CompareOp.EQ, CompareOp.NE) else typed_literal(prop)
    )
    return Comparison(prop, op, value)


TYPED_FILTERS: st.SearchStrategy[Filter] = st.recursive(
    typed_atoms(),
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=4).map(lambda ops: And(tuple(ops))),
        st.lists(children, min_size=2, max_size=4).map(lambda ops: Or(tuple(ops))),
    ),
    max_leaves=8,
)


def expected_ids(f: Filter) -> list[str]:
    return [d["id"] for d in DOCS if oracle(f, d)]


@SETTINGS
@given(TYPED_FILTERS, st.randoms(use_true_random=False))
def test_sql_selects_what_the_oracle_selects(db: sqlite3.Connection, f: Filter, rnd: random.Random) -> None:
    parsed = parse_filter(render(f, rnd), TYPES)  # through the text, checked against the types
    assert shape(parsed) == shape(f)
    want = expected_ids(f)
    assert select(db, parsed) == want
    assert [d["id"] for d in DOCS if evaluate(parsed, d)] == want
    # mapping nothing to columns (all JSON) or id to the unfolded id column means the same
    assert select(db, parsed, columns={}) == want
    assert select(db, parsed, columns={"id": "id", "state": "state", "executionInfo/result": "result"}) == want


@pytest.mark.parametrize(
    "text",
    [
        "state eq 'Completed'",
        "state eq 'WAITINGFORSTARTTASK' or state eq 'starttaskfailed'",
        "(state eq 'running') and startswith(id, 'RENDER')",
        "executionInfo/exitCode ne 0",
        "(executionInfo/exitCode lt 0) or (executionInfo/exitCode gt 0)",
        "executionInfo/exitCode eq null",
        "executionInfo/exitCode ne null and executionInfo/result eq 'failure'",
        "nodeInfo/poolId eq 'pool-a'",
        "startswith(nodeInfo/poolId, 'POOL_')",
        "startswith(displayName, '%') or startswith(displayName, '_') or startswith(displayName, 'x%')",
        "startswith(displayName, 'x'' OR 1=1 --')",
        "startswith(displayName, 'äp')",
        "displayName eq 'ÄPFEL'",
        "displayName gt 'm'",
        "creationTime ge DateTime'2026-11-25T16:18:16.878512Z'",
        f"creationTime lt DateTime'{email.utils.format_datetime(T0.replace(microsecond=0), usegmt=True)}'",
        "creationTime gt DateTime'2026-11-25T18:18:16+02:00' and creationTime le DateTime'2026-11-26T00:00:00Z'",
        "executionInfo/endTime gt DateTime'2026-11-25T17:00:00Z' or not (enableAutoScale eq true)",
        "enableAutoScale eq false",
        "enableAutoScale ne true",
        "priority ge 2 and priority lt 1099511627777",
        "a eq 1 or b eq 2 and c eq 3 or state eq 'active'",
        "state eq 'active' or state eq 'running' and startswith(id, 'task')",
        "(state eq 'active' or state eq 'running') and startswith(id, 'task')",
        "not (state eq 'active' or state eq 'running')",
        "weight gt 1 or weight eq 'HEAVY'",
        "missing/path eq null and not (missing/path eq 'x')",
    ],
)
def test_sql_examples(db: sqlite3.Connection, text: str) -> None:
    f = parse_filter(text)
    want = expected_ids(f)
    assert select(db, f) == want
    assert [d["id"] for d in DOCS if evaluate(f, d)] == want


def test_sql_examples_select_something(db: sqlite3.Connection) -> None:
    """The fixture data is varied enough for the examples above to mean something."""
    for text in [
        "state eq 'Completed'",
        "executionInfo/exitCode ne 0",
        "startswith(displayName, 'x%')",
        "displayName eq 'ÄPFEL'",
        "enableAutoScale eq false",
        "executionInfo/exitCode eq null",
    ]:
        got = select(db, parse_filter(text))
        assert 0 < len(got) < len(DOCS), text
    assert select(db, parse_filter("displayName eq 'ÄPFEL'")) != select(db, parse_filter("displayName eq 'äpfel'"))


def test_precedence_matters(db: sqlite3.Connection) -> None:
    loose = select(db, parse_filter("state eq 'active' or state eq 'running' and startswith(id, 'task')"))
    tight = select(db, parse_filter("(state eq 'active' or state eq 'running') and startswith(id, 'task')"))
    assert loose != tight


def test_wildcards_and_quotes_are_data(db: sqlite3.Connection) -> None:
    assert select(db, parse_filter("startswith(displayName, '%')")) == []
    assert select(db, parse_filter("startswith(id, '_')")) == []
    quoted = select(db, parse_filter("startswith(displayName, 'it''s')"))
    assert quoted == expected_ids(StartsWith("displayName", "it's")) != []
    where, params = compile_filter(parse_filter("displayName eq 'x'' OR 1=1 --' or startswith(id, 'a%')"))
    assert "OR 1=1" not in where and "%" not in where and "--" not in where
    assert "x' or 1=1 --" in params  # folded, as every string value is


def test_only_values_are_parameters() -> None:
    where, params = compile_filter(parse_filter("executionInfo/exitCode eq 1 and startswith(id, 'ab')"))
    assert "executionInfo" not in where and "exitCode" not in where
    assert params == ["$.executionInfo.exitCode", "$.executionInfo.exitCode", 1, 2, "ab"]
    with pytest.raises(ValueError):
        compile_filter(Comparison("id", CompareOp.EQ, "x"), {"id": "id; DROP TABLE entities"})
    with pytest.raises(ValueError):
        compile_filter(Comparison("a'b", CompareOp.EQ, "x"))


def test_big_filters_compile_and_run(db: sqlite3.Connection) -> None:
    ids = [d["id"].upper() for d in DOCS[:20]]
    text = " or ".join(f"id eq '{i}'" for i in ids * (MAX_TERMS // 20))
    assert select(db, parse_filter(text)) == [d["id"] for d in DOCS[:20]]
    nested = "not (" * (MAX_DEPTH // 2) + "state eq 'active'" + ")" * (MAX_DEPTH // 2)  # 2 levels each
    f = parse_filter(nested)
    assert select(db, f) == expected_ids(f)


def test_datetime_literals_are_normalised_like_stored_times() -> None:
    for spelling in ["2026-11-25T16:18:16.878512Z", "2026-11-25T17:18:16.878512+01:00", "2026-11-25t16:18:16.8785129z"]:
        _where, params = compile_filter(parse_filter(f"creationTime eq DateTime'{spelling}'"))
        assert params[-1] == "2026-11-25T16:18:16.878512Z"
    _where, params = compile_filter(parse_filter("creationTime eq DateTime'Wed, 25 Nov 2026 16:18:16 GMT'"))
    assert params[-1] == "2026-11-25T16:18:16.000000Z"
