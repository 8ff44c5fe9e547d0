"""The lexer of OData `$filter` expressions: tokens, string, number and datetime literals."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from batchite.clock import to_utc
from batchite.domain.errors import BatchError
from batchite.domain.filters import Value

_MESSAGE = "Value for one of the query parameters specified in the request URI is invalid."


def filter_error(text: str, reason: str) -> BatchError:
    return BatchError(
        400,
        "InvalidQueryParameterValue",
        _MESSAGE,
        [("QueryParameterName", "$filter"), ("QueryParameterValue", text), ("Reason", reason)],
    )


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", ",", "string", "number", "datetime", "word", "end"
    text: str  # source text (for words: the name or path; for strings: the unescaped value)
    pos: int
    value: Value = None


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_WORD = re.compile(rf"{_NAME}(?:/{_NAME})*")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INT64 = (-(2**63), 2**63 - 1)
_SPACE = " \t\r\n"
MAX_DEPTH = 25  # nested parentheses / `not`s (the parser counts both; the lexer stops at parentheses)


def lex(text: str) -> list[Token]:
    if not isinstance(text, str) or not text.strip():
        raise filter_error(text if isinstance(text, str) else "", "The filter is empty.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise filter_error(text, "The filter contains characters that are not valid Unicode.") from None
    if "\x00" in text:  # SQLite's string functions stop at NUL
        raise filter_error(text, f"The filter contains a NUL character at position {text.index(chr(0))}.")
    tokens: list[Token] = []
    i, n, depth = 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif ch in "(),":
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth > MAX_DEPTH + 1:  # one more for a startswith( inside the deepest parentheses
                raise filter_error(text, f"The filter nests more than {MAX_DEPTH} levels deep.")
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch == "'":
            value, end = _string(text, i)
            tokens.append(Token("string", value, i, value))
            i = end
        elif ch.isascii() and (ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit())):
            m = _NUMBER.match(text, i)
            assert m is not None
            tokens.append(Token("number", m.group(), i, _number(text, m)))
            i = m.end()
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            m = _WORD.match(text, i)
            assert m is not None
            word, end = m.group(), m.end()
            if word.lower() == "datetime" and end < n and text[end] == "'":
                raw, end = _string(text, end)
                tokens.append(Token("datetime", text[i:end], i, _datetime(text, raw)))
            else:
                if end < n and text[end] == "/":
                    raise filter_error(text, f"Invalid property path at position {end}.")
                tokens.append(Token("word", word, i))
            i = end
        else:
            raise filter_error(text, f"Unexpected character {ch!r} at position {i}.")
    tokens.append(Token("end", "", n))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """The unescaped value of the quoted string at `start`, and the index after it."""
    parts: list[str] = []
    i = start + 1
    while True:
        j = text.find("'", i)
        if j < 0:
            raise filter_error(text, f"Unterminated string literal at position {start}.")
        parts.append(text[i:j])
        if j + 1 < len(text) and text[j + 1] == "'":
            parts.append("'")
            i = j + 2
        else:
            return "".join(parts), j + 1


def _number(text: str, m: re.Match[str]) -> int | float:
    if m.group(1) is None and m.group(2) is None:
        digits = m.group().lstrip("-").lstrip("0") or "0"  # int() refuses more than 4,300 digits
        if len(digits) > 19:
            raise filter_error(text, f"The integer at position {m.start()} is out of range.")
        value = -int(digits) if m.group().startswith("-") else int(digits)
        if not _INT64[0] <= value <= _INT64[1]:
            raise filter_error(text, f"The integer at position {m.start()} is out of range.")
        return value
    number = float(m.group())
    if not math.isfinite(number):
        raise filter_error(text, f"The number at position {m.start()} is out of range.")
    return number


_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?")


def _datetime(text: str, raw: str) -> datetime:
    value = raw.strip()
    try:
        m = _ISO.fullmatch(value)
        if m:
            date, hm, sec, frac, zone = m.groups()
            iso = f"{date}T{hm or '00:00'}:{sec or '00'}.{((frac or '') + '000000')[:6]}"
            if zone and zone not in ("Z", "z"):
                iso += zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
            parsed = datetime.fromisoformat(iso)
        else:
            parsed = parsedate_to_datetime(value)  # RFC 1123: 'Sun, 08 May 2011 08:49:37 GMT'
        return to_utc(parsed)
    except Exception:  # the RFC 1123 parser has raised more than ValueError on odd input
        raise filter_error(text, f"The DateTime value '{raw}' is not a valid date and time.") from None
