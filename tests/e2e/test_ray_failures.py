"""The Ray backend when things fail, on a Ray cluster of its own (three Ray nodes of 4 cores, each
room for two 2-core Batch nodes): a Ray node removed mid-job, a node's actor killed mid-job, a
pool larger than the cluster (AllocationFailed, then grown when a Ray node is added), and a
restarted Batchite reattaching to its live actors without losing a running task."""

from __future__ import annotations

import hashlib
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m

from batchite.cli.server import ChildServer
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Cleanup, all_completed, wait_nodes, wait_task
from tests.e2e.ray_support import actor_pids, add_ray_node, new_cluster, start_ray_server, stop_ray_server
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e
TASKS = 12


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    own = new_cluster()
    yield own
    own.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cluster: Any) -> Iterator[ChildServer]:
    child = start_ray_server(tmp_path_factory.mktemp("batchite-ray-failures"), cluster)
    yield child
    stop_ray_server(child)


@pytest.fixture
def client(server: ChildServer) -> Iterator[Any]:
    c = make_client(server.endpoint)
    yield c
    c.close()


@pytest.fixture
def cleanup(client: Any) -> Iterator[Cleanup]:
    done = Cleanup(client)
    yield done
    done.run()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def busy_job(client: Any, cleanup: Cleanup, nodes: int) -> tuple[str, str]:
    """A pool of `nodes` and a job of TASKS tasks of a second each, some of them running."""
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=nodes))
    cleanup("pool", pool_id)
    wait_nodes(client, pool_id, nodes, timeout=60)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", "/bin/sleep 1") for i in range(TASKS)])
    wait_for(lambda: any(t.state == "running" for t in client.list_tasks(job_id)) or None)
    return pool_id, job_id


def every_task_succeeded_once(client: Any, job_id: str) -> list[Any]:
    tasks = wait_for(lambda: all_completed(client, job_id, TASKS), timeout=90)
    assert tasks is not None
    listed = list(tasks.values())
    assert all(t.execution_info.result == "success" for t in listed), [t.execution_info for t in listed]
    counts = client.get_job_task_counts(job_id).task_counts
    assert (counts.succeeded, counts.failed) == (TASKS, 0)
    return listed


def test_a_removed_ray_node_requeues_its_tasks_and_the_pool_replaces_its_nodes(
    client: Any, cleanup: Cleanup, cluster: Any, server: ChildServer
) -> None:
    pool_id, job_id = busy_job(client, cleanup, nodes=2)
    before = {n.id for n in client.list_nodes(pool_id)}
    hosting = _raylets_hosting(server)
    victim = next(n for n in cluster.worker_nodes if n.raylet_socket_name in hosting)
    cluster.remove_node(victim, allow_graceful=False)
    listed = every_task_succeeded_once(client, job_id)
    assert any(t.execution_info.requeue_count for t in listed)  # what ran on the lost Ray node ran again
    nodes = wait_nodes(client, pool_id, 2, timeout=60)
    assert {n.id for n in nodes} != before  # a lost node was replaced by a new one
    add_ray_node(cluster)  # the next tests have the room back
    cluster.wait_for_nodes()


def test_a_killed_actor_makes_its_node_unusable_and_its_tasks_run_elsewhere(
    client: Any, cleanup: Cleanup, server: ChildServer
) -> None:
    pool_id, job_id = busy_job(client, cleanup, nodes=2)
    running = next(t for t in client.list_tasks(job_id) if t.state == "running")
    lost_node = running.node_info.node_id
    agents = actor_pids(server.ray_node_dir)  # type: ignore[attr-defined]
    agent_id = hashlib.sha256(lost_node.encode()).hexdigest()[:16]  # one agent (one actor) per node
    agent = next(pid for pid in agents if f"--id {agent_id}" in _cmdline(pid))
    os.kill(agents[agent], signal.SIGKILL)  # the actor's process: its agent (and the task) end with it
    listed = every_task_succeeded_once(client, job_id)
    again = next(t for t in listed if t.id == running.id)
    assert again.execution_info.requeue_count >= 1
    nodes = wait_nodes(client, pool_id, 2, timeout=60)
    assert lost_node not in {n.id for n in nodes}
    assert wait_for(lambda: agent not in actor_pids(server.ray_node_dir) or None)  # type: ignore[attr-defined]


def test_a_multi_instance_pools_nodes_are_placed_apart(client: Any, cleanup: Cleanup, server: ChildServer) -> None:
    """Inter-node communication: its three new nodes are placed together by a SPREAD placement
    group, one per Ray node, and a multi-instance task spans the three."""
    pool_id = uid("mpi")
    client.create_pool(pool_options(pool_id, dedicated=3, enable_inter_node_communication=True))
    cleanup("pool", pool_id)
    wait_nodes(client, pool_id, 3, timeout=60)
    raylets = {_raylet_of(actor) for actor in actor_pids(server.ray_node_dir).values()}  # type: ignore[attr-defined]
    assert len(raylets) == 3


def test_a_pool_larger_than_the_cluster_reports_allocation_failed_then_grows(
    client: Any, cleanup: Cleanup, cluster: Any
) -> None:
    pool_id = uid("big")
    client.create_pool(pool_options(pool_id, dedicated=7))  # 14 cores; the cluster has 12
    cleanup("pool", pool_id)

    def steady_short() -> Any:
        pool = client.get_pool(pool_id)
        return pool if pool.allocation_state == "steady" and pool.resize_errors else None

    pool = wait_for(steady_short, timeout=60)
    assert 0 < pool.current_dedicated_nodes < 7  # at most 6 fit (fewer while earlier pools' actors go)
    error = pool.resize_errors[0]
    assert error.code == "AllocationFailed" and error.error_values[0].name == "Reason"
    node = add_ray_node(cluster)
    cluster.wait_for_nodes()
    wait_nodes(client, pool_id, 7, timeout=60)  # the next retry (every 10 s) finds the room
    client.begin_delete_pool(pool_id, polling_interval=0.2).result()
    cluster.remove_node(node, allow_graceful=False)


def test_an_autoscale_formula_sees_the_nodes_that_fit(client: Any, cleanup: Cleanup) -> None:
    pool_id = uid("auto")
    formula = "$TargetDedicatedNodes = 7;"  # 14 cores asked of a cluster of 12
    options = pool_options(pool_id, dedicated=0)
    options.target_dedicated_nodes = None
    options.enable_auto_scale, options.auto_scale_formula = True, formula
    client.create_pool(options)
    cleanup("pool", pool_id)
    pool = wait_for(lambda: p if (p := client.get_pool(pool_id)).resize_errors else None, timeout=60)
    assert pool.resize_errors[0].code == "AllocationFailed"
    run = client.evaluate_pool_auto_scale(
        pool_id,
        m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = $CurrentDedicatedNodes;"),
    )
    current = int(next(r for r in run.results.split(";") if r.startswith("$TargetDedicatedNodes=")).split("=")[1])
    assert current == client.get_pool(pool_id).current_dedicated_nodes and current < 7


def test_a_restarted_service_reattaches_to_its_live_actors(tmp_path: Path, cluster: Any) -> None:
    data_dir = tmp_path / "data"
    first = start_ray_server(data_dir, cluster, "--keep-agents")
    node_dir = first.ray_node_dir  # type: ignore[attr-defined]
    try:
        client = make_client(first.endpoint)
        client.create_pool(pool_options("keep", dedicated=1))
        wait_nodes(client, "keep", 1, timeout=60)
        client.create_job(job_options("j", "keep"))
        client.create_task("j", task_options("long", "/bin/sleep 4"))
        wait_task(client, "j", "long", "running", timeout=60)
        pids = set(actor_pids(node_dir))
        first.stop()  # its actors and their agents go on
        assert set(actor_pids(node_dir)) == pids
        second = start_ray_server(data_dir, cluster, node_dir=node_dir)
        try:
            again = make_client(second.endpoint)
            task = wait_task(again, "j", "long", timeout=60)
            assert (task.execution_info.result, task.execution_info.requeue_count) == ("success", 0)
            assert set(actor_pids(node_dir)) == pids
            again.begin_delete_pool("keep", polling_interval=0.2).result()
        finally:
            second.stop()
    finally:
        stop_ray_server(first)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _raylet_of(actor: int) -> str:
    """The command line of the raylet whose worker the actor process is (it names its socket)."""
    status = Path(f"/proc/{actor}/status").read_text().splitlines()
    return _cmdline(next(int(line.split()[1]) for line in status if line.startswith("PPid:")))


def _raylets_hosting(server: ChildServer) -> str:
    """The command lines of the raylets whose workers are the server's actors."""
    return " ".join(_raylet_of(actor) for actor in actor_pids(server.ray_node_dir).values())  # type: ignore[attr-defined]
