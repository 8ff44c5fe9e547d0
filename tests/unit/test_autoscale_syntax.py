"""Autoscale formulas: the lexer, the parser, precedence, limits and syntax errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batchite.autoscale import (
    MAX_FORMULA_LENGTH,
    MAX_NESTING,
    MAX_STATEMENTS,
    EvaluationInputs,
    FormulaSyntaxError,
    FormulaTooLongError,
    check_formula_length,
    evaluate,
    parse,
    unparse,
)
from batchite.autoscale.lexer import Kind, tokenize
from batchite.autoscale.nodes import Assign, Call, Chain, ExprStatement, Field, Method, Name, Number, Ternary, Unary
from batchite.domain.errors import BatchError

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def value_of(expression: str) -> object:
    result = evaluate(parse(f"x = {expression};"), EvaluationInputs(now=NOW))
    assert result.error is None, result.error
    return result.variables["x"]


# -- lexer -----------------------------------------------------------------------------------------------------------


def test_tokens() -> None:
    tokens = tokenize('$a=1.5e3 ;b<=-.5//note\n"x y"!=c&&d||!e')
    assert [(t.kind, t.text) for t in tokens] == [
        (Kind.NAME, "$a"),
        (Kind.OP, "="),
        (Kind.NUMBER, "1.5e3"),
        (Kind.OP, ";"),
        (Kind.NAME, "b"),
        (Kind.OP, "<="),
        (Kind.OP, "-"),
        (Kind.NUMBER, ".5"),
        (Kind.STRING, "x y"),
        (Kind.OP, "!="),
        (Kind.NAME, "c"),
        (Kind.OP, "&&"),
        (Kind.NAME, "d"),
        (Kind.OP, "||"),
        (Kind.OP, "!"),
        (Kind.NAME, "e"),
        (Kind.EOF, ""),
    ]
    assert [t.position for t in tokens[:4]] == [0, 2, 3, 9]


def test_comments_and_line_breaks_are_blanks() -> None:
    program = parse("// leading comment\na = 1 // trailing\n  + 2;\n// last line without newline")
    assert program.statements == (Assign("a", Chain((Number(1.0, "1"), Number(2.0, "2")), ("+",))),)


def test_single_slash_is_division() -> None:
    assert value_of("8 / 2") == 4.0


# -- statements ------------------------------------------------------------------------------------------------------


def test_statements_separator_and_optional_trailing_semicolon() -> None:
    assert len(parse("a = 1; b = 2").statements) == 2
    assert len(parse("a = 1;; ;b = 2;;").statements) == 2
    assert isinstance(parse("stop();").statements[0], ExprStatement)


def test_user_variables_with_and_without_dollar_are_distinct() -> None:
    result = evaluate(parse("$n = 1; n = 2; $TargetDedicatedNodes = $n + n"), EvaluationInputs(now=NOW))
    assert result.target_dedicated == 3
    assert result.results.endswith(";$n=1;n=2")


def test_function_names_can_be_variables() -> None:
    result = evaluate(parse("round = 3; $round = round(2.5); max = max(1, 2)"), EvaluationInputs(now=NOW))
    assert result.error is None
    assert dict(result.variables) == {"round": 3.0, "$round": 3.0, "max": 2.0}


# -- precedence ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),
        ("12 / 3 / 2", 2.0),
        ("2 * 3 + 4 * 5", 26.0),
        ("-2 * 3", -6.0),
        ("- -2", 2.0),
        ("!0 + 1", 2.0),
        ("!(0 + 1)", 0.0),
        ("1 + 2 < 4", 1.0),
        ("1 < 2 == 1", 1.0),
        ("3 == 2 < 3", 0.0),
        ("2 != 1 + 1", 0.0),
        ("0 && 1 || 1", 1.0),
        ("1 || 0 && 0", 1.0),
        ("(1 || 0) && 0", 0.0),
        ("1 == 1 && 2 == 3", 0.0),
        ("1 ? 2 : 3 + 4", 2.0),
        ("0 ? 2 : 3 + 4", 7.0),
        ("1 + 1 ? 5 : 6", 5.0),
        ("0 ? 1 : 0 ? 2 : 3", 3.0),
        ("1 ? 0 ? 8 : 9 : 3", 9.0),
        ("(1 ? 0 : 1) ? 8 : 9", 9.0),
        ("-time().hour", -12.0),
        ("0 < 1 < 2", 1.0),
    ],
)
def test_precedence(expression: str, expected: float) -> None:
    assert value_of(expression) == expected


def test_tree_shapes() -> None:
    (statement,) = parse("x = a || b && c == d < e + f * -g.hour ? 1 : 2").statements
    assert isinstance(statement, Assign)
    ternary = statement.value
    assert isinstance(ternary, Ternary)
    cond = ternary.condition
    assert isinstance(cond, Chain) and cond.ops == ("||",)
    conjunction = cond.operands[1]
    assert isinstance(conjunction, Chain) and conjunction.ops == ("&&",)
    equality = conjunction.operands[1]
    assert isinstance(equality, Chain) and equality.ops == ("==",)
    relational = equality.operands[1]
    assert isinstance(relational, Chain) and relational.ops == ("<",)
    additive = relational.operands[1]
    assert isinstance(additive, Chain) and additive.ops == ("+",)
    product = additive.operands[1]
    assert isinstance(product, Chain) and product.ops == ("*",)
    negation = product.operands[1]
    assert negation == Unary("-", Field(Name("g"), "hour"))


def test_method_and_call_shapes() -> None:
    (statement,) = parse("avg($CPUPercent.GetSample(TimeInterval_Minute * 5))").statements
    assert isinstance(statement, ExprStatement)
    call = statement.expr
    assert isinstance(call, Call) and call.name == "avg"
    method = call.args[0]
    assert isinstance(method, Method)
    assert method.target == Name("$CPUPercent")
    assert method.name == "GetSample"


# -- unparse ---------------------------------------------------------------------------------------------------------


def test_unparse_keeps_needed_parentheses_only() -> None:
    program = parse("x=((a-(b-c))*(d+e)/f);y=-(a+b);z=(c?d:e)?f:g;w=(time()+TimeInterval_Hour).hour;v=[1,(2)]")
    assert unparse(program) == (
        "x = (a - (b - c)) * (d + e) / f;\n"
        "y = -(a + b);\n"
        "z = (c ? d : e) ? f : g;\n"
        "w = (time() + TimeInterval_Hour).hour;\n"
        "v = [1, 2];\n"
    )
    assert parse(unparse(program)) == program


# -- syntax errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "line", "column", "fragment"),
    [
        ("a = ", 1, 5, "expected a value"),
        ("a = 1 +* 2", 1, 8, "expected a value, found '*'"),
        ("a = 1 2", 1, 7, "expected ';' between statements"),
        ("a = (1 + 2", 1, 11, "expected ')'"),
        ("a = 1 % 2", 1, 7, "unexpected character '%'"),
        ("a = 1 & 2", 1, 7, "unexpected character '&'"),
        ("a = 1 | 2", 1, 7, "unexpected character '|'"),
        ('a = "open', 1, 5, "unterminated string"),
        ("a = $ 1", 1, 5, "'$' must be followed"),
        ("a = 12abc", 1, 5, "malformed number"),
        ("x = 1;\n$CPUPercent = 2", 2, 1, "$CPUPercent is a read-only service variable"),
        ("$CurrentDedicatedNodes = 2", 1, 1, "read-only"),
        ("TimeInterval_Second = 2", 1, 1, "constant"),
        ("taskcompletion = 2", 1, 1, "constant"),
        ("x = foo(1)", 1, 5, "unknown function 'foo'"),
        ("x = $CPUPercent.Average()", 1, 17, "unknown member 'Average'"),
        ("x = $CPUPercent.GetSample", 1, 26, "is a method"),
        ("x = time().hour()", 1, 16, "timestamp field, not a method"),
        ("x = val(1)", 1, 5, "val takes 2 argument(s), got 1"),
        ("x = rand(1)", 1, 5, "rand takes 0 argument(s)"),
        ("x = time(1, 2)", 1, 5, "time takes 0 to 1 argument(s)"),
        ("x = ln()", 1, 5, "ln takes at least 1 argument(s)"),
        ("x = $CPUPercent.GetSample(1, 2, 3, 4)", 1, 17, "GetSample takes 1 to 3"),
        ("x = $CPUPercent.Count(1)", 1, 17, "Count takes 0"),
        ("x = a.$b", 1, 7, "expected a member name"),
        ("x = [1, 2", 1, 10, "to close '['"),
        ("x = 1 ? 2", 1, 10, "expected ':'"),
        ("1 = 2", 1, 3, "expected ';' between statements, found '='"),
        ("", 1, 1, "no statements"),
        (";;\n// only a comment", 2, 18, "no statements"),
        ("x = 1;\n  y = é", 2, 7, "unexpected character 'é'"),
    ],
)
def test_syntax_errors_name_the_position(formula: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        parse(formula)
    error = caught.value
    assert fragment in error.detail
    assert (error.line, error.column) == (line, column)
    assert error.message == f"Line {line}, Col {column}: {error.detail}"
    assert str(error) == error.message
    assert error.code == "AutoScalingFormulaSyntaxError"
    assert error.status == 400
    assert error.values == [("Message", error.message)]
    assert isinstance(error, BatchError)


def test_syntax_error_position_is_an_offset() -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        parse("a = 1;\nb = )")
    assert caught.value.position == 11


# -- limits ----------------------------------------------------------------------------------------------------------


def test_formula_length_limit() -> None:
    longest = "x = 1;" + " " * (MAX_FORMULA_LENGTH - 6)
    assert len(longest) == MAX_FORMULA_LENGTH == 8192
    parse(longest)
    check_formula_length(longest)
    with pytest.raises(FormulaTooLongError) as caught:
        parse(longest + " ")
    assert caught.value.code == "AutoScaleFormulaTooLong"
    assert caught.value.status == 400
    assert isinstance(caught.value, FormulaSyntaxError)
    with pytest.raises(FormulaTooLongError):
        check_formula_length("x" * 9000)


def test_statement_limit() -> None:
    parse(";".join(f"v{i} = {i}" for i in range(MAX_STATEMENTS)))
    with pytest.raises(FormulaSyntaxError, match="at most 100 statements"):
        parse(";".join(f"v{i} = {i}" for i in range(MAX_STATEMENTS + 1)))


def test_nesting_limit() -> None:
    assert value_of("(" * MAX_NESTING + "1" + ")" * MAX_NESTING) == 1.0
    assert value_of("-" * MAX_NESTING + "1") == 1.0
    with pytest.raises(FormulaSyntaxError, match="nested more than"):
        parse("x = " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1))


@pytest.mark.parametrize("opener", ["(", "-", "!", "[", "max(", "1 ? ", "$CPUPercent.GetSample("])
def test_deep_nesting_is_a_syntax_error_not_a_crash(opener: str) -> None:
    with pytest.raises(FormulaSyntaxError):
        parse("x = " + opener * 2000 + "1")


def test_long_flat_chains_do_not_recurse() -> None:
    terms = 2000
    formula = "x = " + " + ".join(["1"] * terms)
    assert len(formula) < MAX_FORMULA_LENGTH
    assert value_of(" + ".join(["1"] * terms)) == float(terms)
    assert value_of(" && ".join(["1"] * (terms * 3 // 4))) == 1.0
    program = parse(formula)
    assert parse(unparse(program)) == program
