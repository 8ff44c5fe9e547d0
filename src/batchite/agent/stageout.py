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

import contextlib
import fnmatch
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from batchite.agent.files import FILE_UPLOAD, OutputFileSpec, TaskFailure, TaskStaging
from batchite.agent.identity import SANDBOX_ROOT
from batchite.storage import blobs
from batchite.storage.blobs import ContainerUploader, FileAccess, StorageError

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


_MAX_MATCHES = 100_000  # a pattern selects at most this many files (a hostile tree cannot stall the agent)


def _matches_parts(pattern: list[str], path: list[str]) -> bool:
    """glob's rules on '/'-split parts: `**` is any number of directories, a name starting with '.'
    only matches a pattern part starting with '.'."""
    if not pattern:
        return not path
    head = pattern[0]
    if head == "**":
        if _matches_parts(pattern[1:], path):
            return True
        return bool(path) and not path[0].startswith(".") and _matches_parts(pattern, path[1:])
    if not path or (path[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(path[0], head) and _matches_parts(pattern[1:], path[1:])


def _files_under(anchor: Path, depth: int | None) -> Iterator[Path]:
    """The regular files beneath anchor, at most `depth` levels down (None: any); symlinks are never
    followed (to a file or a directory)."""
    count = 0
    for top, dirs, files in os.walk(anchor, followlinks=False):
        if depth is not None and len(Path(top).relative_to(anchor).parts) >= depth - 1:
            dirs.clear()
        for name in files:
            path = Path(top, name)
            if path.is_symlink() or not path.is_file():
                continue
            count += 1
            if count > _MAX_MATCHES:
                return
            yield path


def _passes_links(path: Path, base: Path | None) -> bool:
    """False when a component of path below base is a symlink (True when path is not below base)."""
    if base is None:
        return True
    try:
        below = path.relative_to(base)
    except ValueError:
        return True
    current = base
    for part in below.parts:
        current = current / part
        if current.is_symlink():
            return False
    return True


def matches(pattern: str, wd: Path, confine: Path | None = None) -> list[tuple[Path, str]]:
    """The files a pattern selects, each with its blob name below the destination path.

    No symlink is followed below the working directory (nor below `confine`); with `confine`, a
    pattern that leads outside it selects nothing."""
    absolute = os.path.isabs(pattern)
    guard = confine or (None if absolute else wd)
    if not _WILDCARDS.search(pattern):
        target = Path(os.path.normpath(wd / pattern))
        if confine is not None and not target.is_relative_to(confine):
            return []
        if not _passes_links(target, guard) or target.is_symlink() or not target.is_file():
            return []
        return [(target, target.name)]
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    fixed: list[str] = []
    for part in parts[:-1]:
        if _WILDCARDS.search(part):
            break
        fixed.append(part)
    base = Path("/") if absolute else wd
    anchor = Path(os.path.normpath(base.joinpath(*fixed)))
    if confine is not None and not anchor.is_relative_to(confine):
        return []
    if not _passes_links(anchor, guard) or anchor.is_symlink():
        return []
    rest = parts[len(fixed) :]
    out = []
    for path in _files_under(anchor, None if "**" in rest else len(rest)):
        relative = path.relative_to(anchor).parts
        if _matches_parts(rest, list(relative)):
            out.append((path, "/".join(relative)))
    return sorted(out)


def blob_name(spec: OutputFileSpec, relative: str, wildcard: bool) -> str:
    path = spec.path.strip("/")
    if not wildcard:
        return path or relative
    return f"{path}/{relative}" if path else relative


def _log(stream: TextIO, text: str) -> None:
    stream.write(f"{datetime.now(tz=UTC).isoformat(timespec='milliseconds')} {text}\n")


def outside_view(pattern: str, node_root: Path | None) -> str:
    """A pattern written inside a sandbox (/mnt/batch/tasks/...) as the agent sees it."""
    if node_root is not None and (pattern == SANDBOX_ROOT or pattern.startswith(SANDBOX_ROOT + "/")):
        return str(node_root) + pattern[len(SANDBOX_ROOT) :]
    return pattern


def _upload_one(
    spec: OutputFileSpec,
    env: dict[str, str],
    wd: Path,
    out: TextIO,
    err: TextIO,
    sandbox_root: Path | None,
    access: FileAccess,
    confine: Path | None,
) -> TaskFailure | None:
    pattern = outside_view(expand(spec.file_pattern, env), sandbox_root)
    with access():
        files = matches(pattern, wd, confine)
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
                    uploader.upload(name, path, spec.upload_headers, access)
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


def stage_out(
    staging: TaskStaging,
    task_dir: Path,
    env: dict[str, str],
    exit_code: int,
    sandbox_root: Path | None = None,
    access: FileAccess = contextlib.nullcontext,
    confine: Path | None = None,
) -> TaskFailure | None:
    """Upload the output files whose condition the exit code meets; the first failure, if any.

    `sandbox_root`: the node root of a task that saw it at /mnt/batch/tasks. `access` wraps every
    look at the task's files (finding, opening, the logs), to make it with the task user's rights;
    where it cannot (the agent is not root), `confine` (the node root) bounds what may be read."""
    wanted = [spec for spec in staging.output_files if applies(spec.condition, exit_code)]
    if not wanted:
        return None
    wd = task_dir / "wd"
    first: TaskFailure | None = None
    with access():
        out, err = open(task_dir / "fileuploadout.txt", "a"), open(task_dir / "fileuploaderr.txt", "a")  # noqa: SIM115
    with out, err:
        for spec in wanted:
            try:
                failure = _upload_one(spec, env, wd, out, err, sandbox_root, access, confine)
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
