"""Nodes of one pool share node agent processes, up to --nodes-per-agent each.

- A pool of 20 nodes runs on ceil(20/8) agent processes, every node's task under one of them.
- The service is killed and restarted: the nodes are found again under the same agents, and the
  tasks that ran across the restart complete, never requeued.
- One agent is killed: exactly the nodes it hosted go `unusable`, the others carry on.
- While a pool of 60 nodes comes up, the service answers (GET /pools), and the pool gets steady.
"""

from __future__ import annotations

import math
import os
import signal
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from batchite.cli.server import start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Cleanup, wait_nodes, wait_task
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e

PER_AGENT = 8
NODES = 20


def agent_pids(data_dir: Path) -> set[int]:
    """The node agent processes of the service on `data_dir` (each is told to hide it)."""
    pids = set()
    marker = str(data_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"batchite.agent.server" in args and marker in args:
            pids.add(int(entry.name))
    return pids


def parent_pid(client: Any, job_id: str, task_id: str) -> int | None:
    """What the task printed first: the pid of its parent, the agent (None before it printed)."""
    words = b"".join(client.download_task_file(job_id, task_id, "stdout.txt")).split()
    return int(words[0]) if words else None


def test_a_pool_shares_agents_across_a_restart_and_an_agent_lost_takes_only_its_nodes(tmp_path: Path) -> None:
    data_dir = (tmp_path / "data").resolve()
    first = start_child_server(data_dir, ["--keep-agents", "--nodes-per-agent", str(PER_AGENT)])
    try:
        client = make_client(first.endpoint)
        client.create_pool(pool_options("shared", dedicated=NODES))
        wait_nodes(client, "shared", NODES, timeout=60)
        pids = agent_pids(data_dir)
        assert len(pids) == math.ceil(NODES / PER_AGENT), pids

        client.create_job(job_options("sjob", "shared"))
        for i in range(NODES):  # one per node (a slot each): each tells which agent runs it
            client.create_task("sjob", task_options(f"t{i}", '/bin/sh -c "echo $PPID; sleep 5"'))
        running = [wait_task(client, "sjob", f"t{i}", state="running", timeout=60) for i in range(NODES)]
        node_of = {t.id: t.node_info.node_id for t in running}
        assert len(set(node_of.values())) == NODES
        hosted: dict[int, set[str]] = defaultdict(set)
        for task_id, node_id in node_of.items():
            hosted[wait_for(partial(parent_pid, client, "sjob", task_id))].add(node_id)
        assert set(hosted) == pids
        assert sorted(len(nodes) for nodes in hosted.values()) == [4, 8, 8]
        client.close()
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()

    second = start_child_server(data_dir, ["--nodes-per-agent", str(PER_AGENT)])
    try:
        client = make_client(second.endpoint)
        for i in range(NODES):  # found again under their agents: none requeued
            info = wait_task(client, "sjob", f"t{i}", timeout=60).execution_info
            assert (info.exit_code, info.requeue_count) == (0, 0), info
        wait_nodes(client, "shared", NODES, timeout=60)
        assert agent_pids(data_dir) == pids  # the same processes, none started again

        victim = next(pid for pid, nodes in hosted.items() if len(nodes) == PER_AGENT)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: {n.id for n in client.list_nodes("shared") if n.state == "unusable"} == hosted[victim])
        others = {n.id: n.state for n in client.list_nodes("shared") if n.id not in hosted[victim]}
        assert len(others) == NODES - PER_AGENT and set(others.values()) == {"idle"}, others
        assert agent_pids(data_dir) == pids - {victim}
        client.close()
    finally:
        second.stop()


def test_the_service_answers_while_a_big_pool_comes_up(client: Any, uid: Any) -> None:
    cleanup = Cleanup(client)
    try:
        pool_id = uid("big")
        client.create_pool(pool_options(pool_id, dedicated=60))
        cleanup("pool", pool_id)
        states: list[str] = []

        def steady() -> bool:  # every request returns (the SDK's timeout would raise) while nodes come up
            pools = {p.id: p for p in client.list_pools()}
            states.append(pools[pool_id].allocation_state)
            nodes = list(client.list_nodes(pool_id))
            return states[-1] == "steady" and len(nodes) == 60 and all(n.state == "idle" for n in nodes)

        wait_for(steady, timeout=120)
        assert "resizing" in states
    finally:
        cleanup.run()
