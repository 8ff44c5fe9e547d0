"""Operator semantics, restricted to the type combinations the docs' Operations table lists.

    double op double            + - * /              -> double
    double * timeinterval                            -> timeinterval
    doubleVec op double         + - * /              -> doubleVec (element-wise)
    doubleVec op doubleVec      + - * /              -> doubleVec (element-wise, equal lengths)
    timeinterval op double      * /                  -> timeinterval
    timeinterval op timeinterval + -                 -> timeinterval
    timeinterval + timestamp, timestamp + timeinterval -> timestamp
    timestamp - timestamp                            -> timeinterval
    -double, !double -> double;  -timeinterval -> timeinterval
    comparisons (< <= == >= > !=) on double, string, timestamp, timeinterval pairs -> double 1/0
    double && double, double || double -> double 1/0 (the evaluator short-circuits them)

Division follows IEEE-754 (x/0 is ±Infinity, 0/0 is NaN) as .NET doubles do; the docs say nothing more.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from batchite.autoscale.values import TimeInterval, Value, as_utc, checked_ticks, type_name


class OperatorError(Exception):
    """An operator applied to types it does not support; the evaluator adds the position."""


def divide(left: float, right: float) -> float:
    if right == 0:
        if left == 0 or math.isnan(left):
            return math.nan
        negative = (left < 0) != (math.copysign(1.0, right) < 0)
        return -math.inf if negative else math.inf
    return left / right


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": divide,
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
    "!=": operator.ne,
}


def _mismatch(op: str, left: Value, right: Value) -> OperatorError:
    return OperatorError(f"operator '{op}' is not defined for {type_name(left)} and {type_name(right)}")


def _interval(ticks: float) -> TimeInterval:
    checked = checked_ticks(ticks)
    if checked is None:
        raise OperatorError("time interval out of range")
    return TimeInterval(checked)


def _shift(moment: datetime, interval: TimeInterval) -> datetime:
    try:
        return moment + timedelta(microseconds=interval.ticks // 10)
    except OverflowError as exc:
        raise OperatorError("timestamp out of range") from exc


def binary(op: str, left: Value, right: Value) -> Value:
    """Apply a non-short-circuit binary operator."""
    if op in _COMPARE:
        return compare(op, left, right)
    if op in ("&&", "||"):
        if isinstance(left, float) and isinstance(right, float):
            result = (left != 0 and right != 0) if op == "&&" else (left != 0 or right != 0)
            return 1.0 if result else 0.0
        raise _mismatch(op, left, right)
    fn = _ARITHMETIC[op]
    if isinstance(left, float):
        if isinstance(right, float):
            return fn(left, right)
        if isinstance(right, TimeInterval) and op == "*":
            return _interval(left * right.ticks)
    elif isinstance(left, tuple):
        if isinstance(right, float):
            return tuple(fn(item, right) for item in left)
        if isinstance(right, tuple):
            if len(left) != len(right):
                raise OperatorError(
                    f"operator '{op}' needs doubleVecs of equal length, got {len(left)} and {len(right)}"
                )
            return tuple(fn(a, b) for a, b in zip(left, right, strict=True))
    elif isinstance(left, TimeInterval):
        return _interval_left(op, left, right)
    elif isinstance(left, datetime):
        if op == "+" and isinstance(right, TimeInterval):
            return _shift(left, right)
        if op == "-" and isinstance(right, datetime):
            return TimeInterval.from_timedelta(as_utc(left) - as_utc(right))
    raise _mismatch(op, left, right)


def _interval_left(op: str, left: TimeInterval, right: Value) -> Value:
    if isinstance(right, float):
        if op == "*":
            return _interval(left.ticks * right)
        if op == "/":
            return _interval(divide(float(left.ticks), right))
    elif isinstance(right, TimeInterval):
        if op == "+":
            return _interval(left.ticks + right.ticks)
        if op == "-":
            return _interval(left.ticks - right.ticks)
    elif isinstance(right, datetime) and op == "+":
        return _shift(right, left)
    raise _mismatch(op, left, right)


def compare(op: str, left: Value, right: Value) -> float:
    comparable = (
        (isinstance(left, float) and isinstance(right, float))
        or (isinstance(left, str) and isinstance(right, str))
        or (isinstance(left, TimeInterval) and isinstance(right, TimeInterval))
    )
    if isinstance(left, datetime) and isinstance(right, datetime):
        left, right = as_utc(left), as_utc(right)
        comparable = True
    if not comparable:
        raise _mismatch(op, left, right)
    return 1.0 if _COMPARE[op](left, right) else 0.0


def unary(op: str, operand: Value) -> Value:
    if isinstance(operand, float):
        if op == "-":
            return -operand
        return 1.0 if operand == 0 else 0.0
    if isinstance(operand, TimeInterval) and op == "-":
        return TimeInterval(-operand.ticks)
    raise OperatorError(f"operator '{op}' is not defined for {type_name(operand)}")


def truthy(value: Value, what: str) -> bool:
    """A double as a condition: nonzero is true, zero is false."""
    if not isinstance(value, float):
        raise OperatorError(f"{what} must be a double, got {type_name(value)}")
    return value != 0
