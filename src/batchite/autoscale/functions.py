"""The built-in functions (all but stop() and time(), which need the evaluator's state).

A doubleVecList argument is any mix of doubles and doubleVecs, flattened into one doubleVec.
lg/ln/log/ceil/floor/round return a double for one double argument, else a doubleVec (component-wise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from batchite.autoscale.values import RuntimeValue, type_name


class FunctionError(Exception):
    """A function called with arguments it cannot take; the evaluator adds the position."""


def flatten(name: str, args: Sequence[RuntimeValue]) -> tuple[float, ...]:
    out: list[float] = []
    for arg in args:
        if isinstance(arg, float):
            out.append(arg)
        elif isinstance(arg, tuple):
            out.extend(arg)
        else:
            raise FunctionError(f"{name} takes doubles and doubleVecs, got {type_name(arg)}")
    return tuple(out)


def _nonempty(name: str, values: tuple[float, ...]) -> tuple[float, ...]:
    if not values:
        raise FunctionError(f"{name} of an empty doubleVecList")
    return values


def _avg(values: tuple[float, ...]) -> float:
    return _sum(_nonempty("avg", values)) / len(values)


def _std(values: tuple[float, ...]) -> float:
    """Sample standard deviation (n - 1); 0 for a single value."""
    _nonempty("std", values)
    if len(values) == 1:
        return 0.0
    mean = _sum(values) / len(values)
    if not math.isfinite(mean):
        return math.nan
    return math.sqrt(_sum(tuple((v - mean) * (v - mean) for v in values)) / (len(values) - 1))


def _norm(values: tuple[float, ...]) -> float:
    if any(math.isinf(v) for v in values):
        return math.inf
    return math.hypot(*values) if values else 0.0


def _sum(values: tuple[float, ...]) -> float:
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):  # fsum raises on inf - inf and on intermediate overflow
        total = 0.0
        for v in values:
            total += v
        return total


AGGREGATES: dict[str, Callable[[tuple[float, ...]], float]] = {
    "avg": _avg,
    "len": lambda values: float(len(values)),
    "max": lambda values: max(_nonempty("max", values)),
    "min": lambda values: min(_nonempty("min", values)),
    "norm": _norm,
    "range": lambda values: max(_nonempty("range", values)) - min(values),
    "std": _std,
    "sum": _sum,
}


def _log(base: float) -> Callable[[float], float]:
    def fn(x: float) -> float:
        if math.isnan(x) or x < 0:
            return math.nan
        if x == 0:
            return -math.inf
        if math.isinf(x):
            return math.inf
        return math.log(x, base) if base != math.e else math.log(x)

    return fn


def _integral(fn: Callable[[float], int]) -> Callable[[float], float]:
    def apply(x: float) -> float:
        return x if not math.isfinite(x) else float(fn(x))

    return apply


def _round_half_away(x: float) -> int:
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1) if abs(x) % 1 == 0.5 else round(x)


ELEMENTWISE: dict[str, Callable[[float], float]] = {
    "lg": _log(2.0),
    "ln": _log(math.e),
    "log": _log(10.0),
    "ceil": _integral(math.ceil),
    "floor": _integral(math.floor),
    "round": _integral(_round_half_away),
}


def elementwise(name: str, args: Sequence[RuntimeValue]) -> float | tuple[float, ...]:
    fn = ELEMENTWISE[name]
    if len(args) == 1 and isinstance(args[0], float):
        return fn(args[0])
    return tuple(fn(v) for v in flatten(name, args))


def percentile(vector: RuntimeValue, p: RuntimeValue) -> float:
    """The nearest-rank percentile element of v, p in [0, 100]."""
    values = sorted(flatten("percentile", [vector]))
    if not isinstance(p, float):
        raise FunctionError(f"percentile's second argument must be a double, got {type_name(p)}")
    if not values:
        raise FunctionError("percentile of an empty doubleVec")
    if not 0 <= p <= 100:
        raise FunctionError(f"percentile must be between 0 and 100, got {p:g}")
    rank = math.ceil(p / 100 * len(values))
    return values[min(max(rank, 1), len(values)) - 1]


def val(vector: RuntimeValue, index: RuntimeValue) -> float:
    """The element at zero-based position i of v."""
    if not isinstance(vector, tuple | float) or not isinstance(index, float):
        raise FunctionError(f"val takes (doubleVec, double), got ({type_name(vector)}, {type_name(index)})")
    values = flatten("val", [vector])
    if not math.isfinite(index) or not 0 <= int(index) < len(values):
        raise FunctionError(f"val index {index:g} is outside a doubleVec of length {len(values)}")
    return values[int(index)]


def call_pure(name: str, args: Sequence[RuntimeValue]) -> RuntimeValue:
    """Every function except rand, stop and time."""
    if name in AGGREGATES:
        return AGGREGATES[name](flatten(name, args))
    if name in ELEMENTWISE:
        return elementwise(name, args)
    if name == "percentile":
        return percentile(args[0], args[1])
    if name == "val":
        return val(args[0], args[1])
    raise FunctionError(f"unknown function '{name}'")
