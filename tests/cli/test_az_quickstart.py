"""The data-plane part of the Azure quickstart "Run your first Batch job with the Azure CLI", run
with `az batch` (azure-cli 2.91.0) as the page writes it: a pool from a Marketplace image and node
agent SKU, a job, four tasks that print their AZ_BATCH_ variables, task show, task file list and
download, then the deletes with --yes. Only the ids carry a suffix (tests share one server) and the
tasks sleep 1 s instead of 90 s."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from tests.cli.conftest import Az, ok
from tests.conftest import wait_for
from tests.e2e.helpers import wait_task


def _gone_or_deleting(get: Callable[[str], Any], ident: str) -> bool:
    try:
        return bool(get(ident).state == "deleting")
    except ResourceNotFoundError:
        return True


def test_the_quickstart_runs_as_written(az: Az, client: Any, uid: Callable[[str], str], tmp_path: Path) -> None:
    pool, job = uid("myPool"), uid("myJob")

    created = az(
        "batch", "pool", "create",
        "--id", pool,
        "--image", "canonical:0001-com-ubuntu-server-jammy:22_04-lts",
        "--node-agent-sku-id", "batch.node.ubuntu 22.04",
        "--target-dedicated-nodes", "2",
        "--vm-size", "Standard_A1_v2",
    )  # fmt: skip
    assert ok(created) is None  # pool create prints nothing
    assert ok(az("batch", "pool", "show", "--pool-id", pool, "--query", "allocationState")) in ("resizing", "steady")
    shown = ok(az("batch", "pool", "show", "--pool-id", pool))
    image = shown["virtualMachineConfiguration"]["imageReference"]
    assert [image["publisher"], image["offer"], image["sku"]] == [
        "canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts",
    ]
    assert shown["virtualMachineConfiguration"]["nodeAgentSkuId"] == "batch.node.ubuntu 22.04"
    assert (shown["vmSize"].lower(), shown["targetDedicatedNodes"]) == ("standard_a1_v2", 2)

    assert ok(az("batch", "job", "create", "--id", job, "--pool-id", pool)) is None
    command = "/bin/bash -c 'printenv | grep AZ_BATCH; sleep 1s'"
    for i in range(1, 5):
        task = ok(az("batch", "task", "create", "--task-id", f"myTask{i}", "--job-id", job, "--command-line", command))
        assert (task["id"], task["commandLine"]) == (f"myTask{i}", command)  # az prints the task it created
        assert task["state"] in ("active", "preparing", "running", "completed")

    for i in range(1, 5):
        wait_task(client, job, f"myTask{i}", timeout=60)
    task = ok(az("batch", "task", "show", "--job-id", job, "--task-id", "myTask1"))
    assert task["state"] == "completed"
    assert task["executionInfo"]["exitCode"] == 0
    assert task["executionInfo"]["result"] == "success"
    assert task["nodeInfo"]["poolId"] == pool

    files = ok(az("batch", "task", "file", "list", "--job-id", job, "--task-id", "myTask1"))
    by_name = {f["name"]: f for f in files}
    assert {"stdout.txt", "stderr.txt"} <= set(by_name)
    assert by_name["stdout.txt"]["isDirectory"] is False
    assert by_name["stdout.txt"]["url"].endswith(f"/jobs/{job}/tasks/myTask1/files/stdout.txt")
    table = az("batch", "task", "file", "list", "--job-id", job, "--task-id", "myTask1", "--output", "table")
    assert table.returncode == 0 and "stdout.txt" in table.out and "IsDirectory" in table.out

    downloaded = az(
        "batch", "task", "file", "download",
        "--job-id", job, "--task-id", "myTask1", "--file-path", "stdout.txt", "--destination", "./stdout.txt",
        cwd=tmp_path,
    )  # fmt: skip
    assert ok(downloaded) is None
    stdout = (tmp_path / "stdout.txt").read_text()
    assert f"AZ_BATCH_JOB_ID={job}" in stdout
    assert "AZ_BATCH_TASK_ID=myTask1" in stdout
    assert "AZ_BATCH_ACCOUNT_NAME=devbatchaccount1" in stdout
    assert int(by_name["stdout.txt"]["properties"]["contentLength"]) == len(stdout.encode())

    assert ok(az("batch", "job", "delete", "--job-id", job, "--yes")) is None
    assert ok(az("batch", "pool", "delete", "--pool-id", pool, "--yes")) is None
    wait_for(lambda: _gone_or_deleting(client.get_job, job))
    wait_for(lambda: _gone_or_deleting(client.get_pool, pool))


def test_an_unknown_job_is_exit_3_with_the_batch_error(az: Az, uid: Callable[[str], str]) -> None:
    missing = az("batch", "job", "show", "--job-id", uid("nosuchjob"))
    assert missing.returncode == 3
    assert missing.out is None
    assert "(JobNotFound) The specified job does not exist." in missing.stderr
    assert "RequestId:" in missing.stderr
