"""Local backend: every node is hosted by a node agent, a process on this machine that hosts the
nodes of one agent key (up to K nodes of one pool, chosen by the scheduler; see
scheduler/agent_groups.py). At most AGENT_STARTS agent processes start at once.

Node trees live under DATA_DIR/nodes/<account>/<pool>/<node>; the agents' sockets, tokens and
run records under DATA_DIR/agents (or a short directory in /tmp when that path is too long for a
Unix socket). An agent is started in its own session with a clean environment, so nothing of the
service's memory, environment or open files reaches a task, and it outlives the service: a
restarted service attaches to it again. An agent that dies, or goes silent, loses its nodes; the
processes it left are ended from its run records before the scheduler runs them elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batchite import metrics
from batchite.agent.identity import Isolation
from batchite.agent.layout import TaskLaunch
from batchite.agent.protocol import (
    SUCCESSORS,
    AddNode,
    FileRequest,
    Kill,
    Message,
    NodeFailed,
    NodeReady,
    RemoveDirectory,
    RemoveNode,
    RunEnded,
    Start,
    Stop,
)
from batchite.agent.run_journal import kill_recorded_runs
from batchite.agent.safe_files import FileInfo, FileRefused
from batchite.compute.agents import AgentLink, agent_token, start_agent_process
from batchite.compute.protocol import Durable, NodeEvents, NodeSpec, ProcessOutcome

log = logging.getLogger("batchite.compute.local")
SOCKET_PATH_LIMIT = 100  # sun_path holds 108 bytes; leave room
PASS_THROUGH = 0o711  # the directories above node trees: the pools' users go through, never look
VAR_LIB = Path("/var/lib/batchite")
AGENT_STARTS = 2  # agent processes started at once (each is a Python interpreter coming up)


def agents_directory(data_dir: Path) -> Path:
    """Where agents keep their sockets: DATA_DIR/agents, or a short stand-in when that is too long."""
    preferred = data_dir / "agents"
    if len(str(preferred / "0123456789abcdef" / "agent.sock")) <= SOCKET_PATH_LIMIT:
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path("/tmp") / f"batchite-{os.geteuid()}-{digest}" / "agents"


def nodes_directory(data_dir: Path, isolation: Isolation) -> Path:
    """Where node trees live: DATA_DIR/nodes, unless tasks run as users of their own and cannot
    pass through the directories above DATA_DIR (a data directory under /root, say); then a
    directory of this data directory's own under /var/lib/batchite."""
    preferred = data_dir / "nodes"
    if isolation == Isolation.NONE or _passable(data_dir.parent):
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return VAR_LIB / digest / "nodes"


def _passable(directory: Path) -> bool:
    """Every directory from / down to `directory` lets anyone pass through."""
    for path in (directory, *directory.parents):
        try:
            if not os.stat(path).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class LocalBackend:
    name = "local"

    def __init__(self, data_dir: Path, isolation: Isolation = Isolation.NONE) -> None:
        self.data_dir = data_dir
        self.root = nodes_directory(data_dir, isolation)
        self.agents_dir = agents_directory(data_dir)
        self.isolation = isolation
        self.token = agent_token(self.agents_dir)
        self.hide = [str(data_dir), str(self.root)]  # in a sandbox only the task's own node shows
        self._events: NodeEvents | None = None
        self._durable: Durable | None = None
        self.links: dict[str, AgentLink] = {}  # agent id -> link
        self.specs: dict[str, NodeSpec] = {}  # node id -> spec
        self._pending: dict[str, asyncio.Task[AgentLink | None]] = {}  # agents being started or reached
        self._tasks: set[asyncio.Task[object]] = set()
        self._starting = asyncio.Semaphore(AGENT_STARTS)

    def connect(self, events: NodeEvents, durable: Durable) -> None:
        self._events, self._durable = events, durable

    @property
    def events(self) -> NodeEvents:
        assert self._events is not None, "connect() the backend first"
        return self._events

    @staticmethod
    def agent_id(node: NodeSpec) -> str:
        """The agent process hosting the node: the one of its agent key (nodes of one pool share
        it), or of its own id when it has none (nodes stored before agents were shared)."""
        return hashlib.sha256((node.agent or node.node_id).encode()).hexdigest()[:16]

    def node_root(self, node: NodeSpec) -> Path:
        return self.root / node.account / node.pool_id.lower() / node.node_id

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- agents -------------------------------------------------------------------------
    def _new_link(self, agent_id: str) -> AgentLink:
        assert self._durable is not None
        return AgentLink(agent_id, self.agents_dir / agent_id, self.token, self._message, self._lost, self._durable)

    async def _link(self, node: NodeSpec, *, start: bool) -> AgentLink | None:
        """The node's agent, connected: started when `start`, else only found again."""
        agent_id = self.agent_id(node)
        link = self.links.get(agent_id)
        if link is not None and not link.lost:
            return link
        pending = self._pending.get(agent_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_task(self._reach_node(node, start))
            self._pending[agent_id] = pending
        try:
            return await pending
        finally:
            self._pending.pop(agent_id, None)

    async def _reach_node(self, node: NodeSpec, start: bool) -> AgentLink | None:
        """Connect to the node's agent (started when `start`); None when it is not there."""
        return await self._reach(self.agent_id(node), start)

    async def _reach(self, agent_id: str, start: bool) -> AgentLink | None:
        link = self._new_link(agent_id)
        try:
            await link.connect()
        except (OSError, ConnectionError, TimeoutError) as exc:
            if not start:
                log.info("agent %s cannot be reached: %s", agent_id, exc)
                return None
            kill_recorded_runs(link.directory)  # a dead agent's leftovers
            async with self._starting:  # a few at a time: a big pool must not stall the machine
                await start_agent_process(link.directory, agent_id, self.token, self.isolation, self.hide)
            link = self._new_link(agent_id)
            await link.connect()
        self.links[agent_id] = link
        return link

    def _message(self, link: AgentLink, message: Message) -> None:
        if isinstance(message, RunEnded):
            metrics.run_ended(message.run_id, message.outcome.start_time, message.outcome.exit_code is not None)
            self.events.run_finished(message.run_id, message.outcome)
        elif isinstance(message, NodeReady):
            spec = self.specs.get(message.node_id)
            if spec is not None:
                self.events.node_ready(spec)
        elif isinstance(message, NodeFailed):
            spec = self.specs.get(message.node_id)
            if spec is not None and message.code:
                self.events.node_unusable(spec, message.code, message.message, message.details)
            elif spec is not None:
                self.events.node_lost(spec, message.message)

    def _lost(self, link: AgentLink, reason: str) -> None:
        log.warning("node agent %s lost: %s", link.agent_id, reason)
        if self.links.get(link.agent_id) is link:
            del self.links[link.agent_id]
        killed = kill_recorded_runs(link.directory)
        if killed:
            log.warning("ended %d process(es) agent %s left running", killed, link.agent_id)
        for node_id in list(link.nodes):
            spec = self.specs.get(node_id)
            if spec is not None:
                self.events.node_lost(spec, f"its node agent is gone: {reason}")

    # -- nodes --------------------------------------------------------------------------
    def _parents(self, node: NodeSpec) -> None:
        """The directories above the node's tree exist and can be passed through by its users."""
        path = self.root
        for part in (node.account, node.pool_id.lower()):
            path.mkdir(parents=True, exist_ok=True)
            path = path / part
        path.mkdir(parents=True, exist_ok=True)
        if self.isolation != Isolation.NONE:
            for directory in (path, *path.parents):  # ours, up to the data directory or /var/lib/batchite
                os.chmod(directory, PASS_THROUGH)
                if directory in (self.data_dir, VAR_LIB):
                    break

    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        self.specs[node.node_id] = node
        self._spawn(self._allocate(node, fresh))

    async def _node_link(self, node: NodeSpec) -> AgentLink | None:
        """The agent a new node goes to, started if need be, with the tree's parents in place;
        None when the node was reported otherwise (the Ray backend: no room for it)."""
        self._parents(node)
        return await self._link(node, start=True)

    async def _allocate(self, node: NodeSpec, fresh: bool) -> None:
        try:
            link = await self._node_link(node)
        except (OSError, RuntimeError, ConnectionError, TimeoutError) as exc:
            self.events.node_lost(node, f"its node agent could not be started: {exc}")
            return
        if link is None or self.specs.get(node.node_id) is not node:  # released while its agent came up
            return
        link.nodes.add(node.node_id)
        link.send(
            AddNode(
                node.node_id,
                node.account,
                node.account_url,
                node.pool_id,
                node.is_dedicated,
                str(self.node_root(node)),
                node.users,
                fresh,
                node.containers,
            )
        )

    def attach(self, node: NodeSpec) -> None:
        self.specs[node.node_id] = node
        self._spawn(self._attach(node))

    async def _attach(self, node: NodeSpec) -> None:
        link = await self._link(node, start=False)
        welcome = link.welcome if link is not None else None
        if link is None or welcome is None or node.node_id not in welcome.nodes:
            if link is None:  # the agent is gone: end what it left (a live one, shared, keeps its runs)
                kill_recorded_runs(self.agents_dir / self.agent_id(node))
            self.events.node_lost(node, "its node agent is gone")
            return
        link.nodes.add(node.node_id)
        self.events.node_attached(node, set(welcome.running))

    def release(self, node: NodeSpec) -> None:
        self.specs.pop(node.node_id, None)
        link = self.links.get(self.agent_id(node))
        if link is not None:
            link.nodes.discard(node.node_id)
            link.send(RemoveNode(node.node_id))
            if not link.nodes:  # the agent ends once its last node left
                self._drop_link(link)

    def _drop_link(self, link: AgentLink) -> None:
        if self.links.get(link.agent_id) is link:
            del self.links[link.agent_id]
        self._spawn(link.close())

    def _send(self, node: NodeSpec, message: Message) -> bool:
        link = self.links.get(self.agent_id(node))
        if link is None or link.lost:
            return False
        link.send(message)
        return True

    def takes_successors(self, node: NodeSpec) -> bool:
        link = self.links.get(self.agent_id(node))
        return link is not None and not link.lost and link.welcome is not None and SUCCESSORS in link.welcome.features

    def start(self, node: NodeSpec, launch: TaskLaunch, after: str = "") -> None:
        if not after:  # a successor starts when the run it follows ends: no spawn to measure
            metrics.start_sent(launch.run_id)
        if not self._send(node, Start(node.node_id, launch, after)):
            now = _now()
            outcome = ProcessOutcome(now, now, None, "NodeNotReady", "the node's agent is not connected")
            asyncio.get_running_loop().call_soon(self.events.run_finished, launch.run_id, outcome)

    def kill(self, node: NodeSpec, run_id: str) -> None:
        self._send(node, Kill(node.node_id, run_id))

    def remove_directory(self, node: NodeSpec, relative_dir: str) -> None:
        self._send(node, RemoveDirectory(node.node_id, relative_dir))

    # -- files --------------------------------------------------------------------------
    def _file_link(self, node: NodeSpec) -> AgentLink:
        link = self.links.get(self.agent_id(node))
        if link is None or link.lost:
            raise FileRefused("not-found", "the node's agent is not connected")
        return link

    def _request(
        self,
        node: NodeSpec,
        op: str,
        base: str,
        path: str = "",
        *,
        recursive: bool = False,
        start: int | None = None,
        end: int | None = None,
    ) -> FileRequest:
        return FileRequest(self.token, node.node_id, op, base, path, recursive, start, end)

    async def list_files(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        answer = await self._file_link(node).file(self._request(node, "list", base, recursive=recursive))
        if not answer.ok:
            raise FileRefused(answer.reason, answer.message)
        return answer.infos or []

    async def stat_file(self, node: NodeSpec, base: str, path: str) -> FileInfo:
        answer = await self._file_link(node).file(self._request(node, "stat", base, path))
        if not answer.ok or answer.info is None:
            raise FileRefused(answer.reason or "not-found", answer.message)
        return answer.info

    async def read_file(
        self, node: NodeSpec, base: str, path: str, start: int | None, end: int | None
    ) -> AsyncIterator[bytes]:
        request = self._request(node, "read", base, path, start=start, end=end)
        answer, chunks = await self._file_link(node).read(request)
        if not answer.ok:
            raise FileRefused(answer.reason, answer.message)
        return chunks

    async def delete_file(self, node: NodeSpec, base: str, path: str, recursive: bool) -> None:
        answer = await self._file_link(node).file(self._request(node, "delete", base, path, recursive=recursive))
        if not answer.ok:
            raise FileRefused(answer.reason, answer.message)

    # -- the end ------------------------------------------------------------------------
    async def shutdown(self, stop_agents: bool = False) -> None:
        for link in list(self.links.values()):
            if stop_agents:
                link.send(Stop(kill_runs=True))
            await link.close()
        self.links.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _now() -> datetime:
    return datetime.now(tz=UTC)
