"""What a task brings in and takes out: resource files, output files, application packages.

Plain dataclasses, no wire format: the scheduler converts a task's document into a TaskStaging
(scheduler/launch.py), the agent downloads before the process starts and uploads after it exits,
and a failure comes back as a TaskFailure in the ProcessOutcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Where a failure happened, as exitConditions name them.
PREPROCESSING = "preprocessing"  # resource files, application packages, starting the process
FILE_UPLOAD = "fileupload"  # output files after the process exited
PROCESS = "process"  # the process ran and exited non-zero

# Relative to what a resource file's filePath is taken.
WORKING_DIR = "wd"  # the task working directory (resourceFiles)
TASK_DIR = "task"  # the task root directory (multi-instance commonResourceFiles)

DEFAULT_FILE_MODE = 0o770  # what a Linux node applies when fileMode is not given


@dataclass(frozen=True)
class TaskFailure:
    """A failure the agent reports: failureInfo's category, code, message and details."""

    stage: str
    code: str
    message: str
    details: tuple[tuple[str, str], ...] = ()
    category: str = "usererror"


@dataclass(frozen=True)
class ResourceFileSpec:
    """One resource file: exactly one of http_url / container_url is set.

    container_url is a container URL the agent can list and read (a SAS URL, or one the scheduler
    signed for the account's linked storage); every blob under blob_prefix is downloaded keeping its
    path, below file_path taken as a directory.
    """

    http_url: str | None = None
    container_url: str | None = None
    blob_prefix: str = ""
    file_path: str = ""
    file_mode: str | None = None
    base: str = WORKING_DIR
    source: str = ""  # what the user gave (URL or auto-storage container name), for failure details


@dataclass(frozen=True)
class OutputFileSpec:
    file_pattern: str
    container_url: str
    path: str = ""
    upload_headers: tuple[tuple[str, str], ...] = ()
    condition: str = "taskcompletion"  # tasksuccess | taskfailure | taskcompletion


@dataclass(frozen=True)
class PackageSpec:
    """An application package to deploy to the node's applications/ directory."""

    application_id: str
    version: str
    source_url: str  # a URL the agent can read the zip from
    tag: str = ""  # changes when the package content may have changed (redeploy)
    default_version: bool = False  # referenced without a version: also the default-version variable


@dataclass
class TaskStaging:
    """Everything to do around one task process besides running it."""

    resource_files: list[ResourceFileSpec] = field(default_factory=list)
    output_files: list[OutputFileSpec] = field(default_factory=list)
    packages: list[PackageSpec] = field(default_factory=list)
    pre_failure: TaskFailure | None = None  # known before anything runs (e.g. an unknown package)

    def has_stage_in(self) -> bool:
        return bool(self.resource_files or self.packages or self.pre_failure)

    def is_empty(self) -> bool:
        return not (self.has_stage_in() or self.output_files)
