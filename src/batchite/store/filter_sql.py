"""Compile a `$filter` AST into a parameterised SQLite WHERE fragment over the `entities` table.

The fragment has the same meaning as `batchite.domain.filters.evaluate` on the row's `doc`
(two-valued comparisons, case-insensitive strings folded like SQLite's ASCII `lower()`):

* a property mapped by `columns` reads that column (by default `id` -> `key`, which holds
  lower(id) and is part of the primary key, and `state` -> `state`); any other property reads
  `json_extract(doc, ?)` with the JSON path bound as a parameter;
* every atom is guarded by the value's type (`json_type` / `typeof`), so it is never NULL:
  a missing property, a JSON null or a value of another type makes it false, `ne` is `NOT eq`;
* datetimes compare as text against the literal written the way Batchite stores times
  ('2026-11-25T16:18:16.878512Z', or without the fraction when it is zero, which is read as
  '.000000'), which orders like the instants;
* `startswith` is `substr(x, 1, ?) = ?`, never LIKE, so no wildcard in a prefix means anything;
* `and`/`or` chains are emitted as balanced parenthesised trees, to stay far below SQLite's
  expression-depth limit.

Only fixed SQL text and the caller's column names (checked against the table's columns) reach
the SQL string; every value and path from the filter is a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchite.clock import format_time
from batchite.domain.filters import (
    And,
    CompareOp,
    Filter,
    Not,
    Or,
    StartsWith,
    Value,
    fold,
    path_segments,
)

DEFAULT_COLUMNS: Mapping[str, str] = {"id": "key", "state": "state"}

# Columns of `entities` a property may map to; `key` holds lower(id), so literals are lowered to match.
_TABLE_COLUMNS = frozenset(
    {"account", "kind", "parent", "key", "id", "state", "etag", "last_modified", "seq", "result", "slots"}
)
_FOLDED_COLUMNS = frozenset({"key"})
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_SQL_OPS = {
    CompareOp.EQ: "=",
    CompareOp.GT: ">",
    CompareOp.GE: ">=",
    CompareOp.LT: "<",
    CompareOp.LE: "<=",
}


def compile_filter(f: Filter, columns: Mapping[str, str] | None = None) -> tuple[str, list[Any]]:
    """A WHERE fragment (without `WHERE`) and its parameters, for the repositories' queries."""
    mapping = DEFAULT_COLUMNS if columns is None else columns
    for column in mapping.values():
        if column not in _TABLE_COLUMNS:
            raise ValueError(f"not a column of entities: {column!r}")
    params: list[Any] = []
    sql = _Compiler(mapping, params).node(f)
    return sql, params


def json_path(prop: str) -> str:
    """`executionInfo/exitCode` -> `$.executionInfo.exitCode` (a bound parameter, never SQL text)."""
    segments = path_segments(prop)
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"not a property path: {prop!r}")
    return "$." + ".".join(segments)


@dataclass(frozen=True)
class _Operand:
    """How to read a property: SQL for its value and for its type name, each with its parameters."""

    value: str
    value_params: tuple[Any, ...]
    kind: str  # never NULL: 'text', 'integer', 'real', 'true', 'false', 'null', 'object', 'array' or ''
    kind_params: tuple[Any, ...]
    folded: bool  # the column already holds lower(value)


class _Compiler:
    def __init__(self, columns: Mapping[str, str], params: list[Any]) -> None:
        self.columns = columns
        self.params = params

    def node(self, f: Filter) -> str:
        if isinstance(f, And):
            return self._chain(f.operands, "AND")
        if isinstance(f, Or):
            return self._chain(f.operands, "OR")
        if isinstance(f, Not):
            return f"(NOT {self.node(f.operand)})"
        if isinstance(f, StartsWith):
            return self._startswith(f)
        if f.op is CompareOp.NE:
            return f"(NOT {self._compare(CompareOp.EQ, f.prop, f.value)})"
        return self._compare(f.op, f.prop, f.value)

    def _chain(self, operands: Sequence[Filter], joiner: str) -> str:
        if len(operands) == 1:
            return self.node(operands[0])
        middle = len(operands) // 2
        left = self._chain(operands[:middle], joiner)
        right = self._chain(operands[middle:], joiner)
        return f"({left} {joiner} {right})"

    # -- operands ---------------------------------------------------------------------------
    def _operand(self, prop: str) -> _Operand:
        column = self.columns.get(prop)
        if column is not None:
            return _Operand(column, (), f"typeof({column})", (), column in _FOLDED_COLUMNS)
        path = json_path(prop)
        return _Operand("json_extract(doc, ?)", (path,), "ifnull(json_type(doc, ?), '')", (path,), False)

    def _emit(self, sql: str, *params: Any) -> str:
        self.params.extend(params)
        return sql

    # -- atoms ------------------------------------------------------------------------------
    def _compare(self, op: CompareOp, prop: str, literal: Value) -> str:
        o = self._operand(prop)
        if literal is None:  # only eq reaches here: ne is NOT eq, ordering with null is rejected
            return self._emit(f"({o.value} IS NULL)", *o.value_params)
        if isinstance(literal, bool):
            if o.kind_params:  # JSON: json_type tells true from false
                return self._emit(f"({o.kind} = '{'true' if literal else 'false'}')", *o.kind_params)
            return self._emit(f"({o.kind} = 'integer' AND {o.value} = ?)", int(literal))  # a 0/1 column
        sql_op = _SQL_OPS[op]
        param: Any
        if isinstance(literal, int | float):
            guard, value, param = f"{o.kind} IN ('integer', 'real')", o.value, literal
        elif isinstance(literal, datetime):
            # Stored times have six fraction digits, or none when it is zero: read those as .000000.
            guard, param = f"{o.kind} = 'text'", format_time(literal)
            value = f"(CASE WHEN length({o.value}) = 20 THEN substr({o.value}, 1, 19) || '.000000Z' ELSE {o.value} END)"
            return self._emit(f"({guard} AND {value} {sql_op} ?)", *o.kind_params, *(o.value_params * 3), param)
        elif o.folded:
            guard, value, param = f"{o.kind} = 'text'", o.value, literal.lower()
        else:
            guard, value, param = f"{o.kind} = 'text'", f"lower({o.value})", fold(literal)
        return self._emit(f"({guard} AND {value} {sql_op} ?)", *o.kind_params, *o.value_params, param)

    def _startswith(self, f: StartsWith) -> str:
        o = self._operand(f.prop)
        value, prefix = (o.value, f.prefix.lower()) if o.folded else (f"lower({o.value})", fold(f.prefix))
        return self._emit(
            f"({o.kind} = 'text' AND substr({value}, 1, ?) = ?)", *o.kind_params, *o.value_params, len(prefix), prefix
        )
