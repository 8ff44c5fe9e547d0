"""Task and node files: list, read (a byte range, streamed), properties, delete.

A task's files are looked for beneath its own directory and a node's beneath the node's tree;
the node agent resolves every path without following a symlink, serves only regular files and
directories, and never reaches outside (agent/safe_files.py). What it refuses is answered with
the Batch error a missing file gets, except the few a user should be told apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from batchite.agent import safe_files
from batchite.compute.protocol import FileInfo, FileRefused, NodeBackend, NodeSpec
from batchite.domain.errors import BatchError, not_found
from batchite.service.context import ServiceContext, require

__all__ = ["FileInfo", "FileLocation", "FileService"]


@dataclass
class FileLocation:
    spec: NodeSpec
    base: str  # relative to the node root: the task's directory, or "" for the node's tree
    path: str  # relative to base
    url: str


def file_error(refused: FileRefused) -> BatchError:
    """The Batch error for what the node refused."""
    if refused.reason == safe_files.IS_DIRECTORY:
        return BatchError(400, "InvalidUri", "The specified path is a directory, not a file.")
    if refused.reason == safe_files.NOT_EMPTY:
        return BatchError(409, "DirectoryNotEmpty", "The directory is not empty; set recursive to delete it.")
    if refused.reason == safe_files.IS_BASE:
        return BatchError(400, "InvalidUri", "The path names the task's (or node's) own directory, which cannot go.")
    if refused.reason in (safe_files.NOT_REGULAR, safe_files.HARD_LINKED, safe_files.BUSY):
        return BatchError(
            409,
            "FileNotReadable",
            f"The file cannot be read through the Batch API: {refused.message}.",
            [("Reason", refused.reason)],
        )
    return not_found("file")  # not there, or not inside the directory asked about


class FileService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def backend(self) -> NodeBackend:
        return self.ctx.scheduler.backend

    def _node_spec(self, account: str, pool_id: str, node_id: str) -> NodeSpec:
        found = self.ctx.scheduler.projection.node(account, pool_id, node_id)
        if found is None:
            require(self.ctx.store.pools.get(account, "", pool_id), not_found("pool"))
            raise not_found("node")
        return found[1].spec

    def node_location(self, account: str, pool_id: str, node_id: str, path: str) -> FileLocation:
        spec = self._node_spec(account, pool_id, node_id)
        rel = path.strip("/")
        return FileLocation(spec, "", rel, f"{self.ctx.urls.node(account, spec.pool_id, node_id)}/files/{rel}")

    def task_location(self, account: str, job_id: str, task_id: str, path: str) -> FileLocation:
        job = require(self.ctx.store.jobs.get(account, "", job_id), not_found("job"))
        task = require(self.ctx.store.tasks.get(account, job.key, task_id), not_found("task"))
        info = task.wire.node_info
        if info is None or not info.task_root_directory:
            raise BatchError(
                409, "TaskFilesUnavailable", "The task has not been scheduled on a node yet; it has no files."
            )
        spec = self._node_spec(account, info.pool_id or "", info.node_id or "")
        rel = path.strip("/")
        url = f"{self.ctx.urls.task(account, job.id, task.id)}/files/{rel}"
        return FileLocation(spec, info.task_root_directory, rel, url)

    async def list(self, loc: FileLocation, recursive: bool) -> list[FileInfo]:
        try:
            return await self.backend.list_files(loc.spec, f"{loc.base}/{loc.path}".strip("/"), recursive)
        except FileRefused as refused:
            if refused.reason == safe_files.NOT_FOUND and not loc.path:
                return []  # a task directory that is not there yet (or no longer): nothing in it
            raise file_error(refused) from None

    async def stat(self, loc: FileLocation) -> FileInfo:
        try:
            return await self.backend.stat_file(loc.spec, loc.base, loc.path)
        except FileRefused as refused:
            raise file_error(refused) from None

    async def read(self, loc: FileLocation, start: int | None, end: int | None) -> AsyncIterator[bytes]:
        """The file's bytes [start, end], as the node sends them (memory stays flat)."""
        try:
            return await self.backend.read_file(loc.spec, loc.base, loc.path, start, end)
        except FileRefused as refused:
            raise file_error(refused) from None

    async def delete(self, loc: FileLocation, recursive: bool) -> None:
        try:
            await self.backend.delete_file(loc.spec, loc.base, loc.path, recursive)
        except FileRefused as refused:
            raise file_error(refused) from None
