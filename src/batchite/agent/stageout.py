"""After a task's process exits: its output files, uploaded per their uploadCondition.

filePattern is relative to the working directory (absolute paths work too), `$VAR` and `${VAR}`
are expanded from the task's environment first, and the wildcards are glob's: `*` and `?` within
a name, `**` any number of directories, `[abc]` / `[!abc]` one character; names starting with `.`
match only a pattern part that starts with `.`. Without a wildcard, the file goes to the blob
`path` (or its own name); with one, every match goes under the virtual directory `path`, named by
its path below the pattern's fixed leading directories. Every upload is attempted even after one
fails (so nothing already uploaded is lost); the first failure is reported. Each attempt is logged
to fileuploadout.txt and fileuploaderr.txt beside stdout.txt.
"""

from __future__ import annotations

import glob
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from batchite.agent.files import FILE_UPLOAD, OutputFileSpec, TaskFailure, TaskStaging
from batchite.storage import blobs
from batchite.storage.blobs import ContainerUploader, StorageError

_WILDCARDS = re.compile(r"[*?\[]")
_VARIABLE = re.compile(r"\$(\w+|\{\w+\})")
_UPLOAD_CODES = {
    blobs.NOT_FOUND: ("FileUploadContainerNotFound", "The destination container of an output file does not exist"),
    blobs.DENIED: ("FileUploadAccessDenied", "Access to the destination container of an output file was denied"),
    blobs.TIMEOUT: ("FileUploadMiscError", "Uploading an output file timed out"),
    blobs.MISC: ("FileUploadMiscError", "An error occurred while uploading an output file"),
}


def expand(pattern: str, env: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1).strip("{}")
        return env.get(name, match.group(0))

    return _VARIABLE.sub(sub, pattern)


def applies(condition: str, exit_code: int) -> bool:
    condition = condition.lower()
    if condition == "tasksuccess":
        return exit_code == 0
    if condition == "taskfailure":
        return exit_code != 0
    return True


def matches(pattern: str, wd: Path) -> list[tuple[Path, str]]:
    """The files a pattern selects, each with its blob name below the destination path."""
    if not _WILDCARDS.search(pattern):
        target = Path(os.path.normpath(wd / pattern))
        return [(target, target.name)] if target.is_file() else []
    parts = pattern.split("/")
    fixed: list[str] = []
    for part in parts[:-1]:
        if _WILDCARDS.search(part):
            break
        fixed.append(part)
    anchor = Path(os.path.normpath(wd / "/".join(fixed))) if fixed else wd
    if os.path.isabs(pattern):
        found = glob.glob(pattern, recursive=True)
    else:
        found = [os.path.join(wd, f) for f in glob.glob(pattern, root_dir=wd, recursive=True)]
    out = []
    for name in sorted(set(found)):
        path = Path(os.path.normpath(name))
        if path.is_file():
            out.append((path, os.path.relpath(path, anchor).replace(os.sep, "/")))
    return out


def blob_name(spec: OutputFileSpec, relative: str, wildcard: bool) -> str:
    path = spec.path.strip("/")
    if not wildcard:
        return path or relative
    return f"{path}/{relative}" if path else relative


def _log(stream: TextIO, text: str) -> None:
    stream.write(f"{datetime.now(tz=UTC).isoformat(timespec='milliseconds')} {text}\n")


def _upload_one(spec: OutputFileSpec, env: dict[str, str], wd: Path, out: TextIO, err: TextIO) -> TaskFailure | None:
    pattern = expand(spec.file_pattern, env)
    files = matches(pattern, wd)
    if not files:
        _log(out, f"no file matches {pattern!r}; nothing to upload")
        return None
    wildcard = bool(_WILDCARDS.search(pattern))
    first: TaskFailure | None = None
    try:
        with ContainerUploader(spec.container_url) as uploader:
            for path, relative in files:
                name = blob_name(spec, relative, wildcard)
                _log(out, f"uploading {path} to blob {name}")
                try:
                    uploader.upload(name, path, spec.upload_headers)
                    _log(out, f"uploaded {path} to blob {name}")
                except (StorageError, OSError) as exc:
                    kind = exc.kind if isinstance(exc, StorageError) else blobs.MISC
                    detail = exc.message if isinstance(exc, StorageError) else str(exc)
                    _log(err, f"failed to upload {path} to blob {name}: {detail}")
                    if first is None:
                        code, message = _UPLOAD_CODES[kind]
                        first = TaskFailure(
                            FILE_UPLOAD,
                            code,
                            message,
                            (
                                ("FilePattern", spec.file_pattern),
                                ("ContainerUrl", spec.container_url),
                                ("FilePath", str(path)),
                                ("BlobName", name),
                                ("Message", detail),
                            ),
                        )
    except StorageError as exc:  # the client could not even be built (a malformed URL)
        _log(err, f"cannot upload to {spec.container_url}: {exc.message}")
        return TaskFailure(
            FILE_UPLOAD,
            "FileUploadMiscError",
            _UPLOAD_CODES[blobs.MISC][1],
            (("FilePattern", spec.file_pattern), ("ContainerUrl", spec.container_url)),
        )
    return first


def stage_out(staging: TaskStaging, task_dir: Path, env: dict[str, str], exit_code: int) -> TaskFailure | None:
    """Upload the output files whose condition the exit code meets; the first failure, if any."""
    wanted = [spec for spec in staging.output_files if applies(spec.condition, exit_code)]
    if not wanted:
        return None
    wd = task_dir / "wd"
    first: TaskFailure | None = None
    with open(task_dir / "fileuploadout.txt", "a") as out, open(task_dir / "fileuploaderr.txt", "a") as err:
        for spec in wanted:
            try:
                failure = _upload_one(spec, env, wd, out, err)
            except Exception as exc:  # a bug or an unexpected library error: report, keep going
                _log(err, f"unexpected error for {spec.file_pattern!r}: {exc!r}")
                failure = TaskFailure(
                    FILE_UPLOAD,
                    "FileUploadMiscError",
                    _UPLOAD_CODES[blobs.MISC][1],
                    (("FilePattern", spec.file_pattern), ("Message", str(exc))),
                )
            first = first or failure
    return first
