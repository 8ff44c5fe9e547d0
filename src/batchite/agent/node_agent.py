"""A node agent: the nodes it hosts, the runs on them, and what it has to report.

Transport-free: the agent process (server.py) feeds it commands and sends what it reports; the
Ray backend can host the same object in an actor. Every method runs on the agent's event loop.
The end of a run is kept until the service acknowledges it (`ack`), so a service that restarts,
or crashes between hearing an end and storing it, hears it again when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from batchite.agent.container_specs import ContainerSetup
from batchite.agent.container_tasks import NodeError, container_launch, prefetch
from batchite.agent.identity import Isolation, NodeUsers, spawn_as
from batchite.agent.layout import NodeIdentity, TaskLaunch, environment, prepare_node, task_directory
from batchite.agent.process import Launch, ProcessOutcome, ProcessRunner, RunningProcess
from batchite.agent.protocol import AddNode, Message, NodeFailed, NodeReady, RunEnded
from batchite.agent.run_journal import RunJournal
from batchite.agent.safe_files import FileRefused, Tree

log = logging.getLogger("batchite.agent")


@dataclass
class HostedNode:
    identity: NodeIdentity
    users: NodeUsers | None
    tree: Tree | None = None
    runs: set[str] = field(default_factory=set)
    containers: ContainerSetup | None = None  # a container-enabled pool's node


@dataclass
class RunRecord:
    node_id: str
    process: RunningProcess


class NodeAgent:
    def __init__(
        self,
        state_dir: Path,
        isolation: Isolation,
        hide: list[str],
        report: Callable[[Message], None],
        spawn_threads: int = 0,
    ) -> None:
        self.state_dir = state_dir
        self.isolation = isolation
        self.hide = hide  # what a sandbox covers (the service's data directory)
        self.report = report
        self.runner = ProcessRunner(spawn_threads)
        self.nodes: dict[str, HostedNode] = {}
        self.runs: dict[str, RunRecord] = {}
        self.ended: dict[str, ProcessOutcome] = {}  # reported, not yet acknowledged
        # Successors: runs that start the moment another ends, on its slots (Start.after).
        self.successors: dict[str, tuple[str, TaskLaunch]] = {}  # predecessor run id -> (node id, launch)
        self.predecessors: dict[str, str] = {}  # successor run id -> predecessor run id
        self.journal = RunJournal(state_dir)

    # -- nodes --------------------------------------------------------------------------
    def add_node(self, msg: AddNode) -> None:
        root = Path(msg.root)
        identity = NodeIdentity(msg.account, msg.account_url, msg.pool_id, msg.node_id, root, msg.is_dedicated)
        users = msg.users if self.isolation != Isolation.NONE and os.geteuid() == 0 else None
        try:
            if msg.fresh:
                shutil.rmtree(root, ignore_errors=True)
            prepare_node(root, users)
        except OSError as exc:
            self.report(NodeFailed(msg.node_id, f"the node's directory could not be made: {exc}"))
            return
        node = self.nodes.get(msg.node_id)
        if node is None:
            node = self.nodes[msg.node_id] = HostedNode(identity, users)
        node.identity, node.users, node.tree = identity, users, Tree(root)
        node.containers = msg.containers
        if msg.containers is None:
            self.report(NodeReady(msg.node_id))
            return
        future = asyncio.get_running_loop().run_in_executor(None, prefetch, msg.containers, self.state_dir)
        future.add_done_callback(lambda f: self._prefetched(node, f))

    def _prefetched(self, node: HostedNode, future: asyncio.Future[NodeError | None]) -> None:
        """The pool's images are here (NodeReady), or one could not be pulled (NodeFailed with its error)."""
        node_id = node.identity.node_id
        if self.nodes.get(node_id) is not node:  # removed meanwhile
            return
        exc = future.exception()
        error = (
            NodeError("ContainerImagePullFailed", f"Prefetching the container images failed: {exc}")
            if exc
            else future.result()
        )
        if error is None:
            self.report(NodeReady(node_id))
        else:
            self.report(NodeFailed(node_id, error.message, error.code, list(error.details)))

    def remove_node(self, node_id: str) -> None:
        for queued_node, launch in list(self.successors.values()):
            if queued_node == node_id:
                self.kill(launch.run_id)
        node = self.nodes.pop(node_id, None)
        if node is None:
            return
        for run_id in list(node.runs):
            self.kill(run_id)
        shutil.rmtree(node.identity.root, ignore_errors=True)

    def node_tree(self, node_id: str) -> Tree:
        node = self.nodes.get(node_id)
        if node is None or node.tree is None:
            raise FileRefused("not-found", "the node is not hosted here")
        return node.tree

    # -- runs ---------------------------------------------------------------------------
    def start(self, node_id: str, launch: TaskLaunch, after: str = "") -> None:
        """Start a run now, or with `after` the moment that run ends (now if it is not running)."""
        if after and after in self.runs and after not in self.successors:
            self.successors[after] = (node_id, launch)
            self.predecessors[launch.run_id] = after
            return
        node = self.nodes.get(node_id)
        if node is None:
            self._ended(launch.run_id, None, _not_started("the node is not hosted by this agent"))
            return
        identity = node.identity
        wd = f"{launch.relative_dir}/wd"
        try:
            spawn = spawn_as(self.isolation, node.users, launch.run_as, str(identity.root), self.hide, wd)
        except LookupError as exc:  # a user the pool does not have
            self._ended(launch.run_id, None, _not_started(str(exc), "UserNotFound"))
            return
        except RuntimeError as exc:  # an admin task, and no bubblewrap for its sandbox
            self._ended(launch.run_id, None, _not_started(str(exc), "SandboxUnavailable"))
            return
        staging = launch.staging if launch.staging is not None and not launch.staging.is_empty() else None
        container = None
        if launch.container is not None or launch.container_required:
            try:
                container = container_launch(node.containers, launch, identity, spawn, node.users, self.state_dir)
            except ValueError as exc:  # the node cannot run it: code and message
                code, message = exc.args
                self._ended(launch.run_id, None, _not_started(message, code))
                return
        process = Launch(
            command_line=launch.command_line,
            task_dir=task_directory(identity, launch),
            env=environment(identity, launch, in_sandbox=spawn.in_sandbox),
            staging=staging,
            node_root=identity.root,
            spawn=spawn,
            users=node.users,
            container=container,
        )
        run_id = launch.run_id
        node.runs.add(run_id)
        record = RunRecord(node_id, self.runner.start(process, lambda outcome: self._ended(run_id, node_id, outcome)))
        self.runs[run_id] = record
        record.process.on_spawned = lambda pid: self._spawned(run_id, pid)

    def _spawned(self, run_id: str, pid: int) -> None:
        """Where a run's process is, on disk: if this agent dies, its processes can be found and ended."""
        if run_id in self.runs:
            self.journal.started(run_id, pid)

    def _ended(self, run_id: str, node_id: str | None, outcome: ProcessOutcome) -> None:
        if self.runs.pop(run_id, None) is not None:
            self.journal.ended(run_id)
        node = self.nodes.get(node_id) if node_id else None
        if node is not None:
            node.runs.discard(run_id)
        self.ended[run_id] = outcome
        self.report(RunEnded(run_id, outcome))
        queued = self.successors.pop(run_id, None)
        if queued is not None:  # its successor takes its slots at once, reported after its end
            self.predecessors.pop(queued[1].run_id, None)
            self.start(*queued)

    def kill(self, run_id: str) -> None:
        predecessor = self.predecessors.pop(run_id, None)
        if predecessor is not None:  # a successor not started yet: it never will be
            self.successors.pop(predecessor, None)
            outcome = _not_started("Killed before it started", "TaskEnded")
            outcome.killed = True
            self._ended(run_id, None, outcome)
            return
        record = self.runs.get(run_id)
        if record is not None:
            self.runner.kill(record.process)

    def ack(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self.ended.pop(run_id, None)

    def unacknowledged(self) -> Iterator[RunEnded]:
        return (RunEnded(run_id, outcome) for run_id, outcome in self.ended.items())

    def remove_directory(self, node_id: str, relative_dir: str) -> None:
        node = self.nodes.get(node_id)
        if node is not None and node.tree is not None:
            with contextlib.suppress(FileRefused, OSError):
                node.tree.remove(relative_dir)

    def drop_successors(self) -> None:
        """The successors waiting are killed (a service that reconnects has forgotten them)."""
        for run_id in list(self.predecessors):
            self.kill(run_id)

    def running(self) -> list[str]:
        return list(self.runs)

    def stop(self) -> None:
        self.runner.shutdown()
        self.journal.close()


def _not_started(message: str, code: str = "TaskProcessStartError") -> ProcessOutcome:
    now = datetime.now(tz=UTC)
    return ProcessOutcome(now, now, None, code, message)
