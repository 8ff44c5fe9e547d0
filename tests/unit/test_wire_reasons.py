"""msgspec's explanations of a misfit are put in the service's words, and ours are kept."""

from __future__ import annotations

import pytest

from batchite.wire.models import BatchTaskCreateOptions
from batchite.wire.reasons import plain_reason
from batchite.wire.types import TOO_DEEP, WireError, decode


@pytest.mark.parametrize(
    ("reason", "plain"),
    [
        ("Expected `int | null`, got `str`", "The value must be an integer, not a string."),
        ("Expected `str`, got `object`", "The value must be a string, not an object."),
        ("Expected `int | null`, got `bool`", "The value must be an integer, not a boolean."),
        ("Expected `bool | null`, got `str`", "The value must be true or false, not a string."),
        ("Expected `array | null`, got `null`", "The value must be an array, not null."),
        ("Expected `int` <= 9223372036854775807", "The value must be at most 9223372036854775807."),
        ("Expected `int` >= 1", "The value must be at least 1."),
        ("Invalid enum value 'planet'", "The value 'planet' is not one of the values allowed here."),
        ("JSON is malformed: invalid character (byte 44)", "The body is not valid JSON (at byte 44)."),
        ("JSON is malformed: trailing comma in object", "The body is not valid JSON."),
        ("Input data was truncated", "The body ends before its JSON is complete."),
        ("Number out of range", "The number is out of range."),
        ("Expected `str` of length <= 64", "The value is not valid here."),
        ("A duration cannot be negative.", "A duration cannot be negative."),
    ],
)
def test_plain_reason(reason: str, plain: str) -> None:
    assert plain_reason(reason) == plain


def test_a_wire_error_keeps_list_positions_and_plain_words() -> None:
    body = b'{"id": "t", "commandLine": "x", "resourceFiles": [{"httpUrl": "u"}, {"httpUrl": 5}]}'
    with pytest.raises(WireError) as info:
        decode(BatchTaskCreateOptions, body, strict=False)
    assert info.value.path == "resourceFiles.httpUrl"
    assert info.value.steps == ("resourceFiles", 1, "httpUrl")
    assert info.value.reason == "The value must be a string, not an integer."


def test_a_body_nested_past_the_interpreter_s_depth_is_a_wire_error() -> None:
    body = b'{"id": "t", "commandLine": "x", "junk": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    with pytest.raises(WireError) as info:
        decode(BatchTaskCreateOptions, body, strict=False)
    assert info.value.malformed
    assert info.value.reason == TOO_DEEP
