"""The lexer: formula text -> tokens. Whitespace, line breaks and `//` comments separate tokens."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from batchite.autoscale.errors import FormulaSyntaxError


class Kind(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    OP = "operator"
    EOF = "end of formula"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    position: int

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of formula"
        if self.kind is Kind.STRING:
            return f'string "{self.text}"'
        return f"'{self.text}'"


TWO_CHAR_OPS = ("<=", ">=", "==", "!=", "&&", "||")
ONE_CHAR_OPS = "+-*/<>!?:=;,().[]"
OPERATORS = frozenset(TWO_CHAR_OPS) | frozenset(ONE_CHAR_OPS)


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str, position: int) -> FormulaSyntaxError:
        return FormulaSyntaxError(message, position, self.text)

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def run(self) -> list[Token]:
        while True:
            self.skip_blanks()
            if self.pos >= len(self.text):
                self.tokens.append(Token(Kind.EOF, "", len(self.text)))
                return self.tokens
            ch = self.peek()
            if _is_digit(ch) or (ch == "." and _is_digit(self.peek(1))):
                self.number()
            elif ch == "$" or _is_name_start(ch):
                self.name()
            elif ch == '"':
                self.string()
            elif self.text.startswith(TWO_CHAR_OPS, self.pos):
                self.tokens.append(Token(Kind.OP, self.text[self.pos : self.pos + 2], self.pos))
                self.pos += 2
            elif ch in ONE_CHAR_OPS:
                self.tokens.append(Token(Kind.OP, ch, self.pos))
                self.pos += 1
            else:
                raise self.error(f"unexpected character {ch!r}", self.pos)

    def skip_blanks(self) -> None:
        while self.pos < len(self.text):
            ch = self.peek()
            if ch in " \t\r\n\f\v":
                self.pos += 1
            elif ch == "/" and self.peek(1) == "/":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end + 1
            else:
                return

    def digits(self) -> None:
        while _is_digit(self.peek()):
            self.pos += 1

    def number(self) -> None:
        start = self.pos
        self.digits()
        if self.peek() == "." and _is_digit(self.peek(1)):
            self.pos += 1
            self.digits()
        if self.peek() in ("e", "E") and (
            _is_digit(self.peek(1)) or (self.peek(1) in ("+", "-") and _is_digit(self.peek(2)))
        ):
            self.pos += 2
            self.digits()
        if _is_name_char(self.peek()) or self.peek() == "$":
            raise self.error(f"malformed number {self.text[start : self.pos + 1]!r}", start)
        self.tokens.append(Token(Kind.NUMBER, self.text[start : self.pos], start))

    def name(self) -> None:
        start = self.pos
        if self.peek() == "$":
            self.pos += 1
            if not _is_name_start(self.peek()):
                raise self.error("'$' must be followed by a variable name", start)
        while _is_name_char(self.peek()):
            self.pos += 1
        self.tokens.append(Token(Kind.NAME, self.text[start : self.pos], start))

    def string(self) -> None:
        start = self.pos
        end = self.text.find('"', start + 1)
        if end < 0:
            raise self.error("unterminated string", start)
        self.tokens.append(Token(Kind.STRING, self.text[start + 1 : end], start))
        self.pos = end + 1


def tokenize(text: str) -> list[Token]:
    """Split a formula into tokens, ending with an EOF token; raises FormulaSyntaxError."""
    return _Lexer(text).run()
