"""Uploading files to a blob container given by a (SAS) container URL, through azure-storage-blob."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


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
