"""The end-to-end flows on both compute backends, parametrized: local node agents, and Ray actors
on a Ray cluster of three Ray nodes on this machine. Each backend has a server of its own with
Azurite linked and the management plane on (for the application package): the quickstart flow,
dependencies, a multi-instance task, resource and output files, an application package, and a
low-priority node preempted mid-task."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.batch import models as m

from batchite.cli.apps import ManagementClient, Target
from batchite.cli.azurite import AzuriteServer
from batchite.cli.server import ChildServer, start_child_server
from batchite.storage.linked import LinkedStorage
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Cleanup, Raw, wait_node, wait_nodes, wait_task
from tests.e2e.ray_support import ray_cluster, start_ray_server, stop_ray_server  # noqa: F401
from tests.e2e.storage.conftest import azurite, linked  # noqa: F401
from tests.e2e.storage.support import blob_names, output, package_zip, put_blobs, stdout
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e
ARGS = ("--preemption-recovery", "1")


@pytest.fixture(scope="module", params=["local", "ray"])
def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    azurite: AzuriteServer,  # noqa: F811
) -> Iterator[ChildServer]:
    storage = ["--storage-connection-string", azurite.connection_string]
    data_dir = tmp_path_factory.mktemp(f"batchite-{request.param}")
    if request.param == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        child = start_ray_server(data_dir, cluster, *ARGS, *storage, mgmt=True)
        child.backend = "ray"  # type: ignore[attr-defined]
        yield child
        stop_ray_server(child)
    else:
        child = start_child_server(data_dir, [*ARGS, *storage], mgmt_port=0)
        child.backend = "local"  # type: ignore[attr-defined]
        yield child
        child.stop()


@pytest.fixture
def bclient(backend: ChildServer) -> Iterator[Any]:
    client = make_client(backend.endpoint)
    yield client
    client.close()


@pytest.fixture
def bcleanup(bclient: Any) -> Iterator[Cleanup]:
    cleanup = Cleanup(bclient)
    yield cleanup
    cleanup.run()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def pool(client: Any, cleanup: Cleanup, nodes: int = 2, **extra: Any) -> str:
    pool_id = uid("pool")
    client.create_pool(pool_options(pool_id, dedicated=nodes, **extra))
    cleanup("pool", pool_id)
    if nodes:
        wait_nodes(client, pool_id, nodes, timeout=60)
    return pool_id


def job(client: Any, cleanup: Cleanup, pool_id: str, **extra: Any) -> str:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id, **extra))
    cleanup("job", job_id)
    return job_id


def sh(script: str) -> str:
    return f"/bin/sh -c '{script}'"


def test_the_quickstart_flow(bclient: Any, bcleanup: Cleanup, backend: ChildServer) -> None:
    pool_id = pool(bclient, bcleanup)
    nodes = list(bclient.list_nodes(pool_id))
    assert {n.node_agent_info.version for n in nodes} == {f"batchite/{backend.backend}"}  # type: ignore[attr-defined]
    job_id = job(bclient, bcleanup, pool_id)
    tasks = [task_options(f"t{i}", sh(f"echo word{i} word{i}; echo node=$AZ_BATCH_NODE_ID")) for i in range(4)]
    bclient.create_tasks(job_id, tasks)
    for i in range(4):
        task = wait_task(bclient, job_id, f"t{i}", timeout=60)
        assert (task.execution_info.result, task.execution_info.exit_code) == ("success", 0)
        lines = stdout(bclient, job_id, f"t{i}").splitlines()
        assert lines[0] == f"word{i} word{i}" and lines[1] == f"node={task.node_info.node_id}"
        assert {"stdout.txt", "stderr.txt"} <= {f.name for f in bclient.list_task_files(job_id, f"t{i}")}
    used = {bclient.get_task(job_id, f"t{i}").node_info.node_id for i in range(4)}
    node_files = {f.name for f in bclient.list_node_files(pool_id, used.pop(), recursive=True)}
    assert any(name.startswith("workitems/") for name in node_files)


def test_dependencies_run_in_order(bclient: Any, bcleanup: Cleanup) -> None:
    pool_id = pool(bclient, bcleanup)
    job_id = job(bclient, bcleanup, pool_id, uses_task_dependencies=True)
    after = m.BatchTaskDependencies(task_ids=["first"])
    bclient.create_tasks(
        job_id,
        [
            task_options("second", "/bin/true", depends_on=after),
            task_options("first", "/bin/sleep 1"),
        ],
    )
    second = wait_task(bclient, job_id, "second", timeout=60)
    first = bclient.get_task(job_id, "first")
    assert second.execution_info.result == "success"
    assert second.execution_info.start_time >= first.execution_info.end_time


def test_a_multi_instance_task_runs_on_every_node(bclient: Any, bcleanup: Cleanup) -> None:
    pool_id = pool(bclient, bcleanup, nodes=3, enable_inter_node_communication=True)
    job_id = job(bclient, bcleanup, pool_id)
    settings = m.MultiInstanceSettings(number_of_instances=3, coordination_command_line="/bin/true")
    bclient.create_task(job_id, task_options("mpi", sh("echo $AZ_BATCH_HOST_LIST"), multi_instance_settings=settings))
    task = wait_task(bclient, job_id, "mpi", timeout=60)
    assert task.execution_info.result == "success"
    hosts = stdout(bclient, job_id, "mpi").strip().split(",")
    assert len(set(hosts)) == 3
    assert sorted(s.id for s in bclient.list_subtasks(job_id, "mpi")) == [1, 2]


def test_resource_and_output_files(bclient: Any, bcleanup: Cleanup, linked: LinkedStorage) -> None:  # noqa: F811
    inputs, outputs = uid("in"), uid("out")
    for name in (inputs, outputs):
        linked.create_container(name)
    put_blobs(linked, inputs, {"data/words.txt": "alpha beta gamma\n"})
    source = linked.container_sas_url(inputs, "rl", 1)
    target = linked.container_sas_url(outputs, "rcwl", 1)
    pool_id = pool(bclient, bcleanup, nodes=1)
    job_id = job(bclient, bcleanup, pool_id)
    task = task_options(
        "files",
        sh("wc -w < data/words.txt > count.txt"),
        resource_files=[m.ResourceFile(storage_container_url=source, blob_prefix="data/")],
        output_files=[output("count.txt", target, "results/count.txt")],
    )
    bclient.create_task(job_id, task)
    done = wait_task(bclient, job_id, "files", timeout=60)
    assert done.execution_info.result == "success", done.execution_info
    assert "results/count.txt" in blob_names(linked, outputs)


def test_an_application_package(bclient: Any, bcleanup: Cleanup, backend: ChildServer) -> None:
    app_id = uid("app").replace("-", "")
    management = ManagementClient(Target(backend.mgmt_endpoint or "", str(backend.ca_path)))
    try:
        management.create(app_id)
        assert management.upload(app_id, "1.0", package_zip("1.0"))["state"] == "Active"
    finally:
        management.close()
    reference = m.BatchApplicationPackageReference(application_id=app_id, version="1.0")
    pool_id = pool(bclient, bcleanup, nodes=1, application_package_references=[reference])
    job_id = job(bclient, bcleanup, pool_id)
    variable = f"AZ_BATCH_APP_PACKAGE_{app_id}_1_0"
    bclient.create_task(job_id, task_options("app", sh(f"${variable}/bin/hello.sh")))
    task = wait_task(bclient, job_id, "app", timeout=60)
    assert task.execution_info.result == "success", task.execution_info
    assert stdout(bclient, job_id, "app").strip() == "hello from 1.0"


def test_a_preempted_low_priority_node_requeues_its_task(bclient: Any, bcleanup: Cleanup, backend: ChildServer) -> None:
    pool_id = uid("spot")
    bclient.create_pool(pool_options(pool_id, dedicated=0, target_low_priority_nodes=1))
    bcleanup("pool", pool_id)
    node = wait_nodes(bclient, pool_id, 1, timeout=60)[0]
    job_id = job(bclient, bcleanup, pool_id)
    bclient.create_task(job_id, task_options("t", "/bin/sleep 2"))
    wait_task(bclient, job_id, "t", "running", timeout=60)
    raw = Raw(backend.endpoint)
    try:
        answer = raw.request("POST", f"/_batchite/admin/pools/{pool_id}/preempt", body={})
        assert answer.status_code == 200, answer.text
    finally:
        raw.close()
    task = wait_task(bclient, job_id, "t", timeout=60)
    assert task.execution_info.result == "success"
    assert task.execution_info.requeue_count == 1
    wait_node(bclient, pool_id, node.id, "idle", timeout=60)
    assert wait_for(lambda: bclient.get_pool(pool_id).current_low_priority_nodes == 1 or None)
