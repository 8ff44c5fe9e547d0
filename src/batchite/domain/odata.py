"""`$filter` of Batch list operations: a lexer, a recursive-descent parser, and the filterable properties.

Grammar (keywords, operators, `true`/`false`/`null`, `startswith` and the `DateTime` prefix are
case-insensitive; property names are case-sensitive, as Batch documents):

    filter     := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | primary
    primary    := "(" or_expr ")"
                | "startswith" "(" path "," string ")" [("eq" | "ne") ("true" | "false")]
                | path op literal
    op         := "eq" | "ne" | "gt" | "ge" | "lt" | "le"
    path       := name ("/" name)*          name := [A-Za-z_][A-Za-z0-9_]*
    literal    := string | number | "true" | "false" | "null" | datetime
    string     := "'" ( [^'] | "''" )* "'"
    number     := "-"? digits ("." digits)? ([eE] [+-]? digits)?   (an integer unless it has . or e)
    datetime   := ("DateTime" | "datetime") "'" (RFC 3339 | RFC 1123) "'"

Every malformed input raises `BatchError(400, "InvalidQueryParameterValue", ...)` naming `$filter`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

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
)
from batchite.domain.odata_lexer import MAX_DEPTH, Token, filter_error, lex

# -- what each list operation may filter on ---------------------------------------------------
# From the Batch REST doc "OData filters in Azure Batch" (rest/api/batchservice/odata-filters-in-batch).
# Types: "string" (eq ne gt ge lt le startswith), "enum" (eq ne), "bool" (eq ne), "int" and
# "datetime" (eq ne gt ge lt le). OPERATIONS narrows a few properties further, as documented.
_JOB_COMMON: dict[str, str] = {
    "state": "enum",
    "stateTransitionTime": "datetime",
    "creationTime": "datetime",
    "lastModified": "datetime",
    "executionInfo/startTime": "datetime",
    "executionInfo/endTime": "datetime",
    "executionInfo/poolId": "string",
}

FILTERABLE: dict[str, dict[str, str]] = {
    "pools": {
        "id": "string",
        "state": "enum",
        "stateTransitionTime": "datetime",
        "allocationState": "enum",
        "allocationStateTransitionTime": "datetime",
        "creationTime": "datetime",
        "enableAutoScale": "bool",
        "lastModified": "datetime",
        "vmSize": "string",
        "enableInterNodeCommunication": "bool",
    },
    "jobs": {"id": "string", **_JOB_COMMON},
    "jobsfromschedule": dict(_JOB_COMMON),
    "jobschedules": {
        "id": "string",
        "state": "enum",
        "stateTransitionTime": "datetime",
        "creationTime": "datetime",
        "lastModified": "datetime",
        "executionInfo/endTime": "datetime",
        "schedule/doNotRunUntil": "datetime",
        "schedule/doNotRunAfter": "datetime",
    },
    "tasks": {
        "id": "string",
        "state": "enum",
        "stateTransitionTime": "datetime",
        "creationTime": "datetime",
        "lastModified": "datetime",
        "executionInfo/startTime": "datetime",
        "executionInfo/endTime": "datetime",
        "executionInfo/exitCode": "int",
        "executionInfo/result": "enum",
    },
    "nodes": {
        "state": "enum",
        "stateTransitionTime": "datetime",
        "lastBootTime": "datetime",
        "allocationTime": "datetime",
        "startTaskInfo/state": "enum",
        "startTaskInfo/result": "enum",
        "startTaskInfo/exitCode": "int",
        "startTaskInfo/startTime": "datetime",
        "startTaskInfo/endTime": "datetime",
    },
    "files": {"name": "string"},
    "supportedimages": {"osType": "enum", "verificationType": "enum", "nodeAgentSKUId": "string"},
    "nodecounts": {"poolId": "string"},
    "poolusagemetrics": {"poolId": "string", "startTime": "datetime", "endTime": "datetime"},
    "jobpreparationandreleasetaskstatus": {
        "poolId": "string",
        "nodeId": "string",
        "jobPreparationTaskExecutionInfo/state": "enum",
        "jobPreparationTaskExecutionInfo/startTime": "datetime",
        "jobPreparationTaskExecutionInfo/endTime": "datetime",
        "jobPreparationTaskExecutionInfo/exitCode": "int",
        "jobPreparationTaskExecutionInfo/result": "enum",
        "jobReleaseTaskExecutionInfo/state": "enum",
        "jobReleaseTaskExecutionInfo/startTime": "datetime",
        "jobReleaseTaskExecutionInfo/endTime": "datetime",
        "jobReleaseTaskExecutionInfo/exitCode": "int",
        "jobReleaseTaskExecutionInfo/result": "enum",
    },
    "certificates": {"state": "enum", "stateTransitionTime": "datetime"},
    "subtasks": {},  # List Subtasks takes no $filter
}

# Where the doc allows fewer operations than the property's type does ("startswith" included).
OPERATIONS: dict[str, dict[str, frozenset[str]]] = {
    "files": {"name": frozenset({"startswith"})},
    "nodecounts": {"poolId": frozenset({"eq"})},
    "poolusagemetrics": {"poolId": frozenset({"eq", "ge", "gt", "le", "lt", "startswith"})},
}

_ALL_OPS = frozenset(op.value for op in CompareOp)
_TYPE_OPS: dict[str, frozenset[str]] = {
    "string": _ALL_OPS | {"startswith"},
    "enum": frozenset({"eq", "ne"}),
    "bool": frozenset({"eq", "ne"}),
    "int": _ALL_OPS,
    "datetime": _ALL_OPS,
}

MAX_TERMS = 500  # comparisons and startswith calls in one filter


def parse_filter(
    text: str,
    allowed: Mapping[str, str] | None = None,
    *,
    operations: Mapping[str, Collection[str]] | None = None,
) -> Filter:
    """Parse a `$filter` value. With `allowed` (property path -> type, e.g. `FILTERABLE["tasks"]`),
    reject other properties, and literals or operators the property's type does not take;
    `operations` (property path -> allowed operator names) narrows operators further."""
    parser = _Parser(text, lex(text))
    result = parser.parse()
    if allowed is not None:
        _check(result, text, allowed, operations or {})
    return result


def parse_list_filter(operation: str, text: str) -> Filter:
    """Parse a `$filter` for a list operation named as in FILTERABLE ("tasks", "pools", ...)."""
    return parse_filter(text, FILTERABLE[operation], operations=OPERATIONS.get(operation))


# -- parser -------------------------------------------------------------------------------------
_KEYWORDS = frozenset({"and", "or", "not", "true", "false", "null", "startswith", *(op.value for op in CompareOp)})


class _Parser:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.terms = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def _advance(self) -> Token:
        tok = self.tok
        if tok.kind != "end":
            self.i += 1
        return tok

    def _fail(self, expected: str) -> BatchError:
        tok = self.tok
        if tok.kind == "end":
            return filter_error(self.text, f"Unexpected end of the filter; expected {expected}.")
        shown = self.text[tok.pos : tok.pos + 40]
        return filter_error(self.text, f"Unexpected '{shown}' at position {tok.pos}; expected {expected}.")

    def _expect(self, kind: str, expected: str) -> Token:
        if self.tok.kind != kind:
            raise self._fail(expected)
        return self._advance()

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise filter_error(self.text, f"The filter nests more than {MAX_DEPTH} levels deep.")

    def _term(self) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise filter_error(self.text, f"The filter has more than {MAX_TERMS} conditions.")

    # grammar
    def parse(self) -> Filter:
        result = self._or()
        if self.tok.kind != "end":
            raise self._fail("'and', 'or' or the end of the filter")
        return result

    def _or(self) -> Filter:
        operands = [self._and()]
        while self._is_word("or"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Filter:
        operands = [self._unary()]
        while self._is_word("and"):
            self._advance()
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _unary(self) -> Filter:
        if self._is_word("not"):
            self._advance()
            self._enter()
            operand = self._unary()
            self.depth -= 1
            return Not(operand)
        return self._primary()

    def _primary(self) -> Filter:
        tok = self.tok
        if tok.kind == "(":
            self._advance()
            self._enter()
            inner = self._or()
            self._expect(")", "')'")
            self.depth -= 1
            return inner
        if tok.kind != "word":
            raise self._fail("a property name, 'startswith', 'not' or '('")
        nxt = self.tokens[self.i + 1]
        if nxt.kind == "(":
            if tok.text.lower() != "startswith":
                raise filter_error(self.text, f"The function '{tok.text}' is not supported; only startswith is.")
            return self._startswith()
        if tok.text.lower() in _KEYWORDS:
            raise self._fail("a property name")
        self._advance()
        self._term()
        if self.tok.kind != "word" or self.tok.text.lower() not in _ALL_OPS:
            if self.tok.kind == "word":
                raise filter_error(self.text, f"Unknown operator '{self.tok.text}' at position {self.tok.pos}.")
            raise self._fail("a comparison operator (eq, ne, gt, ge, lt, le)")
        op = CompareOp(self._advance().text.lower())
        value = self._literal()
        if value is None and op in ORDERING_OPS:
            raise filter_error(self.text, f"null can only be compared with eq or ne (property '{tok.text}').")
        if isinstance(value, bool) and op in ORDERING_OPS:
            raise filter_error(self.text, f"true and false can only be compared with eq or ne (property '{tok.text}').")
        return Comparison(tok.text, op, value)

    def _startswith(self) -> Filter:
        self._advance()  # startswith
        self._advance()  # (
        self._term()
        prop = self._expect("word", "a property name")
        if prop.text.lower() in _KEYWORDS:
            raise filter_error(self.text, f"Expected a property name at position {prop.pos}.")
        self._expect(",", "','")
        prefix = self._expect("string", "a quoted string")
        self._expect(")", "')'")
        result: Filter = StartsWith(prop.text, prefix.text)
        if self._is_word("eq", "ne"):  # the OData v3 spelling: startswith(id, 'a') eq true
            negate = self._advance().text.lower() == "ne"
            if not self._is_word("true", "false"):
                raise self._fail("true or false")
            if (self._advance().text.lower() == "false") != negate:
                result = Not(result)
        return result

    def _literal(self) -> Value:
        tok = self.tok
        if tok.kind in ("string", "number", "datetime"):
            self._advance()
            return tok.value
        if self._is_word("true", "false", "null"):
            self._advance()
            return {"true": True, "false": False, "null": None}[tok.text.lower()]
        raise self._fail("a value (a quoted string, a number, true, false, null or DateTime'...')")


# -- checks against the operation's filterable properties ---------------------------------------
def _check(f: Filter, text: str, allowed: Mapping[str, str], operations: Mapping[str, Collection[str]]) -> None:
    if isinstance(f, And | Or):
        for operand in f.operands:
            _check(operand, text, allowed, operations)
        return
    if isinstance(f, Not):
        _check(f.operand, text, allowed, operations)
        return
    kind = allowed.get(f.prop)
    if kind is None:
        raise filter_error(text, f"The property '{f.prop}' cannot be used in a filter for this list operation.")
    op = "startswith" if isinstance(f, StartsWith) else f.op.value
    permitted = operations.get(f.prop, _TYPE_OPS.get(kind, frozenset()))
    if op not in permitted:
        raise filter_error(text, f"The operator '{op}' cannot be used with the property '{f.prop}'.")
    if isinstance(f, Comparison) and f.value is not None and not _fits(kind, f.value):
        raise filter_error(text, f"The value {_describe(f.value)} does not match the type of '{f.prop}' ({kind}).")


def _fits(kind: str, value: Value) -> bool:
    if kind in ("string", "enum"):
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "datetime":
        return isinstance(value, datetime)
    return False


def _describe(value: Value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return repr(value)
