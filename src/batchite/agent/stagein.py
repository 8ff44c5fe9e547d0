"""Before a task's process starts: its application packages, then its resource files, downloaded in
parallel. Runs on a worker thread; a failure raises StageError with the Batch failure to report."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from batchite.agent.credentials import acting_as
from batchite.agent.files import (
    DEFAULT_FILE_MODE,
    PREPROCESSING,
    WORKING_DIR,
    ResourceFileSpec,
    TaskFailure,
    TaskStaging,
)
from batchite.agent.packages import PackageError, deploy
from batchite.agent.paths import inside
from batchite.storage import blobs
from batchite.storage.blobs import StorageError

_BLOB_CODES = {
    blobs.NOT_FOUND: ("BlobNotFound", "The resource file to download does not exist"),
    blobs.DENIED: ("BlobAccessDenied", "Access to the resource file to download was denied"),
    blobs.TIMEOUT: ("BlobDownloadTimedOut", "Downloading the resource file timed out"),
    blobs.MISC: ("BlobDownloadMiscError", "An error occurred while downloading the resource file"),
}
_CONTAINER_CODES = {
    blobs.NOT_FOUND: ("ResourceContainerNotFound", "The storage container of the resource files does not exist"),
    blobs.DENIED: ("ResourceContainerAccessDenied", "Access to the storage container of the resource files was denied"),
    blobs.TIMEOUT: ("ResourceContainerListMiscError", "Listing the storage container of the resource files timed out"),
    blobs.MISC: ("ResourceContainerListMiscError", "Listing the storage container of the resource files failed"),
}


class StageError(Exception):
    def __init__(self, failure: TaskFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class _Download:
    spec: ResourceFileSpec
    target: Path
    blob_name: str | None = None  # None: spec.http_url


def _fail(code: str, message: str, details: list[tuple[str, str]]) -> StageError:
    return StageError(TaskFailure(PREPROCESSING, code, message, tuple(details)))


def _source_details(spec: ResourceFileSpec, blob_name: str | None = None) -> list[tuple[str, str]]:
    if spec.http_url is not None:
        return [("BlobSource", spec.source or spec.http_url)]
    out = [("ContainerSource", spec.source or str(spec.container_url))]
    if blob_name is not None:
        out.append(("BlobName", blob_name))
    return out


def _base(spec: ResourceFileSpec, task_dir: Path) -> Path:
    return task_dir / "wd" if spec.base == WORKING_DIR else task_dir


def _escapes(spec: ResourceFileSpec, relative: str, blob_name: str | None = None) -> StageError:
    return _fail(
        "ResourceFileCreateFailed",
        f"The resource file path '{relative}' is not inside the task's working directory",
        [*_source_details(spec, blob_name), ("FilePath", relative)],
    )


def _http_target(spec: ResourceFileSpec, task_dir: Path) -> _Download:
    relative = spec.file_path or unquote(urlsplit(spec.http_url or "").path.rsplit("/", 1)[-1])
    target = inside(_base(spec, task_dir), relative)
    if target is None or target == _base(spec, task_dir).absolute():
        raise _escapes(spec, relative)
    return _Download(spec, target)


def _list(spec: ResourceFileSpec) -> list[str]:
    try:
        return blobs.list_blobs(str(spec.container_url), spec.blob_prefix)
    except StorageError as exc:
        code, message = _CONTAINER_CODES[exc.kind]
        raise _fail(code, message, [*_source_details(spec), ("Message", exc.message)]) from exc


def _container_targets(spec: ResourceFileSpec, names: list[str], task_dir: Path) -> list[_Download]:
    base = inside(_base(spec, task_dir), spec.file_path)
    if base is None:
        raise _escapes(spec, spec.file_path)
    out = []
    for name in names:
        if name.endswith("/"):
            continue  # a directory placeholder, not a file
        target = inside(base, name)
        if target is None:
            raise _escapes(spec, f"{spec.file_path.rstrip('/')}/{name}" if spec.file_path else name, name)
        out.append(_Download(spec, target, name))
    return out


def _file_mode(spec: ResourceFileSpec) -> int:
    if not spec.file_mode:
        return DEFAULT_FILE_MODE
    try:
        return int(spec.file_mode, 8) & 0o7777
    except ValueError as exc:
        raise _fail(
            "ResourceFileWriteFailed",
            f"The file mode '{spec.file_mode}' of the resource file is not an octal number",
            [*_source_details(spec), ("FileMode", spec.file_mode)],
        ) from exc


def _download(item: _Download, uid: int | None, gid: int | None) -> None:
    """One file, written with the task user's rights (the task's directory is the task's: a link it
    left there leads nowhere the user could not write); the transfer itself is the agent's."""
    spec = item.spec
    details = [*_source_details(spec, item.blob_name), ("FilePath", str(item.target))]
    mode = _file_mode(spec)
    as_user = functools.partial(acting_as, uid, gid)
    try:
        with as_user():
            item.target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(
            "ResourceDirectoryCreateFailed",
            "The directory of the resource file could not be created on the node",
            [*details, ("Message", str(exc))],
        ) from exc
    try:
        if item.blob_name is None:
            blobs.http_download(str(spec.http_url), item.target, access=as_user)
        else:
            blobs.download_blob(str(spec.container_url), item.blob_name, item.target, access=as_user)
        with as_user():
            os.chmod(item.target, mode)
    except StorageError as exc:
        code, message = _BLOB_CODES[exc.kind]
        raise _fail(code, message, [*details, ("Message", exc.message)]) from exc
    except OSError as exc:
        with as_user():
            in_the_way = item.target.is_dir()
        if exc.errno == errno.ENOSPC:
            code, message = "DiskFull", "The node's disk is full"
        elif in_the_way:
            code, message = "ResourceFileCreateFailed", "A directory is in the way of the resource file"
        else:
            code, message = "ResourceFileWriteFailed", "The resource file could not be written on the node"
        raise _fail(code, message, [*details, ("Message", str(exc))]) from exc


def _first_error(futures: list[Future[object]]) -> None:
    """Wait for all; raise the first failure in the order the files were given."""
    errors: list[BaseException] = []
    for fut in futures:
        exc = fut.exception()
        if exc is not None:
            errors.append(exc)
    if errors:
        raise errors[0]


def stage_in(
    staging: TaskStaging,
    task_dir: Path,
    node_root: Path,
    pool: ThreadPoolExecutor,
    uid: int | None = None,
    gid: int | None = None,
) -> None:
    """Deploy the packages and download the resource files (as `uid`/`gid`, the task's user, when
    given); raises StageError on the first failure."""
    if staging.pre_failure is not None:
        raise StageError(staging.pre_failure)
    (task_dir / "wd").mkdir(parents=True, exist_ok=True)
    try:
        _first_error([pool.submit(deploy, node_root, p) for p in staging.packages])
    except PackageError as exc:
        raise StageError(exc.failure) from exc
    plan: list[_Download] = []
    listings: list[tuple[ResourceFileSpec, Future[list[str]]]] = []
    for spec in staging.resource_files:
        if spec.http_url is not None:
            plan.append(_http_target(spec, task_dir))
        else:
            listings.append((spec, pool.submit(_list, spec)))
    _first_error([f for _, f in listings])  # type: ignore[misc]
    for spec, fut in listings:
        plan.extend(_container_targets(spec, fut.result(), task_dir))
    run: Callable[[_Download, int | None, int | None], None] = _download
    _first_error([pool.submit(run, item, uid, gid) for item in plan])
