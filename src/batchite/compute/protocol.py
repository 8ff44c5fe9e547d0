"""The node protocol: what the scheduler asks of a compute backend, and what a backend reports.

Commands go down (allocate, start, kill, files); events come back up through `NodeEvents`, on the
event loop: a node is ready, a run finished. A run is one process of a task, named by the run id
the scheduler gave it, so a backend never holds a reference into the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome

__all__ = ["FileInfo", "NodeBackend", "NodeEvents", "NodeSpec", "ProcessOutcome", "TaskLaunch"]


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


class NodeEvents(Protocol):
    """What a backend reports, called on the event loop."""

    def node_ready(self, node: NodeSpec) -> None:
        """The node's directory tree is in place (after allocate): it can run tasks."""
        ...

    def run_finished(self, run_id: str, outcome: ProcessOutcome) -> None:
        """A run ended: its process exited, was killed, or never started (outcome says which)."""
        ...


class NodeBackend(Protocol):
    name: str

    def connect(self, events: NodeEvents) -> None:
        """Where to report; called once, before anything else."""
        ...

    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        """Make the node ready (its directory tree), then report node_ready; `fresh` wipes it first."""
        ...

    def release(self, node: NodeSpec) -> None:
        """The node leaves: its runs are killed and its directory tree removed."""
        ...

    def start(self, node: NodeSpec, launch: TaskLaunch) -> None:
        """Run one process; its end is reported by run_finished(launch.run_id, ...)."""
        ...

    def kill(self, node: NodeSpec, run_id: str) -> None:
        """Kill a run (before or after its process started); its end is still reported."""
        ...

    def remove_directory(self, node: NodeSpec, relative_dir: str) -> None:
        """Remove a task's (or a job's) directory from the node, in the background."""
        ...

    async def list_files(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]: ...

    async def stat_file(self, node: NodeSpec, path: str) -> FileInfo | None: ...

    async def read_file(self, node: NodeSpec, path: str, start: int | None, end: int | None) -> bytes: ...

    async def delete_file(self, node: NodeSpec, path: str, recursive: bool) -> None: ...

    def shutdown(self) -> None: ...
