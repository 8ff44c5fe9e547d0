"""Application packages on a node: each (application, version) is downloaded once per node and
unzipped to applications/<id>_<version>; tasks find it through AZ_BATCH_APP_PACKAGE_* variables.

On Linux nodes the variable names have every character that is not a letter, digit or underscore
(periods, hyphens, number signs) flattened to an underscore, and the documented example is
lower-case (`agent-Linux-x64` 1.1.46.0 -> AZ_BATCH_APP_PACKAGE_agent_linux_x64_1_1_46_0); Batchite
sets that lower-case name and, when it differs, the name with the id's case kept. A package
referenced without a version (its application's default version) also gets the name without the
version, AZ_BATCH_APP_PACKAGE_<id>.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path

from batchite.agent.files import DEFAULT_FILE_MODE, PREPROCESSING, PackageSpec, TaskFailure
from batchite.agent.paths import inside
from batchite.storage.blobs import StorageError, http_download

PREFIX = "AZ_BATCH_APP_PACKAGE_"
MARKER = ".batchite-package"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class PackageError(Exception):
    def __init__(self, failure: TaskFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _flat(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def variable_names(application_id: str, version: str | None) -> list[str]:
    """The Linux names of a package's variable: lower-case first, then the id's own case."""
    tail = _flat(application_id) + (f"_{_flat(version)}" if version is not None else "")
    names = [PREFIX + tail.lower()]
    if PREFIX + tail not in names:
        names.append(PREFIX + tail)
    return names


def directory_name(application_id: str, version: str) -> str:
    return f"{application_id}_{version}"


def package_directory(node_root: Path, package: PackageSpec) -> Path:
    return node_root / "applications" / directory_name(package.application_id, package.version)


def package_environment(node_root: Path, packages: Iterable[PackageSpec]) -> dict[str, str]:
    env: dict[str, str] = {}
    for package in packages:
        where = str(package_directory(node_root, package))
        for name in variable_names(package.application_id, package.version):
            env[name] = where
        if package.default_version:
            for name in variable_names(package.application_id, None):
                env[name] = where
    return env


def _failure(package: PackageSpec, message: str) -> PackageError:
    return PackageError(
        TaskFailure(
            PREPROCESSING,
            "ApplicationPackageError",
            f"An error occurred while deploying application package {package.application_id} "
            f"version {package.version}: {message}",
            (("ApplicationId", package.application_id), ("Version", package.version), ("Message", message)),
        )
    )


def _lock_for(target: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(str(target), threading.Lock())


def _extract(archive: Path, dest: Path, package: PackageSpec) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for entry in zf.infolist():
                target = inside(dest, entry.filename)
                if target is None:
                    raise _failure(package, f"the zip entry {entry.filename!r} leaves the package directory")
                if entry.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(entry) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
                mode = (entry.external_attr >> 16) & 0o777
                os.chmod(target, mode or DEFAULT_FILE_MODE)
    except zipfile.BadZipFile as exc:
        raise _failure(package, f"the package is not a valid zip file ({exc})") from exc
    except OSError as exc:
        raise _failure(package, f"the package could not be unzipped: {exc}") from exc


def deploy(node_root: Path, package: PackageSpec) -> Path:
    """Make sure the package is unzipped on the node; downloads only when missing or changed."""
    final = package_directory(node_root, package)
    with _lock_for(final):
        marker = final / MARKER
        with contextlib.suppress(OSError):
            if marker.read_text() == package.tag:
                return final
        apps = final.parent
        apps.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        archive = apps / f".{final.name}.{token}.zip"
        staging = apps / f".{final.name}.{token}"
        try:
            try:
                http_download(package.source_url, archive)
            except StorageError as exc:
                raise _failure(package, f"the package could not be downloaded ({exc.message})") from exc
            except OSError as exc:
                raise _failure(package, f"the package could not be written to the node ({exc})") from exc
            staging.mkdir()
            _extract(archive, staging, package)
            (staging / MARKER).write_text(package.tag)
            if final.exists():
                old = apps / f".{final.name}.{token}.old"
                final.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            staging.rename(final)
        finally:
            with contextlib.suppress(OSError):
                archive.unlink()
            shutil.rmtree(staging, ignore_errors=True)
        return final
