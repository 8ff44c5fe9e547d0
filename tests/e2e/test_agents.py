"""Node agents outlive the service, and a node whose agent dies is lost as on Azure.

- The service is killed with SIGKILL while tasks run, and restarted on the same data directory:
  the tasks go on under their agents and complete with their real exit codes and output, never
  requeued (one finishes while the service is down, one after it is back).
- An agent is killed: its nodes go `unusable`, its task is requeued and completes on a node of
  another agent, and the task's process went with its agent.
"""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path
from typing import Any

import pytest

from batchite.cli.server import start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Cleanup, make_pool, wait_node, wait_task
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e


def sh(script: str) -> str:
    return f"/bin/sh -c {shlex.quote(script)}"


def stdout(client: Any, job_id: str, task_id: str) -> str:
    return b"".join(client.download_task_file(job_id, task_id, "stdout.txt")).decode()


def test_tasks_finish_under_their_agents_across_a_sigkill_of_the_service(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_child_server(data_dir, ["--keep-agents"])
    try:
        client = make_client(first.endpoint)
        client.create_pool(pool_options("kpool", dedicated=1, slots=2))
        wait_for(lambda: [n for n in client.list_nodes("kpool") if n.state == "idle"])
        client.create_job(job_options("kjob", "kpool"))
        client.create_task("kjob", task_options("short", sh("echo started; sleep 1; echo short-done; exit 3")))
        client.create_task("kjob", task_options("long", sh("echo started; sleep 6; echo long-done; exit 5")))
        for task_id in ("short", "long"):
            wait_task(client, "kjob", task_id, state="running")
        client.close()
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()

    second = start_child_server(data_dir)
    try:
        client = make_client(second.endpoint)
        for task_id, code in (("short", 3), ("long", 5)):
            task = wait_task(client, "kjob", task_id, timeout=30)
            info = task.execution_info
            assert (info.exit_code, info.result) == (code, "failure"), info
            assert info.requeue_count == 0 and info.retry_count == 0, info
            assert stdout(client, "kjob", task_id) == f"started\n{task_id}-done\n"
        node = wait_for(lambda: (n := next(iter(client.list_nodes("kpool")))).state == "idle" and n)
        assert node.total_tasks_run == 2
        client.close()
    finally:
        second.stop()


def test_a_node_whose_agent_dies_goes_unusable_and_its_task_runs_elsewhere(client: Any, uid: Any) -> None:
    cleanup = Cleanup(client)
    try:
        # 9 nodes: more than one agent hosts (8 by default), so whichever agent the task's node
        # shares, another agent's node is left to run it
        pool_id = make_pool(client, uid("lost"), cleanup, dedicated=9)
        job_id = uid("ljob")
        client.create_job(job_options(job_id, pool_id))
        cleanup("job", job_id)
        client.create_task(job_id, task_options("victim", sh('echo "$PPID $$"; sleep 30; echo finished')))
        running = wait_task(client, job_id, "victim", state="running")
        first_node = running.node_info.node_id
        line = wait_for(lambda: stdout(client, job_id, "victim").strip())
        agent_pid, task_pid = (int(x) for x in line.split())
        assert Path(f"/proc/{agent_pid}/cmdline").read_bytes().find(b"batchite.agent.server") > 0

        os.kill(agent_pid, signal.SIGKILL)
        node = wait_node(client, pool_id, first_node, "unusable")
        assert node.errors and node.errors[0].code == "NodeAgentLost", node.errors
        wait_for(lambda: not Path(f"/proc/{task_pid}").exists())  # the task went with its agent

        moved = wait_for(
            lambda: (
                (t := client.get_task(job_id, "victim")).state == "running" and t.node_info.node_id != first_node and t
            )
        )
        assert moved.execution_info.requeue_count == 1
        client.terminate_task(job_id, "victim")
        assert wait_task(client, job_id, "victim").node_info.node_id != first_node
    finally:
        cleanup.run()
