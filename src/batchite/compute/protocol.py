"""The node protocol: what the scheduler asks of a compute backend, and what a backend reports.

Commands go down (allocate, start, kill, files); events come back up through `NodeEvents`, on the
event loop: a node is ready, was found again after a restart, or is lost; a run finished. A run is
one process of a task, named by the run id the scheduler gave it, so a backend never holds a
reference into the scheduler, and a restarted service can match the runs an agent kept running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from batchite.agent.container_specs import ContainerSetup
from batchite.agent.identity import Isolation, NodeUsers, RunAs, UserKind
from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.agent.safe_files import FileInfo, FileRefused

__all__ = [
    "FileInfo",
    "FileRefused",
    "Isolation",
    "NodeBackend",
    "NodeEvents",
    "NodeSpec",
    "NodeUsers",
    "ProcessOutcome",
    "RunAs",
    "TaskLaunch",
    "UserKind",
]

Durable = Callable[[], Awaitable[None]]  # resolves once what the scheduler did so far is stored


@dataclass(frozen=True)
class NodeSpec:
    account: str
    account_url: str
    pool_id: str
    node_id: str
    is_dedicated: bool
    vm_size: str
    users: NodeUsers | None = None  # the pool's users (uids, group), when tasks run as them
    agent: str = ""  # nodes with the same key share one agent process ("" = one of its own)
    backend: str = ""  # which backend hosts it ("" = the service's default)
    spread: bool = False  # its pool runs multi-instance tasks (inter-node communication): nodes apart
    containers: ContainerSetup | None = None  # a container-enabled pool: images to pull, registries


class NodeEvents(Protocol):
    """What a backend reports, called on the event loop."""

    def node_ready(self, node: NodeSpec) -> None:
        """The node's directory tree is in place (after allocate): it can run tasks."""
        ...

    def node_unusable(self, node: NodeSpec, code: str, message: str, details: list[tuple[str, str]]) -> None:
        """The node came up but cannot run tasks (a container image it must have cannot be
        pulled): it stays, unusable, with this node error."""
        ...

    def node_attached(self, node: NodeSpec, running: set[str]) -> None:
        """After a restart: the node is still there, and these runs are still running on it
        (those that ended meanwhile have been reported through run_finished first)."""
        ...

    def node_lost(self, node: NodeSpec, reason: str, *, gone: bool = False) -> None:
        """The node is gone (its agent died, or cannot be reached): its runs are gone too.
        `gone`: it will never come back (its Ray actor died), so the pool replaces it."""
        ...

    def node_unplaced(self, node: NodeSpec, reason: str) -> None:
        """Allocation failed: the backend has no room for the node now (it may have later)."""
        ...

    def run_finished(self, run_id: str, outcome: ProcessOutcome) -> None:
        """A run ended: its process exited, was killed, or never started (outcome says which)."""
        ...


class NodeBackend(Protocol):
    name: str

    def connect(self, events: NodeEvents, durable: Durable) -> None:
        """Where to report, and how to wait until a report's consequences are stored; called once."""
        ...

    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        """Make the node ready (its directory tree), then report node_ready; `fresh` wipes it first."""
        ...

    def attach(self, node: NodeSpec) -> None:
        """After a restart: find the node again; report node_attached or node_lost."""
        ...

    def release(self, node: NodeSpec) -> None:
        """The node leaves: its runs are killed and its directory tree removed."""
        ...

    def start(self, node: NodeSpec, launch: TaskLaunch, after: str = "") -> None:
        """Run one process; its end is reported by run_finished(launch.run_id, ...). With `after`
        (a run id on the same node; only where `takes_successors`), it starts the moment that run
        ends, on its slots, or now if that run has already ended."""
        ...

    def takes_successors(self, node: NodeSpec) -> bool:
        """Whether `start(..., after=...)` may be used on this node (its agent can queue a run)."""
        ...

    def kill(self, node: NodeSpec, run_id: str) -> None:
        """Kill a run (before or after its process started); its end is still reported."""
        ...

    def remove_directory(self, node: NodeSpec, relative_dir: str) -> None:
        """Remove a task's (or a job's) directory from the node, in the background."""
        ...

    async def list_files(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        """What is under `base` (a directory of the node's tree); names relative to it."""
        ...

    async def stat_file(self, node: NodeSpec, base: str, path: str) -> FileInfo:
        """Raises FileRefused (reason not-found when there is nothing)."""
        ...

    async def read_file(
        self, node: NodeSpec, base: str, path: str, start: int | None, end: int | None
    ) -> AsyncIterator[bytes]:
        """The bytes [start, end] of a regular file, in chunks; raises FileRefused."""
        ...

    async def delete_file(self, node: NodeSpec, base: str, path: str, recursive: bool) -> None: ...

    async def shutdown(self, stop_agents: bool = False) -> None:
        """The service stops: leave the nodes' agents running (their tasks go on), or end them."""
        ...
