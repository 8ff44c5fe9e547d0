"""Checks of an autoscale formula and its evaluation interval, shared by pool create and enable autoscale."""

from __future__ import annotations

from datetime import timedelta

from batchite import autoscale
from batchite.domain.errors import BatchError, invalid_property
from batchite.wire.types import Duration

MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(hours=168)
DEFAULT_INTERVAL = Duration(minutes=15)
ENABLE_SPACING = timedelta(seconds=30)


def check_formula(formula: str) -> None:
    """Raise the Batch error for a formula that is too long or does not parse."""
    if len(formula) > autoscale.MAX_FORMULA_LENGTH:
        raise BatchError(
            400,
            "AutoScaleFormulaTooLong",
            "The specified autoscale formula is too long. The maximum length is 8192.",
            [("MaxLength", str(autoscale.MAX_FORMULA_LENGTH)), ("Length", str(len(formula)))],
        )
    autoscale.parse(formula)  # FormulaSyntaxError is a BatchError (400 AutoScalingFormulaSyntaxError)


def check_interval(value: Duration | None) -> Duration:
    """The evaluation interval: 5 minutes to 168 hours, 15 minutes when not given."""
    interval = value if value is not None else DEFAULT_INTERVAL
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise invalid_property(
            "autoScaleEvaluationInterval",
            value.wire() if value else value,
            "The interval must be between 5 minutes and 168 hours.",
        )
    return interval
