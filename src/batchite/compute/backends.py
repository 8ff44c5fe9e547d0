"""More than one compute backend at once: each node goes to the backend its pool chose.

`batchite serve --backend ray --ray-address ADDR` makes Ray the default; a pool's metadata item
`batchite.backend` (`local` or `ray`) chooses for that pool at its creation (service/pools.py).
A node's spec names its backend ("" = the default), so every call reaches the backend hosting it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from batchite.compute.protocol import Durable, FileInfo, NodeBackend, NodeEvents, NodeSpec, TaskLaunch


class BackendSet:
    def __init__(self, default: NodeBackend, *others: NodeBackend) -> None:
        self.default = default
        self.members = {b.name: b for b in (default, *others)}
        self.name = default.name

    @property
    def names(self) -> list[str]:
        return list(self.members)

    def of(self, node: NodeSpec) -> NodeBackend:
        return self.members.get(node.backend, self.default) if node.backend else self.default

    def connect(self, events: NodeEvents, durable: Durable) -> None:
        for backend in self.members.values():
            backend.connect(events, durable)

    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        self.of(node).allocate(node, fresh=fresh)

    def attach(self, node: NodeSpec) -> None:
        self.of(node).attach(node)

    def release(self, node: NodeSpec) -> None:
        self.of(node).release(node)

    def start(self, node: NodeSpec, launch: TaskLaunch, after: str = "") -> None:
        self.of(node).start(node, launch, after)

    def takes_successors(self, node: NodeSpec) -> bool:
        return self.of(node).takes_successors(node)

    def kill(self, node: NodeSpec, run_id: str) -> None:
        self.of(node).kill(node, run_id)

    def remove_directory(self, node: NodeSpec, relative_dir: str) -> None:
        self.of(node).remove_directory(node, relative_dir)

    async def list_files(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        return await self.of(node).list_files(node, base, recursive)

    async def stat_file(self, node: NodeSpec, base: str, path: str) -> FileInfo:
        return await self.of(node).stat_file(node, base, path)

    async def read_file(
        self, node: NodeSpec, base: str, path: str, start: int | None, end: int | None
    ) -> AsyncIterator[bytes]:
        return await self.of(node).read_file(node, base, path, start, end)

    async def delete_file(self, node: NodeSpec, base: str, path: str, recursive: bool) -> None:
        await self.of(node).delete_file(node, base, path, recursive)

    async def shutdown(self, stop_agents: bool = False) -> None:
        for backend in self.members.values():
            await backend.shutdown(stop_agents)
