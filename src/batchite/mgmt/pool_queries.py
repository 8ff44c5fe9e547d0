"""`$filter` and `$select` of Pool_ListByBatchAccount, applied to the ARM bodies of the pools.

`$filter` is the OData subset ARM documents for pools: `eq`, `ne`, `gt`, `ge`, `lt`, `le`,
`startswith(field, 'text')`, `endswith(...)`, `and`, `or`, `not` and parentheses, on `name` and
`properties/{allocationState, allocationStateTransitionTime, creationTime, provisioningState,
provisioningStateTransitionTime, lastModified, vmSize, interNodeCommunication}` and
`properties/scaleSettings/{autoScale, fixedScale}` (compared with `null`). Strings compare without
regard to case; times as times. Anything else is 400 InvalidFilter. `$select` names top-level
properties (`properties/vmSize`); a pool then shows its id, name, type, etag and those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from batchite.mgmt.errors import ArmError

STRING_FIELDS = frozenset(
    {
        "name",
        "properties/allocationstate",
        "properties/provisioningstate",
        "properties/vmsize",
        "properties/internodecommunication",
    }
)
TIME_FIELDS = frozenset(
    {
        "properties/allocationstatetransitiontime",
        "properties/creationtime",
        "properties/provisioningstatetransitiontime",
        "properties/lastmodified",
    }
)
PRESENCE_FIELDS = frozenset({"properties/scalesettings/autoscale", "properties/scalesettings/fixedscale"})
SELECTABLE = frozenset(
    {
        "displayName", "lastModified", "creationTime", "provisioningState", "provisioningStateTransitionTime",
        "allocationState", "allocationStateTransitionTime", "vmSize", "deploymentConfiguration",
        "currentDedicatedNodes", "currentLowPriorityNodes", "scaleSettings", "autoScaleRun",
        "interNodeCommunication", "networkConfiguration", "taskSlotsPerNode", "taskSchedulingPolicy",
        "userAccounts", "metadata", "startTask", "applicationPackages", "resizeOperationStatus",
        "mountConfiguration", "upgradePolicy",
    }
)  # fmt: skip

Item = dict[str, Any]
Predicate = Callable[[Item], bool]
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def invalid_filter(text: str, why: str) -> ArmError:
    return ArmError(400, "InvalidFilter", f"The $filter '{text}' is not valid: {why}", target="$filter")


def _value(item: Item, field: str) -> Any:
    value: Any = item
    for part in field.split("/"):
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if k.lower() == part), None)
    return value


def _time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) or b(item)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) and b(item)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if text[pos:].strip():
                    raise invalid_filter(text, f"unexpected text at position {pos}.")
                break
            self.tokens.append(match.group(match.lastgroup or "word"))
            pos = match.end()
        self.at = 0

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _next(self) -> str:
        token = self._peek()
        if token is None:
            raise invalid_filter(self.text, "it ends too early.")
        self.at += 1
        return token

    def _expect(self, token: str) -> None:
        if self._next() != token:
            raise invalid_filter(self.text, f"'{token}' expected.")

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise invalid_filter(self.text, f"unexpected '{self._peek()}'.")
        return predicate

    def _or(self) -> Predicate:
        left = self._and()
        while (self._peek() or "").lower() == "or":
            self._next()
            left = _either(left, self._and())
        return left

    def _and(self) -> Predicate:
        left = self._unary()
        while (self._peek() or "").lower() == "and":
            self._next()
            left = _both(left, self._unary())
        return left

    def _unary(self) -> Predicate:
        token = self._next()
        if token.lower() == "not":
            inner = self._unary()
            return lambda i: not inner(i)
        if token == "(":
            inner = self._or()
            self._expect(")")
            return inner
        if token.lower() in ("startswith", "endswith"):
            return self._function(token.lower())
        return self._comparison(token)

    def _field(self, token: str) -> str:
        field = token.lower()
        if field not in STRING_FIELDS | TIME_FIELDS | PRESENCE_FIELDS:
            raise invalid_filter(self.text, f"'{token}' cannot be filtered on.")
        return field

    def _string(self) -> str:
        token = self._next()
        if not (token.startswith("'") and token.endswith("'") and len(token) >= 2):
            raise invalid_filter(self.text, f"a quoted string expected, not '{token}'.")
        return token[1:-1].replace("''", "'")

    def _function(self, name: str) -> Predicate:
        self._expect("(")
        field = self._field(self._next())
        if field not in STRING_FIELDS:
            raise invalid_filter(self.text, f"{name} takes a text property.")
        self._expect(",")
        text = self._string().lower()
        self._expect(")")

        def check(item: Item) -> bool:
            value = _value(item, field)
            if not isinstance(value, str):
                return False
            return value.lower().startswith(text) if name == "startswith" else value.lower().endswith(text)

        return check

    def _comparison(self, token: str) -> Predicate:
        field = self._field(token)
        op = self._next().lower()
        compare = _COMPARE.get(op)
        if compare is None:
            raise invalid_filter(self.text, f"'{op}' is not a comparison operator.")
        literal = self._next()
        if field in PRESENCE_FIELDS:
            if literal.lower() != "null" or op not in ("eq", "ne"):
                raise invalid_filter(self.text, f"'{token}' can only be compared with null (eq, ne).")
            return lambda i: compare(_value(i, field) is None, True)
        if field in TIME_FIELDS:
            when = _time(literal.strip("'"))
            if when is None:
                raise invalid_filter(self.text, f"'{literal}' is not a time.")

            def at(item: Item) -> bool:
                value = _value(item, field)
                seen = _time(value) if isinstance(value, str) else None
                return seen is not None and bool(compare(seen, when))

            return at
        self.at -= 1
        text = self._string().lower()

        def equals(item: Item) -> bool:
            value = _value(item, field)
            return isinstance(value, str) and bool(compare(value.lower(), text))

        return equals


def pool_filter(text: str | None) -> Predicate | None:
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def pool_select(text: str | None) -> Callable[[Item], Item] | None:
    if text is None or not text.strip():
        return None
    names: set[str] = set()
    for raw in text.split(","):
        part = raw.strip()
        head, _, name = part.partition("/")
        chosen = next((s for s in SELECTABLE if s.lower() == name.lower()), None)
        if head.lower() != "properties" or chosen is None:
            raise ArmError(
                400,
                "InvalidSelect",
                f"The $select '{text}' is not valid: '{part}' is not a top-level property under properties/.",
                target="$select",
            )
        names.add(chosen)

    def select(item: Item) -> Item:
        properties = {k: v for k, v in item["properties"].items() if k in names}
        return {**item, "properties": properties}

    return select
