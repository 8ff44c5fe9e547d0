"""Stopping `batchite serve`: SIGTERM (or SIGINT, as from a terminal) stops serving, commits, and
exits 0 within seconds; the tasks running go on under their node agents and no task is lost. With
--stop-agents the agents end too and their running tasks are requeued at the next start."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import wait_nodes, wait_task
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e
QUICK = 10


def _submit(client: Any) -> None:
    client.create_pool(pool_options("pool", dedicated=1, slots=4))
    wait_nodes(client, "pool", 1, timeout=60)
    client.create_job(job_options("job", "pool"))
    client.create_task("job", task_options("long", "/bin/sh -c 'echo $PPID; sleep 3; echo done'"))
    wait_task(client, "job", "long", state="running", timeout=60)
    tasks = [m.BatchTaskCreateOptions(id=f"q{i}", command_line=f"/bin/sh -c 'echo {i}'") for i in range(QUICK)]
    client.create_task_collection("job", m.BatchTaskGroup(task_values=tasks))


def _stop(server: ChildServer, signum: int) -> float:
    """Signal the server; how long it took to exit (it must exit 0)."""
    began = time.monotonic()
    server.process.send_signal(signum)
    code = server.process.wait(timeout=30)
    assert code == 0, (server.data_dir / "server.log").read_text()[-2000:]
    return time.monotonic() - began


def _agent_of_long(client: Any) -> int:
    first = wait_for(lambda: b"".join(client.download_task_file("job", "long", "stdout.txt")).split(b"\n")[0])
    return int(first)


def _serve_a_job(data: Path, extra_args: list[str]) -> tuple[ChildServer, int]:
    """A server on `data` running the job (its long task started); the server and the long task's agent."""
    server = start_child_server(data, extra_args=extra_args)
    client: Any = make_client(server.endpoint)
    try:
        _submit(client)
        return server, _agent_of_long(client)
    finally:
        client.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_service_and_its_tasks_go_on(tmp_path: Path, signum: int) -> None:
    data = tmp_path / "data"
    first, agent = _serve_a_job(data, ["--keep-agents"])
    took = _stop(first, signum)
    assert took < 10, f"the service took {took:.1f} s to stop"
    assert Path(f"/proc/{agent}").exists(), "the node's agent went with the service"

    second = start_child_server(data, port=int(first.endpoint.rsplit(":", 1)[1]), extra_args=["--keep-agents"])
    client = make_client(second.endpoint)
    try:
        long = wait_task(client, "job", "long", timeout=60)
        assert (long.execution_info.exit_code, long.execution_info.requeue_count) == (0, 0), long.execution_info
        assert b"".join(client.download_task_file("job", "long", "stdout.txt")).endswith(b"done\n")
        for i in range(QUICK):
            assert wait_task(client, "job", f"q{i}", timeout=60).execution_info.exit_code == 0
        counts = client.get_job_task_counts("job").task_counts
        assert (counts.completed, counts.succeeded, counts.active, counts.running) == (QUICK + 1, QUICK + 1, 0, 0)
    finally:
        client.close()
        second.stop()


def test_stop_agents_ends_them_and_requeues_their_tasks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, agent = _serve_a_job(data, [])  # start_child_server's default: --stop-agents
    assert _stop(first, signal.SIGTERM) < 10
    wait_for(lambda: not Path(f"/proc/{agent}").exists(), timeout=10)

    second = start_child_server(data, port=int(first.endpoint.rsplit(":", 1)[1]))
    client = make_client(second.endpoint)
    try:
        long = wait_task(client, "job", "long", timeout=60)
        assert long.execution_info.exit_code == 0 and long.execution_info.requeue_count == 1, long.execution_info
        counts = client.get_job_task_counts("job").task_counts
        assert (counts.completed, counts.succeeded) == (QUICK + 1, QUICK + 1)
    finally:
        client.close()
        second.stop()
    assert os.path.exists(data / "batchite.db")
