"""Task and node files: list, read (with a byte range), properties, delete."""

from __future__ import annotations

from dataclasses import dataclass

from batchite.compute.protocol import FileInfo, NodeBackend, NodeSpec
from batchite.domain.errors import BatchError, not_found
from batchite.service.context import ServiceContext, require

__all__ = ["FileInfo", "FileLocation", "FileService"]


@dataclass
class FileLocation:
    spec: NodeSpec
    path: str  # relative to the node root
    url: str
    prefix: str  # what to strip from node paths to show them relative to the task


def file_not_found() -> BatchError:
    return not_found("file")


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
        return FileLocation(spec, rel, f"{self.ctx.urls.node(account, spec.pool_id, node_id)}/files/{rel}", "")

    def task_location(self, account: str, job_id: str, task_id: str, path: str) -> FileLocation:
        job = require(self.ctx.store.jobs.get(account, "", job_id), not_found("job"))
        task = require(self.ctx.store.tasks.get(account, job.key, task_id), not_found("task"))
        info = task.wire.node_info
        if info is None or not info.task_root_directory:
            raise BatchError(
                409, "TaskFilesUnavailable", "The task has not been scheduled on a node yet; it has no files."
            )
        spec = self._node_spec(account, info.pool_id or "", info.node_id or "")
        root = info.task_root_directory
        rel = path.strip("/")
        url = f"{self.ctx.urls.task(account, job.id, task.id)}/files/{rel}"
        return FileLocation(spec, f"{root}/{rel}" if rel else root, url, root)

    async def list(self, loc: FileLocation, recursive: bool) -> list[FileInfo]:
        infos = await self.backend.list_files(loc.spec, loc.path, recursive)
        if not loc.prefix:
            return list(infos)
        cut = len(loc.prefix) + 1
        return [FileInfo(i.name[cut:], i.is_directory, i.size, i.creation_time, i.last_modified, i.mode) for i in infos]

    async def stat(self, loc: FileLocation) -> FileInfo:
        try:
            info = await self.backend.stat_file(loc.spec, loc.path)
        except ValueError as exc:
            raise file_not_found() from exc
        if info is None:
            raise file_not_found()
        return info

    async def read(self, loc: FileLocation, start: int | None, end: int | None) -> bytes:
        info = await self.stat(loc)
        if info.is_directory:
            raise BatchError(400, "InvalidUri", "The specified path is a directory, not a file.")
        return bytes(await self.backend.read_file(loc.spec, loc.path, start, end))

    async def delete(self, loc: FileLocation, recursive: bool) -> None:
        info = await self.stat(loc)
        try:
            await self.backend.delete_file(loc.spec, loc.path, recursive)
        except OSError as exc:
            if info.is_directory:
                raise BatchError(
                    409, "DirectoryNotEmpty", "The directory is not empty; set recursive to delete it."
                ) from exc
            raise file_not_found() from exc
