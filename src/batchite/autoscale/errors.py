"""Errors of the autoscale language: syntax errors (raised by `parse`) and run errors (returned by `evaluate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batchite.domain.errors import BatchError

MAX_FORMULA_LENGTH = 8192
"""Longest formula the service accepts, in characters (the SDKs: "The maximum length is 8192 characters")."""

MAX_STATEMENTS = 100
"""The docs: a formula "can include up to 100 statements that are separated by semicolons"."""

MAX_NESTING = 50
"""Deepest nesting of parentheses, calls, unary operators and ternaries (a Batchite limit: bounded recursion)."""

SYNTAX_ERROR_CODE = "AutoScalingFormulaSyntaxError"
SYNTAX_ERROR_MESSAGE = "The specified auto-scaling formula has a syntax error."
TOO_LONG_CODE = "AutoScaleFormulaTooLong"
TOO_LONG_MESSAGE = "The specified auto-scaling formula exceeds lengths limit."

INSUFFICIENT_SAMPLE_DATA = "InsufficientSampleData"
INSUFFICIENT_SAMPLE_DATA_MESSAGE = "Autoscale evaluation failed due to insufficient sample data"
EVALUATION_ERROR = "AutoScaleFormulaEvaluationError"
"""Batchite's code for every other evaluation failure (type mismatch, unknown variable, bad argument...).
The real service's codes for these are not documented; only InsufficientSampleData is."""
EVALUATION_ERROR_MESSAGE = "Autoscale evaluation failed"


def line_and_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a 0-based offset, as the service's "Line 1, Col 37" messages count."""
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column


class FormulaSyntaxError(BatchError):
    """The formula does not parse. Renders as the 400 `AutoScalingFormulaSyntaxError` Batch error.

    `detail` says what is wrong, `position` is the 0-based offset in the formula, `line`/`column` are 1-based;
    `message` (and `str()`) read "Line L, Col C: detail", and `values` carry it under the name "Message".
    """

    code_name = SYNTAX_ERROR_CODE

    def __init__(self, message: str, position: int, formula: str | None = None) -> None:
        self.detail = message
        self.position = position
        if formula is None:
            self.line, self.column = 1, position + 1
        else:
            self.line, self.column = line_and_column(formula, position)
        located = f"Line {self.line}, Col {self.column}: {message}"
        super().__init__(400, self.code_name, located, [("Message", located)])


class FormulaTooLongError(FormulaSyntaxError):
    """The formula is longer than MAX_FORMULA_LENGTH; renders as `AutoScaleFormulaTooLong`."""

    code_name = TOO_LONG_CODE

    def __init__(self, length: int) -> None:
        super().__init__(f"the formula is {length} characters long; the limit is {MAX_FORMULA_LENGTH}", 0)
        self.values = [("Message", self.message), ("MaxLength", str(MAX_FORMULA_LENGTH))]
        self.message = TOO_LONG_MESSAGE


def check_formula_length(formula: str) -> None:
    """Raise FormulaTooLongError when the formula exceeds MAX_FORMULA_LENGTH characters."""
    if len(formula) > MAX_FORMULA_LENGTH:
        raise FormulaTooLongError(len(formula))


@dataclass(frozen=True)
class AutoScaleRunError:
    """The `autoScaleRun.error` shape: `{code, message, values: [{name, value}]}`."""

    code: str
    message: str
    values: tuple[tuple[str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "values": [{"name": name, "value": value} for name, value in self.values],
        }


class EvaluationError(Exception):
    """Raised inside the evaluator; `evaluate` turns it into an AutoScaleRunError and never lets it out."""

    def __init__(self, detail: str, position: int, code: str = EVALUATION_ERROR) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position
        self.code = code

    def to_run_error(self, formula: str) -> AutoScaleRunError:
        line, column = line_and_column(formula, self.position)
        message = (
            INSUFFICIENT_SAMPLE_DATA_MESSAGE if self.code == INSUFFICIENT_SAMPLE_DATA else EVALUATION_ERROR_MESSAGE
        )
        return AutoScaleRunError(self.code, message, (("Message", f"Line {line}, Col {column}: {self.detail}"),))


class StopEvaluation(Exception):
    """Raised by `stop()`; evaluation ends without error, keeping what was assigned so far."""
