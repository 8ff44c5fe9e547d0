"""Local backend: each node is a directory tree under the data directory; runs are processes."""

from __future__ import annotations

import asyncio
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

from batchite.agent.layout import NodeIdentity, TaskLaunch, environment, prepare_node, task_directory
from batchite.agent.process import Launch, ProcessOutcome, ProcessRunner, RunningProcess
from batchite.compute.protocol import FileInfo, NodeEvents, NodeSpec


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
        self._events: NodeEvents | None = None
        self._runs: dict[str, RunningProcess] = {}

    def connect(self, events: NodeEvents) -> None:
        self._events = events

    @property
    def events(self) -> NodeEvents:
        assert self._events is not None, "connect() the backend first"
        return self._events

    def node_root(self, node: NodeSpec) -> Path:
        return self.root / node.account / node.pool_id.lower() / node.node_id

    def _identity(self, node: NodeSpec) -> NodeIdentity:
        return NodeIdentity(
            account=node.account,
            account_url=node.account_url,
            pool_id=node.pool_id,
            node_id=node.node_id,
            root=self.node_root(node),
            is_dedicated=node.is_dedicated,
        )

    # -- nodes --------------------------------------------------------------------------
    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        root = self.node_root(node)
        if fresh:
            shutil.rmtree(root, ignore_errors=True)
        prepare_node(root)
        asyncio.get_running_loop().call_soon(self.events.node_ready, node)

    def release(self, node: NodeSpec) -> None:
        root = self.node_root(node)
        asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, root, True)

    # -- runs ---------------------------------------------------------------------------
    def start(self, node: NodeSpec, launch: TaskLaunch) -> None:
        identity = self._identity(node)
        staging = launch.staging if launch.staging is not None and not launch.staging.is_empty() else None
        process = Launch(
            command_line=launch.command_line,
            task_dir=task_directory(identity, launch),
            env=environment(identity, launch),
            staging=staging,
            node_root=identity.root,
        )
        run_id = launch.run_id

        def finished(outcome: ProcessOutcome) -> None:
            self._runs.pop(run_id, None)
            self.events.run_finished(run_id, outcome)

        self._runs[run_id] = self.runner.start(process, finished)

    def kill(self, node: NodeSpec, run_id: str) -> None:
        running = self._runs.get(run_id)
        if running is not None:
            self.runner.kill(running)

    def remove_directory(self, node: NodeSpec, relative_dir: str) -> None:
        try:
            target = self.resolve(node, relative_dir)
        except PathEscapesNode:
            return
        asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, target, True)

    # -- files --------------------------------------------------------------------------
    def resolve(self, node: NodeSpec, path: str) -> Path:
        root = self.node_root(node).resolve()
        target = (root / path.strip("/")).resolve() if path.strip("/") else root
        if target != root and root not in target.parents:
            raise PathEscapesNode(path)
        return target

    def _list(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        root = self.resolve(node, base)
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

    async def list_files(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        return await asyncio.to_thread(self._list, node, base, recursive)

    def _stat(self, node: NodeSpec, path: str) -> FileInfo | None:
        target = self.resolve(node, path)
        try:
            return _info(path.strip("/"), target)
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def stat_file(self, node: NodeSpec, path: str) -> FileInfo | None:
        return await asyncio.to_thread(self._stat, node, path)

    def _read(self, node: NodeSpec, path: str, start: int | None, end: int | None) -> bytes:
        target = self.resolve(node, path)
        with open(target, "rb") as fh:
            if start:
                fh.seek(start)
            if end is None:
                return fh.read()
            return fh.read(max(0, end - (start or 0) + 1))

    async def read_file(self, node: NodeSpec, path: str, start: int | None, end: int | None) -> bytes:
        return await asyncio.to_thread(self._read, node, path, start, end)

    def _delete(self, node: NodeSpec, path: str, recursive: bool) -> None:
        target = self.resolve(node, path)
        if target.is_dir():
            if recursive:
                shutil.rmtree(target)
            else:
                target.rmdir()
        else:
            target.unlink()

    async def delete_file(self, node: NodeSpec, path: str, recursive: bool) -> None:
        await asyncio.to_thread(self._delete, node, path, recursive)

    def shutdown(self) -> None:
        self.runner.shutdown()
