"""The syntax tree of a formula, and `unparse` (tree -> canonical formula text).

Positions are 0-based offsets into the formula and take no part in equality, so a program parsed from
`unparse(program)` compares equal to `program`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6}
"""Binary operators, loosest first: || then && then equality, relational, additive, multiplicative.
Unary `-`/`!` bind tighter than all of them, `?:` looser than all (and associates to the right)."""


@dataclass(frozen=True)
class Number:
    value: float
    text: str = field(compare=False)
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class String:
    value: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Vector:
    """`[a, b, c]`: a doubleVec built from doubles and doubleVecs (flattened)."""

    items: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Field:
    """`target.hour`: a member of a timestamp."""

    target: Expr
    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Method:
    """`$CPUPercent.GetSample(...)`: a sample method on a service variable."""

    target: Expr
    name: str
    args: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Chain:
    """Operands joined by operators of one precedence level, folded left to right: `a - b + c`."""

    operands: tuple[Expr, ...]
    ops: tuple[str, ...]
    pos: int = field(default=0, compare=False)

    @property
    def precedence(self) -> int:
        return PRECEDENCE[self.ops[0]]


@dataclass(frozen=True)
class Ternary:
    condition: Expr
    then: Expr
    otherwise: Expr
    pos: int = field(default=0, compare=False)


Expr = Number | String | Name | Vector | Call | Field | Method | Unary | Chain | Ternary


@dataclass(frozen=True)
class Assign:
    target: str
    value: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ExprStatement:
    expr: Expr
    pos: int = field(default=0, compare=False)


Statement = Assign | ExprStatement


@dataclass(frozen=True)
class Program:
    statements: tuple[Statement, ...]
    source: str = field(default="", compare=False, repr=False)

    def assigned_names(self) -> list[str]:
        """Names assigned anywhere in the formula, in first-assignment order."""
        seen: dict[str, None] = {}
        for statement in self.statements:
            if isinstance(statement, Assign):
                seen.setdefault(statement.target, None)
        return list(seen)


def _wrap(text: str) -> str:
    return f"({text})"


def expr_text(node: Expr) -> str:
    """Canonical text of an expression, with parentheses only where the tree needs them."""
    if isinstance(node, Number):
        return node.text
    if isinstance(node, String):
        return f'"{node.value}"'
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Vector):
        return "[" + ", ".join(expr_text(item) for item in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(expr_text(arg) for arg in node.args) + ")"
    if isinstance(node, Field | Method):
        target = expr_text(node.target)
        if isinstance(node.target, Chain | Ternary | Unary):
            target = _wrap(target)
        if isinstance(node, Field):
            return f"{target}.{node.name}"
        return f"{target}.{node.name}(" + ", ".join(expr_text(arg) for arg in node.args) + ")"
    if isinstance(node, Unary):
        operand = expr_text(node.operand)
        if isinstance(node.operand, Chain | Ternary):
            operand = _wrap(operand)
        return f"{node.op}{operand}"
    if isinstance(node, Chain):
        parts = [_operand_text(operand, node.precedence) for operand in node.operands]
        out = parts[0]
        for op, part in zip(node.ops, parts[1:], strict=True):
            out += f" {op} {part}"
        return out
    condition = expr_text(node.condition)
    if isinstance(node.condition, Ternary):
        condition = _wrap(condition)
    return f"{condition} ? {expr_text(node.then)} : {expr_text(node.otherwise)}"


def _operand_text(operand: Expr, precedence: int) -> str:
    text = expr_text(operand)
    if isinstance(operand, Ternary) or (isinstance(operand, Chain) and operand.precedence <= precedence):
        return _wrap(text)
    return text


def statement_text(statement: Statement) -> str:
    if isinstance(statement, Assign):
        return f"{statement.target} = {expr_text(statement.value)}"
    return expr_text(statement.expr)


def unparse(program: Program) -> str:
    """Canonical formula text: one statement a line, each ended by `;`."""
    return "".join(statement_text(statement) + ";\n" for statement in program.statements)
