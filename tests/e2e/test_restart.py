"""A restart of the service loses nothing: a task running when it stopped is requeued and completes;
a delete under way is finished."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError

from batchite.cli.server import start_child_server
from tests.conftest import make_client, wait_for
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e


def test_running_task_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_child_server(data_dir)
    try:
        client = make_client(first.endpoint)
        client.create_pool(pool_options("rpool", dedicated=1))
        client.create_job(job_options("rjob", "rpool"))
        client.create_task("rjob", task_options("done", "echo before"))
        wait_for(lambda: client.get_task("rjob", "done").state == "completed")
        client.create_task("rjob", task_options("t1", "sleep 3"))
        running = wait_for(lambda: (t := client.get_task("rjob", "t1")).state == "running" and t)
        node_id = running.node_info.node_id
        client.close()
    finally:
        first.stop()
    assert first.process.returncode is not None

    second = start_child_server(data_dir)
    try:
        client = make_client(second.endpoint)
        pool = client.get_pool("rpool")
        assert pool.state == "active"
        assert pool.target_dedicated_nodes == 1
        assert client.get_job("rjob").state == "active"
        assert [n.id for n in client.list_nodes("rpool")] == [node_id]

        task = client.get_task("rjob", "t1")
        assert task.state in ("active", "running")
        assert task.execution_info.requeue_count == 1
        assert task.execution_info.last_requeue_time is not None

        task = wait_for(lambda: (t := client.get_task("rjob", "t1")).state == "completed" and t, timeout=20)
        assert task.execution_info.result == "success"
        assert task.execution_info.exit_code == 0
        assert task.execution_info.requeue_count == 1
        assert task.execution_info.retry_count == 0

        # What finished before the restart is untouched, output included.
        done = client.get_task("rjob", "done")
        assert done.state == "completed"
        assert done.execution_info.requeue_count == 0
        assert b"".join(client.download_task_file("rjob", "done", "stdout.txt")) == b"before\n"

        pool = wait_for(lambda: (p := client.get_pool("rpool")).allocation_state == "steady" and p)
        assert pool.current_dedicated_nodes == 1
        assert wait_for(lambda: client.get_node("rpool", node_id).state == "idle")
        client.close()
    finally:
        second.stop()


def test_a_restart_finishes_the_deletes_under_way(tmp_path: Path) -> None:
    """A pool whose nodes were still leaving and a job whose release task was still running when
    the service stopped are `deleting` on disk; the restarted service finishes both deletes."""
    data_dir = tmp_path / "data"
    # The agents outlive the first service (as after a crash): the second finds them and releases them.
    first = start_child_server(data_dir, ["--node-release-time", "600", "--keep-agents"])
    try:
        client = make_client(first.endpoint)
        client.create_pool(pool_options("dpool", dedicated=1))
        client.create_pool(pool_options("jpool", dedicated=1))
        release = m.BatchJobReleaseTask(command_line="sleep 600")
        client.create_job(
            job_options(
                "djob",
                "jpool",
                job_release_task=release,
                job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
            )
        )
        client.create_task("djob", task_options("t1", "/bin/true"))
        wait_for(lambda: client.get_task("djob", "t1").state == "completed")
        client.begin_delete_pool("dpool")
        client.begin_delete_job("djob")
        assert client.get_pool("dpool").state == "deleting"
        assert wait_for(lambda: client.get_job("djob").state == "deleting")
        client.close()
    finally:
        first.stop()

    second = start_child_server(data_dir, ["--node-release-time", "0.1"])
    try:
        client = make_client(second.endpoint)
        wait_for(lambda: gone(lambda: client.get_pool("dpool")), timeout=20)
        wait_for(lambda: gone(lambda: client.get_job("djob")), timeout=20)
        assert client.get_pool("jpool").state == "active"
        client.close()
    finally:
        second.stop()


def gone(get: Callable[[], object]) -> bool:
    try:
        get()
    except ResourceNotFoundError:
        return True
    return False
