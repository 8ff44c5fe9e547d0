"""The OData `$filter` AST of Batch list operations, its canonical text, and a reference evaluator.

A filter is a tree of frozen dataclasses:

* `Comparison(prop, op, value)`: `prop` is a property path as written on the wire
  (`state`, `executionInfo/exitCode`), `op` one of eq/ne/gt/ge/lt/le, `value` a `Value`;
* `StartsWith(prop, prefix)`: the `startswith(prop, 'prefix')` function;
* `And`, `Or` (n-ary: a chain of one operator is one node, parentheses nest) and `Not`.

Semantics (shared by `evaluate` here and the SQL compiler in the store):

* property values compare case-insensitively (the Batch docs say property values are case
  insensitive); strings are folded with `fold`, which lowers ASCII letters only, as SQLite's
  `lower()` does;
* a comparison is two-valued: a missing property, a JSON null, or a value whose type does not
  match the literal's makes `eq`/`gt`/`ge`/`lt`/`le`/`startswith` false, and `ne` is exactly
  `not eq` (so it is true for them);
* `eq null` / `ne null` test for a missing-or-null value;
* a `datetime` literal compares against RFC 3339 strings as instants.

Pure: imports nothing of Batchite's but the clock's forms of a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from batchite.clock import format_time, to_utc


class CompareOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


ORDERING_OPS = frozenset({CompareOp.GT, CompareOp.GE, CompareOp.LT, CompareOp.LE})

# A literal: 'text', 12, 1.5, true/false, null, DateTime'...' (an aware UTC datetime).
Value: TypeAlias = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Comparison:
    prop: str
    op: CompareOp
    value: Value


@dataclass(frozen=True)
class StartsWith:
    prop: str
    prefix: str


@dataclass(frozen=True)
class And:
    """All of two or more operands; `a and b and c` is one `And`, `a and (b and c)` nests."""

    operands: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    """Any of two or more operands; `a or b or c` is one `Or`, `a or (b or c)` nests."""

    operands: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    operand: Filter


Filter: TypeAlias = Comparison | StartsWith | And | Or | Not


def path_segments(prop: str) -> tuple[str, ...]:
    """`executionInfo/exitCode` -> ('executionInfo', 'exitCode')."""
    return tuple(prop.split("/"))


def properties(f: Filter) -> set[str]:
    """Every property path the filter mentions."""
    if isinstance(f, Comparison | StartsWith):
        return {f.prop}
    if isinstance(f, Not):
        return properties(f.operand)
    return set().union(*(properties(o) for o in f.operands))


# -- case folding and datetimes --------------------------------------------------------------
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(text: str) -> str:
    """Lower ASCII letters only: the same folding as SQLite's built-in `lower()`."""
    return text.translate(_ASCII_LOWER)


def parse_stored_datetime(text: str) -> datetime | None:
    """An RFC 3339 string as stored in a document, or None when it is not one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return to_utc(value)


# -- canonical text ---------------------------------------------------------------------------
def literal_text(value: Value) -> str:
    """A literal as OData text; `parse_filter(literal_text(v))` gives back `v`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite numbers have no OData literal")
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, datetime):
        return f"DateTime'{format_time(value)}'"
    return "'" + value.replace("'", "''") + "'"


def to_text(f: Filter) -> str:
    """Render a filter as OData text with just enough parentheses to parse back to the same tree."""
    if isinstance(f, Comparison):
        return f"{f.prop} {f.op.value} {literal_text(f.value)}"
    if isinstance(f, StartsWith):
        return f"startswith({f.prop}, {literal_text(f.prefix)})"
    if isinstance(f, Not):
        return f"not ({to_text(f.operand)})"
    if isinstance(f, And):  # an `or` operand needs parentheses for precedence, an `and` one to stay nested
        return " and ".join(_paren(o, isinstance(o, And | Or)) for o in f.operands)
    return " or ".join(_paren(o, isinstance(o, Or)) for o in f.operands)


def _paren(f: Filter, needed: bool) -> str:
    return f"({to_text(f)})" if needed else to_text(f)


# -- reference evaluator (for lists that are not stored: files, images, node counts) --------
_MISSING = object()


def lookup(doc: Mapping[str, Any], prop: str) -> Any:
    """The value at a property path, or None when any step is missing or not an object."""
    current: Any = doc
    for segment in path_segments(prop):
        if not isinstance(current, Mapping):
            return None
        current = current.get(segment, _MISSING)
        if current is _MISSING:
            return None
    return current


def evaluate(f: Filter, doc: Mapping[str, Any]) -> bool:
    """Whether a wire document matches the filter."""
    if isinstance(f, And):
        return all(evaluate(o, doc) for o in f.operands)
    if isinstance(f, Or):
        return any(evaluate(o, doc) for o in f.operands)
    if isinstance(f, Not):
        return not evaluate(f.operand, doc)
    actual = lookup(doc, f.prop)
    if isinstance(f, StartsWith):
        return isinstance(actual, str) and fold(actual).startswith(fold(f.prefix))
    if f.op is CompareOp.NE:
        return not _compare(CompareOp.EQ, actual, f.value)
    return _compare(f.op, actual, f.value)


def _compare(op: CompareOp, actual: Any, literal: Value) -> bool:
    if literal is None:
        return actual is None  # only eq reaches here for null
    if isinstance(literal, bool):
        return isinstance(actual, bool) and actual == literal
    left: Any
    right: Any
    if isinstance(literal, int | float):
        if not isinstance(actual, int | float) or isinstance(actual, bool):
            return False
        left, right = actual, literal
    elif isinstance(literal, datetime):
        stamp = parse_stored_datetime(actual) if isinstance(actual, str) else None
        if stamp is None:
            return False
        left, right = stamp, to_utc(literal)
    else:
        if not isinstance(actual, str):
            return False
        left, right = fold(actual), fold(literal)
    if op is CompareOp.EQ:
        return bool(left == right)
    if op is CompareOp.GT:
        return bool(left > right)
    if op is CompareOp.GE:
        return bool(left >= right)
    if op is CompareOp.LT:
        return bool(left < right)
    return bool(left <= right)
