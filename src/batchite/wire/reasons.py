"""The words a client reads when a body does not fit its model.

msgspec explains a misfit in its own terms (``Expected `int | null`, got `str` ``, ``JSON is
malformed: invalid character (byte 44)``); a Batch client should read the service's terms, as
Azure's ``Reason`` values are written: what the value must be, in plain words.
"""

from __future__ import annotations

import re

_KINDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
    "datetime": "a date and time",
    "date": "a date",
    "bytes": "base64 text",
}
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_BOUND = re.compile(r"^Expected `(?P<kind>[^`]+)` (?P<op><=|>=|<|>) (?P<limit>-?[0-9.e+]+)$")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.+)$", re.S)
_MALFORMED = re.compile(r"^JSON is malformed: .*?(?: \(byte (?P<byte>\d+)\))?$", re.S)
_FIXED = {
    "Input data was truncated": "The body ends before its JSON is complete.",
    "Invalid UTF-8 encoded string": "The body is not valid UTF-8.",
    "Number out of range": "The number is out of range.",
    "Invalid RFC3339 encoded datetime": "The value must be a date and time such as 2025-01-31T08:00:00Z.",
}
_BOUND_WORDS = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}


def _kind(name: str) -> str:
    return _KINDS.get(name.strip(), name.strip())


def plain_reason(reason: str) -> str:
    """A msgspec explanation in the service's words (one of ours is returned as it is)."""
    if reason in _FIXED:
        return _FIXED[reason]
    if match := _EXPECTED.match(reason):
        wanted = [_kind(k) for k in match.group("want").split("|") if k.strip() != "null"]
        got = "a boolean" if match.group("got") == "bool" else _kind(match.group("got"))
        return f"The value must be {' or '.join(wanted) or 'null'}, not {got}."
    if match := _BOUND.match(reason):
        return f"The value must be {_BOUND_WORDS[match.group('op')]} {match.group('limit')}."
    if match := _ENUM.match(reason):
        return f"The value {match.group('value')} is not one of the values allowed here."
    if reason.startswith("Object missing required field"):
        return "The property is required."
    if match := _MALFORMED.match(reason):
        at = match.group("byte")
        return "The body is not valid JSON" + (f" (at byte {at})." if at else ".")
    if "`" in reason:  # another of msgspec's explanations: none of its terms go out
        return "The value is not valid here."
    return reason
