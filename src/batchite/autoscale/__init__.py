"""The Azure Batch autoscale formula language: lexer, parser and evaluator. Pure: no I/O, no clock, no globals.

API
---
``parse(formula: str) -> Program``
    Parse a formula. Raises ``FormulaSyntaxError`` (a ``BatchError``: status 400, code
    ``AutoScalingFormulaSyntaxError``, ``message`` "Line L, Col C: what is wrong", ``values`` [("Message", ...)],
    plus ``detail``, ``position`` (0-based offset), ``line`` and ``column`` (1-based)). A formula longer than
    ``MAX_FORMULA_LENGTH`` (8192) characters raises its subclass ``FormulaTooLongError`` (code
    ``AutoScaleFormulaTooLong``); ``check_formula_length(formula)`` runs only that check. At most
    ``MAX_STATEMENTS`` (100) statements and ``MAX_NESTING`` (50) levels of nesting are accepted.

``unparse(program: Program) -> str``
    Canonical formula text; ``parse(unparse(p)) == p``.

``SampleSource`` (protocol the service implements)
    ``samples(name: str) -> Sequence[tuple[datetime, float]]``: the history of one metric, ``name`` without the
    ``$`` (e.g. "PendingTasks"), oldest first (the evaluator sorts anyway and drops samples later than ``now``).
    ``StaticSamples(mapping)`` is a ready implementation over a dict.

``evaluate(program: Program, inputs: EvaluationInputs) -> EvaluationResult``
    ``EvaluationInputs(now, samples=StaticSamples(), current_dedicated=0, current_low_priority=0,
    target_dedicated=0, target_low_priority=0, task_slots_per_node=1, usable_node_count=0,
    preempted_node_count=0, node_deallocation_option="requeue", sample_period=30 s, random=random.random)``:
    ``now`` is the injectable evaluation time, the targets are the pool's current ones (the initial values of
    ``$TargetDedicatedNodes``/``$TargetLowPriorityNodes``), the scalars back ``$CurrentDedicatedNodes``,
    ``$CurrentLowPriorityNodes``, ``$TaskSlotsPerNode``, ``$UsableNodeCount`` and ``$PreemptedNodeCount``.
    ``EvaluationResult(target_dedicated, target_low_priority, node_deallocation_option, variables, results,
    error, stopped)``: ``results`` is the ``autoScaleRun.results`` string
    (``$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;x=...``, every other
    assigned variable after the three, sorted by name); ``error`` is ``None`` or an ``AutoScaleRunError``
    (``code``, ``message``, ``values``; ``to_dict()`` gives ``{code, message, values: [{name, value}]}``), e.g.
    ``InsufficientSampleData`` / "Autoscale evaluation failed due to insufficient sample data" /
    [("Message", "Line 3, Col 20: Insufficient data from data set: $PendingTasks wanted 70%, received 50%")].
    Evaluation never raises for a formula's own problems; on error the targets are the unchanged inputs.

Language summary
----------------
Statements ``name = expr`` or ``expr`` separated by ``;``; ``//`` comments; user variables with or without
``$``. Types double, doubleVec (``[a, b]`` literals, sample vectors), doubleVecList (function arguments),
string (``"..."``), timestamp (fields year, month, day, weekday [Sunday 0 .. Saturday 6], hour, minute,
second) and timeinterval (``TimeInterval_Zero/_100ns/_Microsecond/_Millisecond/_Second/_Minute/_Hour/_Day/
_Week/_Year``). Operators, loosest first: ``?:``, ``||``, ``&&``, ``== !=``, ``< <= > >=``, ``+ -``, ``* /``,
unary ``- !``, member access ``.``; only the type combinations of the docs' Operations table are accepted.
Functions avg ceil floor len lg ln log max min norm percentile rand range round std stop sum time val; sample
methods GetSample(count | start[, percent] | start, end[, percent]), GetSamplePercent(start[, end]),
GetSamplePeriod(), Count(), HistoryBeginTime().
"""

from batchite.autoscale.errors import (
    EVALUATION_ERROR,
    INSUFFICIENT_SAMPLE_DATA,
    MAX_FORMULA_LENGTH,
    MAX_NESTING,
    MAX_STATEMENTS,
    SYNTAX_ERROR_CODE,
    TOO_LONG_CODE,
    AutoScaleRunError,
    FormulaSyntaxError,
    FormulaTooLongError,
    check_formula_length,
)
from batchite.autoscale.evaluator import EvaluationInputs, EvaluationResult, evaluate
from batchite.autoscale.nodes import Program, unparse
from batchite.autoscale.parser import parse
from batchite.autoscale.samples import SampleSource, StaticSamples
from batchite.autoscale.values import TimeInterval

__all__ = [
    "EVALUATION_ERROR",
    "INSUFFICIENT_SAMPLE_DATA",
    "MAX_FORMULA_LENGTH",
    "MAX_NESTING",
    "MAX_STATEMENTS",
    "SYNTAX_ERROR_CODE",
    "TOO_LONG_CODE",
    "AutoScaleRunError",
    "EvaluationInputs",
    "EvaluationResult",
    "FormulaSyntaxError",
    "FormulaTooLongError",
    "Program",
    "SampleSource",
    "StaticSamples",
    "TimeInterval",
    "check_formula_length",
    "evaluate",
    "parse",
    "unparse",
]
