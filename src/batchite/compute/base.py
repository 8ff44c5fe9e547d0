"""The NodeBackend protocol: what the scheduler asks of a compute backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from batchite.agent.layout import TaskIdentity
from batchite.agent.process import ProcessOutcome


@dataclass(frozen=True)
class NodeSpec:
    account: str
    account_url: str
    pool_id: str
    node_id: str
    is_dedicated: bool
    vm_size: str


@dataclass(frozen=True)
class FileInfo:
    """A file or directory on a node, path relative to the node root (or task directory)."""

    name: str
    is_directory: bool
    size: int
    creation_time: datetime
    last_modified: datetime
    mode: str


class TaskHandle(Protocol):
    """Opaque handle of a running task process."""


class NodeBackend(Protocol):
    name: str

    async def allocate(self, spec: NodeSpec) -> None: ...

    async def release(self, spec: NodeSpec) -> None: ...

    def start_task(
        self,
        spec: NodeSpec,
        task: TaskIdentity,
        command_line: str,
        on_exit: Callable[[ProcessOutcome], None],
    ) -> Any: ...

    def kill_task(self, handle: Any) -> None: ...

    def remove_task_directory(self, spec: NodeSpec, relative_dir: str) -> None: ...

    def list_files(self, spec: NodeSpec, base: str, recursive: bool) -> list[FileInfo]: ...

    def stat_file(self, spec: NodeSpec, path: str) -> FileInfo | None: ...

    def read_file(self, spec: NodeSpec, path: str, start: int | None, end: int | None) -> bytes: ...

    def delete_file(self, spec: NodeSpec, path: str, recursive: bool) -> None: ...

    def shutdown(self) -> None: ...
