"""Exit conditions: what a finished task means for its job and for the tasks that depend on it.

`exit_options` picks the exitOptions of a task's exitConditions that match how it ended, with
Batch's defaults: dependencyAction `satisfy` for exit code 0 and `block` otherwise; jobAction
`none` for exit code 0 and `terminate` otherwise (applied only when the job's onTaskFailure is
`performexitoptionsjobaction`). A specific exit code listed in exitCodes/exitCodeRanges takes
precedence over a file upload error, as the docs say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExitOutcome:
    job_action: str  # none, disable, terminate
    dependency_action: str  # satisfy, block
    explicit: bool  # matched a listed condition rather than the defaults


def _from(options: dict[str, Any] | None, success: bool, explicit: bool) -> ExitOutcome:
    options = options or {}
    return ExitOutcome(
        job_action=str(options.get("jobAction") or ("none" if success else "terminate")).lower(),
        dependency_action=str(options.get("dependencyAction") or ("satisfy" if success else "block")).lower(),
        explicit=explicit,
    )


def exit_options(conditions: dict[str, Any] | None, exit_code: int | None, stage: str | None) -> ExitOutcome:
    """stage: None (the process ran), 'preprocessing' (before it) or 'fileupload' (after it)."""
    conditions = conditions or {}
    if exit_code is not None:
        for item in conditions.get("exitCodes") or []:
            if int(item.get("code", 0)) == exit_code:
                return _from(item.get("exitOptions"), exit_code == 0 and stage is None, True)
        for item in conditions.get("exitCodeRanges") or []:
            if int(item.get("start", 0)) <= exit_code <= int(item.get("end", 0)):
                return _from(item.get("exitOptions"), exit_code == 0 and stage is None, True)
    if stage == "preprocessing" and conditions.get("preProcessingError"):
        return _from(conditions["preProcessingError"], False, True)
    if stage == "fileupload" and conditions.get("fileUploadError"):
        return _from(conditions["fileUploadError"], False, True)
    success = exit_code == 0 and stage is None
    if not success and conditions.get("default"):
        return _from(conditions["default"], False, True)
    return _from(None, success, False)


def task_exit_options(doc: dict[str, Any], stage: str | None = None) -> ExitOutcome:
    """The exit options of a completed task document; `stage` is where it failed, if not in its process."""
    info = doc.get("executionInfo") or {}
    code = info.get("exitCode")
    return exit_options(doc.get("exitConditions"), None if code is None else int(code), stage)


def satisfies_dependents(doc: dict[str, Any], stage: str | None = None) -> bool:
    if doc.get("state") != "completed":
        return False
    return task_exit_options(doc, stage).dependency_action == "satisfy"
