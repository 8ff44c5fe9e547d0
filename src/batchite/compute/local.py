"""Local backend: each node is a directory tree under the data directory; tasks are processes."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batchite.agent.layout import NodeIdentity, TaskIdentity, environment, prepare_node, task_directory
from batchite.agent.process import Launch, ProcessOutcome, ProcessRunner, RunningProcess
from batchite.compute.base import FileInfo, NodeSpec


class PathEscapesNode(ValueError):
    """A file path that would leave the node (or task) directory."""


def _info(name: str, path: Path) -> FileInfo:
    st = path.stat()
    return FileInfo(
        name=name,
        is_directory=stat.S_ISDIR(st.st_mode),
        size=0 if stat.S_ISDIR(st.st_mode) else st.st_size,
        creation_time=datetime.fromtimestamp(st.st_ctime, tz=UTC),
        last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        mode=f"{stat.S_IMODE(st.st_mode):o}",
    )


class LocalBackend:
    name = "local"

    def __init__(self, root: Path, spawn_threads: int = 2) -> None:
        self.root = root
        self.runner = ProcessRunner(spawn_threads)

    def node_root(self, spec: NodeSpec) -> Path:
        return self.root / spec.account / spec.pool_id.lower() / spec.node_id

    def _identity(self, spec: NodeSpec) -> NodeIdentity:
        return NodeIdentity(
            account=spec.account,
            account_url=spec.account_url,
            pool_id=spec.pool_id,
            node_id=spec.node_id,
            root=self.node_root(spec),
            is_dedicated=spec.is_dedicated,
        )

    async def allocate(self, spec: NodeSpec) -> None:
        prepare_node(self.node_root(spec))

    async def release(self, spec: NodeSpec) -> None:
        shutil.rmtree(self.node_root(spec), ignore_errors=True)

    def start_task(
        self,
        spec: NodeSpec,
        task: TaskIdentity,
        command_line: str,
        on_exit: Callable[[ProcessOutcome], None],
    ) -> RunningProcess:
        node = self._identity(spec)
        task_dir = task_directory(node, task)
        launch = Launch(
            command_line=command_line,
            task_dir=task_dir,
            env=environment(node, task),
            staging=task.staging if task.staging is not None and not task.staging.is_empty() else None,
            node_root=node.root,
        )
        return self.runner.start(launch, on_exit)

    def kill_task(self, handle: Any) -> None:
        if isinstance(handle, RunningProcess):
            self.runner.kill(handle)

    def remove_task_directory(self, spec: NodeSpec, relative_dir: str) -> None:
        shutil.rmtree(self.resolve(spec, relative_dir), ignore_errors=True)

    # -- files --------------------------------------------------------------------------
    def resolve(self, spec: NodeSpec, path: str) -> Path:
        root = self.node_root(spec).resolve()
        target = (root / path.strip("/")).resolve() if path.strip("/") else root
        if target != root and root not in target.parents:
            raise PathEscapesNode(path)
        return target

    def list_files(self, spec: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        root = self.resolve(spec, base)
        if not root.is_dir():
            return []
        prefix = base.strip("/")
        out: list[FileInfo] = []
        entries = sorted(root.rglob("*")) if recursive else sorted(root.iterdir())
        for entry in entries:
            rel = entry.relative_to(root).as_posix()
            try:
                out.append(_info(f"{prefix}/{rel}" if prefix else rel, entry))
            except FileNotFoundError:
                continue
        return out

    def stat_file(self, spec: NodeSpec, path: str) -> FileInfo | None:
        target = self.resolve(spec, path)
        try:
            return _info(path.strip("/"), target)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_file(self, spec: NodeSpec, path: str, start: int | None, end: int | None) -> bytes:
        target = self.resolve(spec, path)
        with open(target, "rb") as fh:
            if start:
                fh.seek(start)
            if end is None:
                return fh.read()
            return fh.read(max(0, end - (start or 0) + 1))

    def delete_file(self, spec: NodeSpec, path: str, recursive: bool) -> None:
        target = self.resolve(spec, path)
        if target.is_dir():
            if recursive:
                shutil.rmtree(target)
            else:
                target.rmdir()
        else:
            target.unlink()

    def shutdown(self) -> None:
        self.runner.shutdown()
