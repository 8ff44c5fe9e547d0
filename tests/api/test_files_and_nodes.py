"""Task files, node files and compute nodes through azure-batch 15.1.0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

POLL = 0.1
# Runs in the task's working directory (AZ_BATCH_TASK_DIR/wd); writes stdout and a small tree.
WRITER = (
    '/bin/sh -c \'printf "hello world" && mkdir -p sub/deeper'
    " && printf abcdef > sub/a.txt && printf x > sub/deeper/b.txt'"
)


@dataclass
class Ran:
    pool_id: str
    job_id: str
    task_id: str
    node_id: str
    task_dir: str  # relative to the node root


@pytest.fixture
def ran(client: Any, uid: Any) -> Iterator[Ran]:
    """A finished task that wrote stdout 'hello world' and wd/sub/a.txt, wd/sub/deeper/b.txt."""
    pool_id, job_id = uid("fpool"), uid("fjob")
    client.create_pool(pool_options(pool_id, dedicated=1))
    client.create_job(job_options(job_id, pool_id))
    try:
        client.create_task(job_id, task_options("writer", WRITER))
        task = wait_for(lambda: (t := client.get_task(job_id, "writer")).state == "completed" and t)
        assert task.execution_info.exit_code == 0
        yield Ran(pool_id, job_id, "writer", task.node_info.node_id, task.node_info.task_root_directory)
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def _files(listing: Any) -> dict[str, Any]:
    return {f.name: f for f in listing}


def test_list_task_files_top_level_and_recursive(client: Any, ran: Ran) -> None:
    top = _files(client.list_task_files(ran.job_id, ran.task_id))
    assert {"stdout.txt", "stderr.txt", "wd"} <= set(top)
    assert not any("/" in name for name in top)
    assert top["wd"].is_directory is True
    assert top["stdout.txt"].is_directory is False
    assert top["stdout.txt"].properties.content_length == len("hello world")
    assert top["stdout.txt"].url.endswith(f"/jobs/{ran.job_id}/tasks/{ran.task_id}/files/stdout.txt")

    deep = _files(client.list_task_files(ran.job_id, ran.task_id, recursive=True))
    assert {"stdout.txt", "stderr.txt", "wd", "wd/sub", "wd/sub/a.txt", "wd/sub/deeper", "wd/sub/deeper/b.txt"} <= set(
        deep
    )
    assert deep["wd/sub"].is_directory is True
    assert deep["wd/sub/a.txt"].is_directory is False
    assert deep["wd/sub/a.txt"].properties.content_length == 6
    assert deep["wd/sub/deeper/b.txt"].properties.content_length == 1
    assert deep["wd/sub/a.txt"].properties.last_modified is not None

    paged = [list(p) for p in client.list_task_files(ran.job_id, ran.task_id, recursive=True, max_results=2).by_page()]
    assert all(len(p) <= 2 for p in paged)
    assert sorted(f.name for p in paged for f in p) == sorted(deep)


def test_download_task_file_whole_and_with_ocp_range(client: Any, ran: Ran) -> None:
    assert b"".join(client.download_task_file(ran.job_id, ran.task_id, "stdout.txt")) == b"hello world"
    assert b"".join(client.download_task_file(ran.job_id, ran.task_id, "stdout.txt", ocp_range="bytes=0-4")) == b"hello"
    assert (
        b"".join(client.download_task_file(ran.job_id, ran.task_id, "stdout.txt", ocp_range="bytes=6-10")) == b"world"
    )
    assert b"".join(client.download_task_file(ran.job_id, ran.task_id, "wd/sub/a.txt", ocp_range="bytes=2-")) == b"cdef"
    assert b"".join(client.download_task_file(ran.job_id, ran.task_id, "wd/sub/deeper/b.txt")) == b"x"
    assert b"".join(client.download_task_file(ran.job_id, ran.task_id, "stderr.txt")) == b""
    with pytest.raises(ResourceNotFoundError):
        b"".join(client.download_task_file(ran.job_id, ran.task_id, "no-such-file.txt"))


def test_get_task_file_properties(client: Any, ran: Ran) -> None:
    props = client.get_task_file_properties(ran.job_id, ran.task_id, "stdout.txt")
    assert props.content_length == len("hello world")
    assert props.is_directory is False
    assert props.last_modified is not None
    assert props.url.endswith(f"/jobs/{ran.job_id}/tasks/{ran.task_id}/files/stdout.txt")
    assert props.file_mode

    nested = client.get_task_file_properties(ran.job_id, ran.task_id, "wd/sub/a.txt")
    assert nested.content_length == 6
    assert nested.is_directory is False

    folder = client.get_task_file_properties(ran.job_id, ran.task_id, "wd/sub")
    assert folder.is_directory is True

    with pytest.raises(ResourceNotFoundError):
        client.get_task_file_properties(ran.job_id, ran.task_id, "missing.txt")


def test_delete_task_file_and_directory(client: Any, ran: Ran) -> None:
    client.delete_task_file(ran.job_id, ran.task_id, "wd/sub/a.txt")
    with pytest.raises(ResourceNotFoundError):
        client.get_task_file_properties(ran.job_id, ran.task_id, "wd/sub/a.txt")
    names = set(_files(client.list_task_files(ran.job_id, ran.task_id, recursive=True)))
    assert "wd/sub/a.txt" not in names
    assert "wd/sub/deeper/b.txt" in names

    # A non-empty directory goes only with recursive=true.
    with pytest.raises(HttpResponseError) as info:
        client.delete_task_file(ran.job_id, ran.task_id, "wd/sub")
    assert info.value.status_code in (400, 409)
    assert "wd/sub/deeper/b.txt" in set(_files(client.list_task_files(ran.job_id, ran.task_id, recursive=True)))
    client.delete_task_file(ran.job_id, ran.task_id, "wd/sub", recursive=True)
    names = set(_files(client.list_task_files(ran.job_id, ran.task_id, recursive=True)))
    assert not any(n.startswith("wd/sub") for n in names)

    with pytest.raises(ResourceNotFoundError):
        client.delete_task_file(ran.job_id, ran.task_id, "wd/sub/a.txt")


def test_task_files_of_a_task_that_has_not_run(client: Any, uid: Any) -> None:
    pool_id, job_id = uid("epool"), uid("ejob")
    client.create_pool(pool_options(pool_id, dedicated=0))
    client.create_job(job_options(job_id, pool_id))
    try:
        client.create_task(job_id, task_options("waiting", "/bin/true"))
        assert list(client.list_task_files(job_id, "waiting")) == []
        with pytest.raises(HttpResponseError):
            b"".join(client.download_task_file(job_id, "waiting", "stdout.txt"))
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def test_list_node_files(client: Any, ran: Ran) -> None:
    top = _files(client.list_node_files(ran.pool_id, ran.node_id))
    assert {"workitems", "shared", "startup"} <= set(top)
    assert all(top[name].is_directory for name in ("workitems", "shared", "startup"))
    assert not any("/" in name for name in top)

    deep = _files(client.list_node_files(ran.pool_id, ran.node_id, recursive=True))
    stdout_path = f"{ran.task_dir}/stdout.txt"
    assert stdout_path in deep
    assert f"{ran.task_dir}/wd/sub/a.txt" in deep
    assert deep[stdout_path].properties.content_length == len("hello world")
    assert deep[stdout_path].url.endswith(f"/pools/{ran.pool_id}/nodes/{ran.node_id}/files/{stdout_path}")


def test_download_node_file_and_properties(client: Any, ran: Ran) -> None:
    path = f"{ran.task_dir}/stdout.txt"
    assert b"".join(client.download_node_file(ran.pool_id, ran.node_id, path)) == b"hello world"
    assert b"".join(client.download_node_file(ran.pool_id, ran.node_id, path, ocp_range="bytes=0-4")) == b"hello"

    props = client.get_node_file_properties(ran.pool_id, ran.node_id, path)
    assert props.content_length == len("hello world")
    assert props.is_directory is False
    assert props.url.endswith(f"/pools/{ran.pool_id}/nodes/{ran.node_id}/files/{path}")

    assert client.get_node_file_properties(ran.pool_id, ran.node_id, "shared").is_directory is True
    with pytest.raises(ResourceNotFoundError):
        client.get_node_file_properties(ran.pool_id, ran.node_id, "nope/nothing.txt")
    # Paths cannot leave the node.
    with pytest.raises(HttpResponseError) as info:
        client.get_node_file_properties(ran.pool_id, ran.node_id, "../../../../etc/passwd")
    assert info.value.status_code in (400, 403, 404)


def test_delete_node_file(client: Any, ran: Ran) -> None:
    path = f"{ran.task_dir}/wd/sub/a.txt"
    client.delete_node_file(ran.pool_id, ran.node_id, path)
    with pytest.raises(ResourceNotFoundError):
        client.get_node_file_properties(ran.pool_id, ran.node_id, path)
    # The same file seen as a task file is gone too.
    with pytest.raises(ResourceNotFoundError):
        client.get_task_file_properties(ran.job_id, ran.task_id, "wd/sub/a.txt")
    client.delete_node_file(ran.pool_id, ran.node_id, f"{ran.task_dir}/wd/sub", recursive=True)
    assert not [
        f
        for f in client.list_node_files(ran.pool_id, ran.node_id, recursive=True)
        if f.name.startswith(f"{ran.task_dir}/wd/sub")
    ]


def test_list_nodes_and_get_node(client: Any, ran: Ran) -> None:
    nodes = list(client.list_nodes(ran.pool_id))
    assert [n.id for n in nodes] == [ran.node_id]
    node = client.get_node(ran.pool_id, ran.node_id)
    assert node.id == ran.node_id
    assert node.state == "idle"
    assert node.scheduling_state == "enabled"
    assert node.is_dedicated is True
    assert node.vm_size.lower() == "standard_d2s_v3"
    assert node.total_tasks_run == 1
    assert node.total_tasks_succeeded == 1
    assert node.running_tasks_count == 0
    assert node.ip_address
    assert node.allocation_time is not None
    assert node.url.endswith(f"/pools/{ran.pool_id}/nodes/{ran.node_id}")
    assert [(t.job_id, t.task_id) for t in node.recent_tasks] == [(ran.job_id, ran.task_id)]

    with pytest.raises(ResourceNotFoundError) as info:
        client.get_node(ran.pool_id, "tvmps_nope_d")
    assert info.value.error.code == "NodeNotFound"
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_node("no-such-pool-xyz", ran.node_id)
    assert info.value.error.code == "PoolNotFound"


def test_recent_tasks_of_a_node_show_the_finished_task_completed(client: Any, ran: Ran) -> None:
    node = client.get_node(ran.pool_id, ran.node_id)
    assert node.state == "idle"
    assert [(t.task_id, t.task_state) for t in node.recent_tasks] == [(ran.task_id, "completed")]


def test_get_node_while_a_task_runs(client: Any, uid: Any) -> None:
    pool_id, job_id = uid("npool"), uid("njob")
    client.create_pool(pool_options(pool_id, dedicated=1, slots=2))
    client.create_job(job_options(job_id, pool_id))
    try:
        client.create_task(job_id, task_options("s", "sleep 2"))
        task = wait_for(lambda: (t := client.get_task(job_id, "s")).state == "running" and t)
        node = client.get_node(pool_id, task.node_info.node_id)
        assert node.state == "running"
        assert node.running_tasks_count == 1
        assert node.running_task_slots_count == 1
        assert [(t.task_id, t.task_state) for t in node.recent_tasks] == [("s", "running")]
        done = wait_for(lambda: (n := client.get_node(pool_id, node.id)).state == "idle" and n, timeout=10)
        assert done.running_tasks_count == 0
        assert done.total_tasks_succeeded == 1
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()
