"""The parser: tokens -> Program, by recursive descent with precedence climbing.

Grammar (statements are separated by `;`, a trailing `;` and empty statements are allowed):

    statement := NAME '=' expr | expr
    expr      := binary ('?' expr ':' expr)?
    binary    := unary (BINOP unary)*          -- precedence from nodes.PRECEDENCE, left-associative
    unary     := ('-' | '!') unary | postfix
    postfix   := primary ('.' NAME ('(' args ')')?)*
    primary   := NUMBER | STRING | NAME | NAME '(' args ')' | '(' expr ')' | '[' args ']'
"""

from __future__ import annotations

from batchite.autoscale import catalog
from batchite.autoscale.errors import MAX_NESTING, MAX_STATEMENTS, FormulaSyntaxError, check_formula_length
from batchite.autoscale.lexer import Kind, Token, tokenize
from batchite.autoscale.nodes import (
    PRECEDENCE,
    Assign,
    Call,
    Chain,
    Expr,
    ExprStatement,
    Field,
    Method,
    Name,
    Number,
    Program,
    Statement,
    String,
    Ternary,
    Unary,
    Vector,
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def at(self, text: str) -> bool:
        return self.token.kind is Kind.OP and self.token.text == text

    def error(self, message: str, token: Token | None = None) -> FormulaSyntaxError:
        return FormulaSyntaxError(message, (token or self.token).position, self.text)

    def expect(self, text: str, context: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected '{text}' {context}, found {self.token.describe()}")
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested more than {MAX_NESTING} levels deep")

    def leave(self) -> None:
        self.depth -= 1

    # -- statements ----------------------------------------------------------------------------------------------

    def program(self) -> Program:
        statements: list[Statement] = []
        while self.token.kind is not Kind.EOF:
            if self.at(";"):
                self.advance()
                continue
            statements.append(self.statement())
            if len(statements) > MAX_STATEMENTS:
                raise self.error(f"a formula can have at most {MAX_STATEMENTS} statements", self.tokens[0])
            if self.token.kind is not Kind.EOF:
                self.expect(";", "between statements")
        if not statements:
            raise self.error("the formula has no statements")
        return Program(tuple(statements), self.text)

    def statement(self) -> Statement:
        start = self.token
        following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else start
        if start.kind is Kind.NAME and following.kind is Kind.OP and following.text == "=":
            self.check_assignable(start)
            self.advance()
            self.advance()
            return Assign(start.text, self.expr(), start.position)
        return ExprStatement(self.expr(), start.position)

    def check_assignable(self, token: Token) -> None:
        name = token.text
        if name in catalog.READ_ONLY_VARIABLES:
            raise self.error(f"{name} is a read-only service variable", token)
        if name in catalog.RESERVED_NAMES:
            raise self.error(f"{name} is a constant and cannot be assigned", token)

    # -- expressions ---------------------------------------------------------------------------------------------

    def expr(self) -> Expr:
        start = self.token
        condition = self.binary(1)
        if not self.at("?"):
            return condition
        self.advance()
        self.enter()
        then = self.expr()
        self.expect(":", "in a ?: expression")
        otherwise = self.expr()
        self.leave()
        return Ternary(condition, then, otherwise, start.position)

    def binary_op(self) -> str | None:
        token = self.token
        if token.kind is Kind.OP and token.text in PRECEDENCE:
            return token.text
        return None

    def binary(self, min_precedence: int) -> Expr:
        start = self.token
        left = self.unary()
        while True:
            op = self.binary_op()
            if op is None or PRECEDENCE[op] < min_precedence:
                return left
            level = PRECEDENCE[op]
            operands = [left]
            ops: list[str] = []
            while op is not None and PRECEDENCE[op] == level:
                self.advance()
                ops.append(op)
                operands.append(self.binary(level + 1))
                op = self.binary_op()
            left = Chain(tuple(operands), tuple(ops), start.position)

    def unary(self) -> Expr:
        if self.at("-") or self.at("!"):
            token = self.advance()
            self.enter()
            operand = self.unary()
            self.leave()
            return Unary(token.text, operand, token.position)
        return self.postfix()

    def postfix(self) -> Expr:
        node = self.primary()
        while self.at("."):
            dot = self.advance()
            member = self.token
            if member.kind is not Kind.NAME or member.text.startswith("$"):
                raise self.error(f"expected a member name after '.', found {member.describe()}")
            self.advance()
            if member.text in catalog.SAMPLE_METHODS:
                if not self.at("("):
                    raise self.error(f"{member.text} is a method; call it with ()")
                args = self.arguments(")", member.text, catalog.SAMPLE_METHODS[member.text], member)
                node = Method(node, member.text, args, member.position)
            elif member.text in catalog.TIMESTAMP_FIELDS:
                if self.at("("):
                    raise self.error(f"{member.text} is a timestamp field, not a method")
                node = Field(node, member.text, dot.position)
            else:
                raise self.error(f"unknown member '{member.text}'", member)
        return node

    def primary(self) -> Expr:
        token = self.token
        if token.kind is Kind.NUMBER:
            self.advance()
            return Number(float(token.text), token.text, token.position)
        if token.kind is Kind.STRING:
            self.advance()
            return String(token.text, token.position)
        if token.kind is Kind.NAME:
            self.advance()
            if not self.at("("):
                return Name(token.text, token.position)
            if token.text not in catalog.FUNCTIONS:
                raise self.error(f"unknown function '{token.text}'", token)
            args = self.arguments(")", token.text, catalog.FUNCTIONS[token.text], token)
            return Call(token.text, args, token.position)
        if self.at("("):
            self.advance()
            self.enter()
            inner = self.expr()
            self.leave()
            self.expect(")", "to close '('")
            return inner
        if self.at("["):
            items = self.arguments("]", "", (0, catalog.UNBOUNDED), token)
            return Vector(items, token.position)
        raise self.error(f"expected a value, found {token.describe()}")

    def arguments(self, close: str, name: str, bounds: tuple[int, int], where: Token) -> tuple[Expr, ...]:
        """Parse `(a, b, ...)` or `[a, b, ...]` (the opening bracket is the current token)."""
        self.advance()
        self.enter()
        args: list[Expr] = []
        if not self.at(close):
            args.append(self.expr())
            while self.at(","):
                self.advance()
                args.append(self.expr())
        self.expect(close, "to close the argument list" if name else "to close '['")
        self.leave()
        low, high = bounds
        if name and (len(args) < low or (high != catalog.UNBOUNDED and len(args) > high)):
            raise self.error(f"{name} takes {catalog.arity_text(bounds)} argument(s), got {len(args)}", where)
        return tuple(args)


def parse(formula: str) -> Program:
    """Parse a formula; raise FormulaSyntaxError (FormulaTooLongError beyond MAX_FORMULA_LENGTH)."""
    check_formula_length(formula)
    return _Parser(formula).program()
