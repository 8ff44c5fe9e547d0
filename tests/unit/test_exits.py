"""Exit conditions: which exitOptions apply to how a task ended, with Batch's defaults."""

from __future__ import annotations

from typing import Any

from batchite.domain.exits import FailureStage, exit_options, satisfies_dependents, task_exit_options
from batchite.wire.enums import BatchJobActionKind, DependencyAction
from batchite.wire.models import BatchTask, ExitConditions
from batchite.wire.types import convert

NONE, DISABLE, TERMINATE = BatchJobActionKind.NONE, BatchJobActionKind.DISABLE, BatchJobActionKind.TERMINATE
SATISFY, BLOCK = DependencyAction.SATISFY, DependencyAction.BLOCK
PREPROCESSING, FILE_UPLOAD = FailureStage.PREPROCESSING, FailureStage.FILE_UPLOAD

CONDITIONS = convert(
    ExitConditions,
    {
        "exitCodes": [{"code": 3, "exitOptions": {"jobAction": "none", "dependencyAction": "satisfy"}}],
        "exitCodeRanges": [{"start": 10, "end": 20, "exitOptions": {"jobAction": "disable"}}],
        "preProcessingError": {"jobAction": "none"},
        "fileUploadError": {"dependencyAction": "satisfy"},
        "default": {"jobAction": "none", "dependencyAction": "block"},
    },
)


def task(state: str, execution_info: dict[str, Any], **extra: Any) -> BatchTask:
    """A task as the service stores it (the wire names of the old task documents)."""
    return convert(
        BatchTask,
        {
            "id": "t",
            "creationTime": "2026-11-25T15:00:00Z",
            "state": state,
            "stateTransitionTime": "2026-11-25T15:00:00Z",
            "commandLine": "x",
            "executionInfo": {"retryCount": 0, "requeueCount": 0, **execution_info},
            **extra,
        },
    )


def test_defaults_without_conditions() -> None:
    ok = exit_options(None, 0, None)
    assert (ok.job_action, ok.dependency_action, ok.explicit) == (NONE, SATISFY, False)
    failed = exit_options(None, 1, None)
    assert (failed.job_action, failed.dependency_action) == (TERMINATE, BLOCK)
    never_ran = exit_options(None, None, PREPROCESSING)
    assert (never_ran.job_action, never_ran.dependency_action) == (TERMINATE, BLOCK)


def test_listed_exit_code_and_range() -> None:
    listed = exit_options(CONDITIONS, 3, None)
    assert (listed.job_action, listed.dependency_action, listed.explicit) == (NONE, SATISFY, True)
    ranged = exit_options(CONDITIONS, 15, None)
    assert (ranged.job_action, ranged.dependency_action) == (DISABLE, BLOCK)


def test_default_applies_to_unlisted_failures_only() -> None:
    assert exit_options(CONDITIONS, 7, None).dependency_action == BLOCK
    assert exit_options(CONDITIONS, 7, None).explicit
    success = exit_options(CONDITIONS, 0, None)
    assert (success.dependency_action, success.explicit) == (SATISFY, False)


def test_stage_errors_and_precedence_of_listed_codes() -> None:
    assert exit_options(CONDITIONS, None, PREPROCESSING).job_action == NONE
    assert exit_options(CONDITIONS, 0, FILE_UPLOAD).dependency_action == SATISFY
    # a listed exit code wins over a file upload error
    assert exit_options(CONDITIONS, 15, FILE_UPLOAD).job_action == DISABLE


def test_completed_task_documents() -> None:
    done = task("completed", {"exitCode": 0, "result": "success"})
    failed = task("completed", {"exitCode": 2, "result": "failure"})
    running = task("running", {})
    assert satisfies_dependents(done)
    assert not satisfies_dependents(failed)
    assert not satisfies_dependents(running)
    assert satisfies_dependents(
        task(
            "completed",
            {"exitCode": 2, "result": "failure"},
            exitConditions={"exitCodes": [{"code": 2, "exitOptions": {"dependencyAction": "satisfy"}}]},
        )
    )
    assert task_exit_options(done, FILE_UPLOAD).dependency_action == BLOCK
