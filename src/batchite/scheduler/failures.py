"""How a run ended, as the failureInfo and result the service shows."""

from __future__ import annotations

from batchite.agent.files import FILE_UPLOAD, PREPROCESSING
from batchite.agent.process import ProcessOutcome
from batchite.domain.exits import FailureStage
from batchite.wire.enums import BatchErrorSourceCategory
from batchite.wire.models import BatchTaskFailureInfo, NameValuePair

TASK_ENDED = ("TaskEnded", "Task Was Ended by User Request")
FAILURE_EXIT = ("FailureExitCode", "The task exited with an exit code representing a failure")
WALL_CLOCK = ("TaskEnded", "The task exceeded its maximum wall clock time and was terminated")


def failure_info(code: str, message: str, details: list[tuple[str, str]] | None = None) -> BatchTaskFailureInfo:
    return BatchTaskFailureInfo(
        category=BatchErrorSourceCategory.USER_ERROR,
        code=code,
        message=message,
        details=[NameValuePair(name=n, value=v) for n, v in details] if details else None,
    )


def outcome_failure(outcome: ProcessOutcome, wall_clock: bool = False) -> BatchTaskFailureInfo | None:
    """The failureInfo of a finished run, or None when it succeeded."""
    if wall_clock:
        return failure_info(*WALL_CLOCK, [("Reason", "MaxWallClockTimeExceeded")])
    if outcome.failure is not None:  # resource files / packages before the process, output files after it
        f = outcome.failure
        info = failure_info(f.code, f.message, list(f.details))
        info.category = BatchErrorSourceCategory(f.category)
        return info
    if outcome.exit_code is None:
        return failure_info(outcome.error_code or "TaskProcessStartError", outcome.error_message or "Not started")
    if outcome.exit_code != 0:
        return failure_info(*FAILURE_EXIT, [("Message", f"The task exited with exit code {outcome.exit_code}")])
    return None


def failure_stage(outcome: ProcessOutcome) -> FailureStage | None:
    """exitConditions.preProcessingError / fileUploadError: where it failed, outside its process."""
    stage = outcome.failed_stage
    if stage == PREPROCESSING:
        return FailureStage.PREPROCESSING
    if stage == FILE_UPLOAD:
        return FailureStage.FILE_UPLOAD
    return None
