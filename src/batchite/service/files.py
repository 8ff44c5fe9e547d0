"""Task and node files: list, read (with a byte range), properties, delete."""

from __future__ import annotations

from dataclasses import dataclass

from batchite.compute.base import FileInfo, NodeBackend, NodeSpec
from batchite.domain.errors import BatchError, not_found
from batchite.service.context import ServiceContext, require


@dataclass
class FileLocation:
    spec: NodeSpec
    path: str  # relative to the node root
    url: str
    prefix: str  # what to strip from node paths to show them relative to the task


def file_not_found() -> BatchError:
    return BatchError(404, "FileNotFound", "The specified file does not exist.")


class FileService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def backend(self) -> NodeBackend:
        return self.ctx.scheduler.backend

    def _node_spec(self, account: str, pool_id: str, node_id: str) -> NodeSpec:
        pool = self.ctx.scheduler.pools.get((account, pool_id.lower()))
        node = pool.nodes.get(node_id) if pool else None
        if node is None:
            require(self.ctx.store.get(account, "pool", "", pool_id), not_found("pool"))
            raise not_found("node")
        return node.spec

    def node_location(self, account: str, pool_id: str, node_id: str, path: str) -> FileLocation:
        spec = self._node_spec(account, pool_id, node_id)
        base = f"{self.ctx.account_url(account)}/pools/{spec.pool_id}/nodes/{node_id}/files"
        return FileLocation(spec, path.strip("/"), f"{base}/{path.strip('/')}", "")

    def task_location(self, account: str, job_id: str, task_id: str, path: str) -> FileLocation:
        job = require(self.ctx.store.get(account, "job", "", job_id), not_found("job"))
        task = require(self.ctx.store.get(account, "task", job.key, task_id), not_found("task"))
        info = task.doc.get("nodeInfo")
        if not info:
            raise BatchError(
                409,
                "TaskFilesUnavailable",
                "The task has not been scheduled on a node yet; it has no files.",
            )
        spec = self._node_spec(account, str(info["poolId"]), str(info["nodeId"]))
        root = str(info["taskRootDirectory"])
        rel = path.strip("/")
        url = f"{self.ctx.account_url(account)}/jobs/{job.id}/tasks/{task.id}/files/{rel}"
        return FileLocation(spec, f"{root}/{rel}" if rel else root, url, root)

    def list(self, loc: FileLocation, recursive: bool) -> list[FileInfo]:
        infos = self.backend.list_files(loc.spec, loc.path, recursive)
        if not loc.prefix:
            return list(infos)
        cut = len(loc.prefix) + 1
        return [FileInfo(i.name[cut:], i.is_directory, i.size, i.creation_time, i.last_modified, i.mode) for i in infos]

    def stat(self, loc: FileLocation) -> FileInfo:
        try:
            info = self.backend.stat_file(loc.spec, loc.path)
        except ValueError as exc:
            raise file_not_found() from exc
        if info is None:
            raise file_not_found()
        return info

    def read(self, loc: FileLocation, start: int | None, end: int | None) -> bytes:
        info = self.stat(loc)
        if info.is_directory:
            raise BatchError(400, "InvalidUri", "The specified path is a directory, not a file.")
        return bytes(self.backend.read_file(loc.spec, loc.path, start, end))

    def delete(self, loc: FileLocation, recursive: bool) -> None:
        info = self.stat(loc)
        try:
            self.backend.delete_file(loc.spec, loc.path, recursive)
        except OSError as exc:
            if info.is_directory:
                raise BatchError(
                    409, "DirectoryNotEmpty", "The directory is not empty; set recursive to delete it."
                ) from exc
            raise file_not_found() from exc
