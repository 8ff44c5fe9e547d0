"""Blob transfers: plain HTTP(S) GET for any URL, azure-storage-blob for containers (list, download,
upload) given by a container URL (a SAS URL, or a public container). Errors come back as
StorageError with a kind the agent maps to the Batch failure codes."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

NOT_FOUND = "notfound"
DENIED = "denied"
TIMEOUT = "timeout"
MISC = "misc"

HTTP_TIMEOUT = 60.0
# Keep failures quick: a wrong URL should fail a task in seconds, not after minutes of back-off.
CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.2, "connection_timeout": 10}
_HEADER_SETTINGS = {
    "content-type": "content_type",
    "content-encoding": "content_encoding",
    "content-language": "content_language",
    "content-disposition": "content_disposition",
    "cache-control": "cache_control",
}


class StorageError(Exception):
    """A failed transfer: kind is NOT_FOUND, DENIED, TIMEOUT or MISC."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.message = message


def _kind_of_status(status: int | None) -> str:
    if status == 404:
        return NOT_FOUND
    if status in (401, 403):
        return DENIED
    if status in (408, 504):
        return TIMEOUT
    return MISC


def _azure_error(exc: Exception) -> StorageError:
    from azure.core.exceptions import HttpResponseError, ServiceRequestTimeoutError, ServiceResponseTimeoutError

    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
        return StorageError(TIMEOUT, str(exc))
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = getattr(exc, "error_code", None) or ""
        return StorageError(_kind_of_status(status), f"{status} {code}".strip() + f": {exc.reason or exc}", status)
    return StorageError(MISC, str(exc) or type(exc).__name__)


FileAccess = Callable[[], contextlib.AbstractContextManager[None]]
"""Wraps every file system call a transfer makes on a local file (opening, renaming, removing), so
that the caller can make them with another user's rights; the transfer itself is outside it."""


@contextlib.contextmanager
def _atomic_target(dest: Path, access: FileAccess) -> Iterator[Any]:
    """A temporary file beside dest that replaces it only when the write completed."""
    with access():
        fd, tmp = tempfile.mkstemp(prefix=".download-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        with access():
            os.replace(tmp, dest)
    except BaseException:
        with access(), contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- downloads ---------------------------------------------------------------------------------
def http_download(
    url: str, dest: Path, timeout: float = HTTP_TIMEOUT, access: FileAccess = contextlib.nullcontext
) -> int:
    """GET url into dest (through a temporary file); returns the byte count.

    OSError from writing dest propagates as is; the transfer's own failures are StorageError.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "batchite-node-agent"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise StorageError(_kind_of_status(exc.code), f"{exc.code} {exc.reason}", exc.code) from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        kind = TIMEOUT if isinstance(reason, TimeoutError) else MISC
        raise StorageError(kind, str(reason)) from exc
    except TimeoutError as exc:
        raise StorageError(TIMEOUT, str(exc) or "timed out") from exc
    except ValueError as exc:  # not a URL urllib can fetch
        raise StorageError(MISC, str(exc)) from exc
    with response, _atomic_target(dest, access) as fh:
        try:
            shutil.copyfileobj(response, fh, 1024 * 1024)
        except TimeoutError as exc:
            raise StorageError(TIMEOUT, "timed out while reading") from exc
        except (ConnectionError, urllib.error.URLError) as exc:
            raise StorageError(MISC, str(exc)) from exc
        return int(fh.tell())


def container_client(container_url: str) -> Any:
    from azure.storage.blob import ContainerClient

    return ContainerClient.from_container_url(container_url, **CLIENT_OPTIONS)


def list_blobs(container_url: str, prefix: str = "") -> list[str]:
    """Names of the blobs under prefix (all of them without one)."""
    try:
        with container_client(container_url) as container:
            return [b.name for b in container.list_blobs(name_starts_with=prefix or None)]
    except Exception as exc:
        raise _azure_error(exc) from exc


def download_blob(container_url: str, name: str, dest: Path, access: FileAccess = contextlib.nullcontext) -> int:
    try:
        with container_client(container_url) as container, _atomic_target(dest, access) as fh:
            container.download_blob(name).readinto(fh)
            return int(fh.tell())
    except OSError:
        raise
    except Exception as exc:
        raise _azure_error(exc) from exc


# -- uploads -----------------------------------------------------------------------------------
def _upload_kwargs(headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    from azure.storage.blob import ContentSettings

    settings: dict[str, str] = {}
    metadata: dict[str, str] = {}
    extra: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in _HEADER_SETTINGS:
            settings[_HEADER_SETTINGS[lower]] = value
        elif lower.startswith("x-ms-meta-"):
            metadata[name[len("x-ms-meta-") :]] = value
        elif lower.startswith("x-ms-blob-"):
            short = lower[len("x-ms-blob-") :]
            if short in _HEADER_SETTINGS:
                settings[_HEADER_SETTINGS[short]] = value
            else:
                extra[name] = value
        else:
            extra[name] = value
    kwargs: dict[str, Any] = {}
    if settings:
        kwargs["content_settings"] = ContentSettings(**settings)  # type: ignore[arg-type]
    if metadata:
        kwargs["metadata"] = metadata
    if extra:
        kwargs["headers"] = extra
    return kwargs


class ContainerUploader:
    """Uploads files into one container, reusing its client; use as a context manager."""

    def __init__(self, container_url: str) -> None:
        self.container_url = container_url
        self._client: Any = None

    def __enter__(self) -> ContainerUploader:
        try:
            self._client = container_client(self.container_url)
        except Exception as exc:  # a URL azure-storage-blob cannot take
            raise _azure_error(exc) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()

    def upload(
        self,
        blob_name: str,
        path: Path,
        headers: Sequence[tuple[str, str]] = (),
        access: FileAccess = contextlib.nullcontext,
    ) -> None:
        try:
            with access():
                fh = open(path, "rb")  # noqa: SIM115 - closed below, opened with the caller's rights
            with fh:
                self._client.upload_blob(blob_name, fh, overwrite=True, **_upload_kwargs(headers))
        except OSError:
            raise
        except Exception as exc:
            raise _azure_error(exc) from exc


def upload_files(container_url: str, items: Iterable[tuple[str, Path | bytes]]) -> int:
    """Upload (blob name, local path or bytes) pairs; returns how many were uploaded."""
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_container_url(container_url)
    count = 0
    with container:
        for name, source in items:
            data = source.read_bytes() if isinstance(source, Path) else source
            container.upload_blob(name, data, overwrite=True)
            count += 1
    return count
