"""Small helpers of the storage tests: blobs in Azurite, SDK models, waiting for a task."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from azure.batch import models as m

from batchite.storage.linked import LinkedStorage
from tests.e2e.helpers import wait_task


def put_blobs(storage: LinkedStorage, container: str, blobs: dict[str, bytes | str]) -> None:
    with storage.service() as svc:
        for name, data in blobs.items():
            svc.get_blob_client(container, name).upload_blob(data, overwrite=True)


def blob_names(storage: LinkedStorage, container: str) -> list[str]:
    with storage.service() as svc:
        return sorted(b.name for b in svc.get_container_client(container).list_blobs())


def read_blob(storage: LinkedStorage, container: str, name: str) -> bytes:
    with storage.service() as svc:
        return bytes(svc.get_blob_client(container, name).download_blob().readall())


def output(pattern: str, url: str, path: str | None = None, condition: str = "taskcompletion", **dest: Any) -> Any:
    return m.OutputFile(
        file_pattern=pattern,
        destination=m.OutputFileDestination(
            container=m.OutputFileBlobContainerDestination(container_url=url, path=path, **dest)
        ),
        upload_options=m.OutputFileUploadConfiguration(upload_condition=condition),
    )


def run(client: Any, job_id: str, task: Any, timeout: float = 30.0) -> Any:
    """Add a task and wait until it completes; returns the completed task."""
    client.create_task(job_id, task)
    return wait_task(client, job_id, task.id, timeout=timeout)


def stdout(client: Any, job_id: str, task_id: str, name: str = "stdout.txt") -> str:
    return b"".join(client.download_task_file(job_id, task_id, name)).decode()


def details(task: Any) -> dict[str, str]:
    info = task.execution_info.failure_info
    return {d.name: d.value for d in info.details or []}


def package_zip(version: str, data_file: bool = False) -> bytes:
    """An application package: an executable `bin/hello.sh` that says its version (and a data file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        script = zipfile.ZipInfo("bin/hello.sh")
        script.external_attr = 0o755 << 16
        zf.writestr(script, f"#!/bin/sh\necho hello from {version}\n")
        if data_file:
            zf.writestr("share/README", "data file")
    return buffer.getvalue()
