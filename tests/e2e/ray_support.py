"""A Ray cluster of several Ray nodes on this one machine (ray.cluster_utils.Cluster), and
Batchite servers whose pools live on it. Ray authentication is off for the cluster the tests
make (RAY_AUTH_MODE=disabled for it and for the servers), so a developer's ~/.ray token plays no
part; a real cluster keeps its own setting (docs/ray.md)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchite.cli.server import ChildServer, start_child_server

RAY_NODES = 3
CORES_PER_RAY_NODE = 4  # each holds two 2-core standard_d2s_v3 Batch nodes
MEMORY_PER_RAY_NODE = 16 * 2**30
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is Ray's single-machine mode: every Ray node, and so every
# node agent (it listens on its Ray node's address), is on 127.0.0.1 and nothing else is reached.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
NODE = {"num_cpus": CORES_PER_RAY_NODE, "memory": MEMORY_PER_RAY_NODE}


def new_cluster(nodes: int = RAY_NODES) -> Any:
    from ray.cluster_utils import Cluster

    os.environ.update(RAY_ENV)  # the cluster's processes start from this one's environment
    head = {**NODE, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    for _ in range(nodes - 1):
        add_ray_node(cluster)
    cluster.wait_for_nodes()
    return cluster


def add_ray_node(cluster: Any) -> Any:
    return cluster.add_node(**NODE)


def start_ray_server(data_dir: Path, cluster: Any, *args: str, mgmt: bool = False, node_dir: str = "") -> ChildServer:
    """A Batchite whose pools are on the cluster by default; its node trees in a directory of its
    own under /tmp (the pools' users must pass through every directory above them)."""
    if not node_dir:
        node_dir = tempfile.mkdtemp(prefix="batchite-ray-", dir="/tmp")
        os.chmod(node_dir, 0o711)
    extra = ["--backend", "ray", "--ray-address", cluster.address, "--ray-node-dir", node_dir, *args]
    child = start_child_server(data_dir, extra, env=RAY_ENV, mgmt_port=0 if mgmt else None)
    child.ray_node_dir = node_dir  # type: ignore[attr-defined]
    return child


def stop_ray_server(child: ChildServer) -> None:
    child.stop()
    shutil.rmtree(getattr(child, "ray_node_dir", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    cluster = new_cluster()
    yield cluster
    cluster.shutdown()


def actor_pids(node_dir: str) -> dict[int, int]:
    """{agent pid: its Ray actor's pid} of the node agents hosted under `node_dir`."""
    found = {}
    marker = node_dir.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if b"batchite.agent.server" in args and any(marker in a for a in args):
            ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
            found[int(entry.name)] = ppid
    return found
