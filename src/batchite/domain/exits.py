"""Exit conditions: what a finished task means for its job and for the tasks that depend on it.

`exit_options` picks the exitOptions of a task's exitConditions that match how it ended, with
Batch's defaults: dependencyAction `satisfy` for exit code 0 and `block` otherwise; jobAction
`none` for exit code 0 and `terminate` otherwise (applied only when the job's onTaskFailure is
`performexitoptionsjobaction`). A specific exit code listed in exitCodes/exitCodeRanges takes
precedence over a file upload error, as the docs say.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from batchite.wire.enums import BatchJobActionKind, BatchTaskState, DependencyAction
from batchite.wire.models import ExitConditions, ExitOptions

if TYPE_CHECKING:
    from batchite.wire.models import BatchTask


class FailureStage(StrEnum):
    """Where a task failed when it was not in its process, as exitConditions name them."""

    PREPROCESSING = "preprocessing"  # resource files, application packages, starting the process
    FILE_UPLOAD = "fileupload"  # output files after the process exited


@dataclass(frozen=True)
class ExitOutcome:
    job_action: BatchJobActionKind
    dependency_action: DependencyAction
    explicit: bool  # matched a listed condition rather than the defaults


def _from(options: ExitOptions | None, success: bool, explicit: bool) -> ExitOutcome:
    job_action = options.job_action if options is not None else None
    dependency_action = options.dependency_action if options is not None else None
    return ExitOutcome(
        job_action=job_action or (BatchJobActionKind.NONE if success else BatchJobActionKind.TERMINATE),
        dependency_action=dependency_action or (DependencyAction.SATISFY if success else DependencyAction.BLOCK),
        explicit=explicit,
    )


def exit_options(conditions: ExitConditions | None, exit_code: int | None, stage: FailureStage | None) -> ExitOutcome:
    """stage: None (the process ran and its exit code tells), or where it failed before or after."""
    conditions = conditions or ExitConditions()
    if exit_code is not None:
        for item in conditions.exit_codes or []:
            if item.code == exit_code:
                return _from(item.exit_options, exit_code == 0 and stage is None, True)
        for span in conditions.exit_code_ranges or []:
            if span.start <= exit_code <= span.end:
                return _from(span.exit_options, exit_code == 0 and stage is None, True)
    if stage == FailureStage.PREPROCESSING and conditions.pre_processing_error is not None:
        return _from(conditions.pre_processing_error, False, True)
    if stage == FailureStage.FILE_UPLOAD and conditions.file_upload_error is not None:
        return _from(conditions.file_upload_error, False, True)
    success = exit_code == 0 and stage is None
    if not success and conditions.default is not None:
        return _from(conditions.default, False, True)
    return _from(None, success, False)


def task_exit_options(task: BatchTask, stage: FailureStage | None = None) -> ExitOutcome:
    """The exit options of a completed task; `stage` is where it failed, if not in its process."""
    info = task.execution_info
    return exit_options(task.exit_conditions, info.exit_code if info is not None else None, stage)


def satisfies_dependents(task: BatchTask, stage: FailureStage | None = None) -> bool:
    if task.state != BatchTaskState.COMPLETED:
        return False
    return task_exit_options(task, stage).dependency_action == DependencyAction.SATISFY
