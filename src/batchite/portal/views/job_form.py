"""The create-job form: its fields, and the `BatchJobCreateOptions` they make (bad values are the
Batch errors the REST API gives for them)."""

from __future__ import annotations

from dataclasses import dataclass

from batchite.domain.errors import invalid_property
from batchite.wire.enums import BatchAllTasksCompleteMode
from batchite.wire.models import BatchJobConstraints, BatchJobCreateOptions, BatchPoolInfo
from batchite.wire.types import Duration

WALL_CLOCK_HINT = "Minutes (e.g. 90), or an ISO 8601 duration (e.g. PT1H30M). Empty: unlimited."
RETRY_HINT = "How many times a failed task is retried; -1: without limit. Empty: 0."


@dataclass
class JobForm:
    """What the form holds, as typed (so a form shown again keeps it)."""

    id: str = ""
    display_name: str = ""
    pool: str = ""
    priority: str = "0"
    max_wall_clock: str = ""
    max_retries: str = ""
    terminate_on_complete: bool = False


def _integer(text: str, prop: str, low: int, high: int) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise invalid_property(prop, text, "The value must be an integer.") from None
    if not low <= value <= high:
        raise invalid_property(prop, text, f"The value must be between {low} and {high}.")
    return value


def wall_clock(text: str) -> Duration | None:
    """Whole minutes, or an ISO 8601 duration."""
    if not text:
        return None
    if text.isdigit():
        if int(text) == 0:
            raise invalid_property("constraints.maxWallClockTime", text, "The time must be greater than zero.")
        return Duration(minutes=int(text))
    try:
        value = Duration.parse(text)
    except ValueError as err:
        raise invalid_property("constraints.maxWallClockTime", text, str(err)) from None
    if value.total_seconds() <= 0:
        raise invalid_property("constraints.maxWallClockTime", text, "The time must be greater than zero.")
    return value


def job_body(form: JobForm) -> BatchJobCreateOptions:
    priority = _integer(form.priority, "priority", -1000, 1000)
    retries = _integer(form.max_retries, "constraints.maxTaskRetryCount", -1, 2**31 - 1)
    limit = wall_clock(form.max_wall_clock)
    constraints = None
    if limit is not None or retries is not None:
        constraints = BatchJobConstraints(max_wall_clock_time=limit, max_task_retry_count=retries)
    return BatchJobCreateOptions(
        id=form.id,
        display_name=form.display_name or None,
        priority=priority,
        constraints=constraints,
        pool_info=BatchPoolInfo(pool_id=form.pool or None),
        all_tasks_complete_mode=BatchAllTasksCompleteMode.TERMINATE_JOB if form.terminate_on_complete else None,
    )
