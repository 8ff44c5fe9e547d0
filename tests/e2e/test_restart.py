"""A restart of the service loses nothing: a task running when it stopped is requeued and completes."""

from __future__ import annotations

from pathlib import Path

import pytest

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
