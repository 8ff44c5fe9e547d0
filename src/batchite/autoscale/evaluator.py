"""The evaluator: runs a parsed Program against a pool's state and metric histories.

Statements run in order; `?:`, `&&` and `||` evaluate lazily. Any failure stops the run and is reported as the
AutoScaleRun error shape; the targets then stay as they were, and `results` shows what was assigned before it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from batchite.autoscale import catalog
from batchite.autoscale.errors import (
    EVALUATION_ERROR,
    AutoScaleRunError,
    EvaluationError,
    StopEvaluation,
)
from batchite.autoscale.functions import FunctionError, call_pure
from batchite.autoscale.nodes import (
    Assign,
    Call,
    Chain,
    Expr,
    Field,
    Method,
    Name,
    Number,
    Program,
    String,
    Ternary,
    Unary,
    Vector,
)
from batchite.autoscale.operators import OperatorError, binary, truthy, unary
from batchite.autoscale.samples import History, SampleError, SampleSource, StaticSamples, call_method
from batchite.autoscale.values import (
    RuntimeValue,
    SampledVariable,
    TimeInterval,
    Value,
    as_utc,
    format_value,
    parse_time_string,
    type_name,
)


@dataclass(frozen=True)
class EvaluationInputs:
    """Everything a formula can read. `now` is the evaluation time (inject it; naive means UTC).

    `target_dedicated`/`target_low_priority` are the pool's current targets, the values `$TargetDedicatedNodes`
    and `$TargetLowPriorityNodes` have until the formula assigns them.
    """

    now: datetime
    samples: SampleSource = field(default_factory=StaticSamples)
    current_dedicated: int = 0
    current_low_priority: int = 0
    target_dedicated: int = 0
    target_low_priority: int = 0
    task_slots_per_node: int = 1
    usable_node_count: int = 0
    preempted_node_count: int = 0
    node_deallocation_option: str = catalog.DEFAULT_DEALLOCATION_OPTION
    sample_period: timedelta = catalog.DEFAULT_SAMPLE_PERIOD
    random: Callable[[], float] = random.random

    def scalar(self, name: str) -> float:
        values = {
            "$TaskSlotsPerNode": self.task_slots_per_node,
            "$CurrentDedicatedNodes": self.current_dedicated,
            "$CurrentDedicated": self.current_dedicated,
            "$CurrentLowPriorityNodes": self.current_low_priority,
            "$CurrentLowPriority": self.current_low_priority,
            "$UsableNodeCount": self.usable_node_count,
            "$PreemptedNodeCount": self.preempted_node_count,
        }
        return float(values[name])


@dataclass(frozen=True)
class EvaluationResult:
    """The outcome of a run. `variables` holds every assigned variable (as written, aliases included);
    `results` is the `autoScaleRun.results` string; `error` is set when the run failed, and then the targets
    and deallocation option are the pool's unchanged ones. `stopped` is True when `stop()` ended the run."""

    target_dedicated: int
    target_low_priority: int
    node_deallocation_option: str
    variables: Mapping[str, Value]
    results: str
    error: AutoScaleRunError | None = None
    stopped: bool = False


class _Run:
    def __init__(self, program: Program, inputs: EvaluationInputs) -> None:
        if inputs.sample_period <= timedelta(0):
            raise ValueError("sample_period must be positive")
        self.program = program
        self.inputs = inputs
        self.now = as_utc(inputs.now)
        self.variables: dict[str, Value] = {}
        self.histories: dict[str, History] = {}
        self.assigned_at: dict[str, int] = {}

    # -- expressions ---------------------------------------------------------------------------------------------

    def value(self, node: Expr) -> Value:
        """Evaluate to a storable value (a sample data set alone is not one)."""
        result = self.eval(node)
        if isinstance(result, SampledVariable):
            raise EvaluationError(
                f"{result.name} is a sample data set; read it with a method such as GetSample()", node.pos
            )
        return result

    def eval(self, node: Expr) -> RuntimeValue:
        try:
            return self._eval(node)
        except (OperatorError, FunctionError) as exc:
            raise EvaluationError(str(exc), node.pos) from exc
        except SampleError as exc:
            raise EvaluationError(exc.detail, node.pos, exc.code or EVALUATION_ERROR) from exc

    def _eval(self, node: Expr) -> RuntimeValue:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, String):
            return node.value
        if isinstance(node, Name):
            return self.lookup(node)
        if isinstance(node, Vector):
            items: list[float] = []
            for item in node.items:
                got = self.value(item)
                if isinstance(got, float):
                    items.append(got)
                elif isinstance(got, tuple):
                    items.extend(got)
                else:
                    raise EvaluationError(f"a doubleVec cannot hold a {type_name(got)}", item.pos)
            return tuple(items)
        if isinstance(node, Chain):
            return self.chain(node)
        if isinstance(node, Unary):
            return unary(node.op, self.value(node.operand))
        if isinstance(node, Ternary):
            chosen = node.then if truthy(self.value(node.condition), "a ?: condition") else node.otherwise
            return self.eval(chosen)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Field):
            return self.field(node)
        return self.method(node)

    def chain(self, node: Chain) -> Value:
        left = self.value(node.operands[0])
        for op, operand in zip(node.ops, node.operands[1:], strict=True):
            if op in ("&&", "||"):
                decided = truthy(left, f"the left operand of '{op}'")
                if decided == (op == "||"):
                    left = 1.0 if decided else 0.0
                    continue
                left = 1.0 if truthy(self.value(operand), f"the right operand of '{op}'") else 0.0
            else:
                left = binary(op, left, self.value(operand))
        return left

    def lookup(self, node: Name) -> RuntimeValue:
        name = node.name
        if name in self.variables:
            return self.variables[name]
        if name in (catalog.TARGET_DEDICATED, "$TargetDedicated"):
            return float(self.inputs.target_dedicated)
        if name in (catalog.TARGET_LOW_PRIORITY, "$TargetLowPriority"):
            return float(self.inputs.target_low_priority)
        if name == catalog.NODE_DEALLOCATION_OPTION:
            return self.inputs.node_deallocation_option
        if name in catalog.SCALAR_VARIABLES:
            return self.inputs.scalar(name)
        if name in catalog.SAMPLED_VARIABLES:
            return SampledVariable(name)
        if name in catalog.TIME_INTERVALS:
            return TimeInterval(catalog.TIME_INTERVALS[name])
        if name in catalog.DEALLOCATION_OPTIONS:
            return name
        raise EvaluationError(f"variable {name} is used before it is assigned", node.pos)

    def call(self, node: Call) -> RuntimeValue:
        if node.name == "stop":
            raise StopEvaluation
        if node.name == "rand":
            return float(self.inputs.random())
        args = [self.value(arg) for arg in node.args]
        if node.name == "time":
            return self.time(args)
        return call_pure(node.name, args)

    def time(self, args: list[Value]) -> datetime:
        if not args or args[0] == "":
            return self.now
        text = args[0]
        if not isinstance(text, str):
            raise FunctionError(f"time takes a string, got {type_name(text)}")
        parsed = parse_time_string(text)
        if parsed is None:
            raise FunctionError(f"time: '{text}' is neither a W3C-DTF nor an RFC 1123 date-time")
        return parsed

    def field(self, node: Field) -> float:
        target = self.value(node.target)
        if not isinstance(target, datetime):
            raise EvaluationError(f"'.{node.name}' needs a timestamp, got {type_name(target)}", node.pos)
        if node.name == "weekday":
            return float(target.isoweekday() % 7)  # .NET DayOfWeek: Sunday 0, Monday 1 ... Saturday 6
        return float(getattr(target, node.name))

    def method(self, node: Method) -> RuntimeValue:
        receiver = node.target
        if isinstance(receiver, Name) and receiver.name in catalog.READ_ONLY_VARIABLES:
            # every read-only variable has a history, even those with a current value ($PreemptedNodeCount)
            target: RuntimeValue = SampledVariable(receiver.name)
        else:
            target = self.eval(receiver)
        if not isinstance(target, SampledVariable):
            raise EvaluationError(f"{node.name}() needs a sampled service variable, got {type_name(target)}", node.pos)
        args = [self.value(arg) for arg in node.args]
        history = self.histories.get(target.name)
        if history is None:
            history = History.load(self.inputs.samples, target.name, self.now, self.inputs.sample_period)
            self.histories[target.name] = history
        try:
            return call_method(history, node.name, args)
        except SampleError as exc:
            raise EvaluationError(exc.detail, node.target.pos, exc.code or EVALUATION_ERROR) from exc

    # -- statements and the outcome ------------------------------------------------------------------------------

    def execute(self) -> None:
        for statement in self.program.statements:
            if isinstance(statement, Assign):
                self.variables[statement.target] = self.value(statement.value)
                self.assigned_at[statement.target] = statement.pos
            else:
                self.eval(statement.expr)

    def effective(self, name: str) -> Value:
        """The final value of a read-write variable: its full name wins over its alias, then the pool's value."""
        if name in self.variables:
            return self.variables[name]
        for alias, target in catalog.ALIASES.items():
            if target == name and alias in self.variables:
                return self.variables[alias]
        if name == catalog.NODE_DEALLOCATION_OPTION:
            return self.inputs.node_deallocation_option
        initial = self.inputs.target_dedicated if name == catalog.TARGET_DEDICATED else self.inputs.target_low_priority
        return float(initial)

    def where(self, name: str) -> int:
        candidates = [name] + [alias for alias, target in catalog.ALIASES.items() if target == name]
        return next((self.assigned_at[c] for c in candidates if c in self.assigned_at), 0)

    def target(self, name: str) -> int:
        value = self.effective(name)
        if not isinstance(value, float):
            raise EvaluationError(f"{name} must be a double, got {type_name(value)}", self.where(name))
        if not math.isfinite(value) or value < 0:
            raise EvaluationError(
                f"{name} must be a finite, non-negative number, got {format_value(value)}", self.where(name)
            )
        return int(value)

    def deallocation_option(self) -> str:
        value = self.effective(catalog.NODE_DEALLOCATION_OPTION)
        if not isinstance(value, str) or value not in catalog.DEALLOCATION_OPTIONS:
            allowed = ", ".join(catalog.DEALLOCATION_OPTIONS)
            raise EvaluationError(
                f"{catalog.NODE_DEALLOCATION_OPTION} must be one of {allowed}, got {format_value(value)}",
                self.where(catalog.NODE_DEALLOCATION_OPTION),
            )
        return value

    def results_text(self) -> str:
        """`$TargetDedicatedNodes=..;$TargetLowPriorityNodes=..;$NodeDeallocationOption=..` then every other
        assigned variable as written, sorted by name: the layout of the service's `autoScaleRun.results`."""
        parts = [f"{name}={format_value(self.effective(name))}" for name in catalog.READ_WRITE_VARIABLES]
        hidden = set(catalog.READ_WRITE_VARIABLES) | set(catalog.ALIASES)
        parts += [
            f"{name}={format_value(self.variables[name])}" for name in sorted(self.variables) if name not in hidden
        ]
        return ";".join(parts)

    def run(self) -> EvaluationResult:
        error: AutoScaleRunError | None = None
        stopped = False
        try:
            try:
                self.execute()
            except StopEvaluation:
                stopped = True
            dedicated = self.target(catalog.TARGET_DEDICATED)
            low_priority = self.target(catalog.TARGET_LOW_PRIORITY)
            option = self.deallocation_option()
        except EvaluationError as exc:
            error = exc.to_run_error(self.program.source)
            dedicated, low_priority = self.inputs.target_dedicated, self.inputs.target_low_priority
            option = self.inputs.node_deallocation_option
        return EvaluationResult(
            target_dedicated=dedicated,
            target_low_priority=low_priority,
            node_deallocation_option=option,
            variables=dict(self.variables),
            results=self.results_text(),
            error=error,
            stopped=stopped,
        )


def evaluate(program: Program, inputs: EvaluationInputs) -> EvaluationResult:
    """Run a parsed formula. Never raises for problems in the formula: they come back in `result.error`."""
    return _Run(program, inputs).run()
