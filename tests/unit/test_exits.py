"""Exit conditions: which exitOptions apply to how a task ended, with Batch's defaults."""

from __future__ import annotations

from batchite.domain.exits import exit_options, satisfies_dependents, task_exit_options

CONDITIONS = {
    "exitCodes": [{"code": 3, "exitOptions": {"jobAction": "none", "dependencyAction": "satisfy"}}],
    "exitCodeRanges": [{"start": 10, "end": 20, "exitOptions": {"jobAction": "disable"}}],
    "preProcessingError": {"jobAction": "none"},
    "fileUploadError": {"dependencyAction": "satisfy"},
    "default": {"jobAction": "none", "dependencyAction": "block"},
}


def test_defaults_without_conditions() -> None:
    ok = exit_options(None, 0, None)
    assert (ok.job_action, ok.dependency_action, ok.explicit) == ("none", "satisfy", False)
    failed = exit_options(None, 1, None)
    assert (failed.job_action, failed.dependency_action) == ("terminate", "block")
    never_ran = exit_options(None, None, "preprocessing")
    assert (never_ran.job_action, never_ran.dependency_action) == ("terminate", "block")


def test_listed_exit_code_and_range() -> None:
    listed = exit_options(CONDITIONS, 3, None)
    assert (listed.job_action, listed.dependency_action, listed.explicit) == ("none", "satisfy", True)
    ranged = exit_options(CONDITIONS, 15, None)
    assert (ranged.job_action, ranged.dependency_action) == ("disable", "block")


def test_default_applies_to_unlisted_failures_only() -> None:
    assert exit_options(CONDITIONS, 7, None).dependency_action == "block"
    assert exit_options(CONDITIONS, 7, None).explicit
    success = exit_options(CONDITIONS, 0, None)
    assert (success.dependency_action, success.explicit) == ("satisfy", False)


def test_stage_errors_and_precedence_of_listed_codes() -> None:
    assert exit_options(CONDITIONS, None, "preprocessing").job_action == "none"
    assert exit_options(CONDITIONS, 0, "fileupload").dependency_action == "satisfy"
    # a listed exit code wins over a file upload error
    assert exit_options(CONDITIONS, 15, "fileupload").job_action == "disable"


def test_completed_task_documents() -> None:
    done = {"state": "completed", "executionInfo": {"exitCode": 0, "result": "success"}}
    failed = {"state": "completed", "executionInfo": {"exitCode": 2, "result": "failure"}}
    running = {"state": "running", "executionInfo": {}}
    assert satisfies_dependents(done)
    assert not satisfies_dependents(failed)
    assert not satisfies_dependents(running)
    assert satisfies_dependents(
        {**failed, "exitConditions": {"exitCodes": [{"code": 2, "exitOptions": {"dependencyAction": "satisfy"}}]}}
    )
    assert task_exit_options(done, "fileupload").dependency_action == "block"
