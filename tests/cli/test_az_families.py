"""The `az batch` command families against Batchite: pool, node, job, job-schedule and task, each
command checked by its exit code and its JSON. Each az call costs about half a second, so the calls
are grouped into one test per family and the job and task families share one pool."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.cli.conftest import Az, ok
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import wait_job, wait_nodes, wait_task

IMAGE = "canonical:0001-com-ubuntu-server-jammy:22_04-lts"
SKU = "batch.node.ubuntu 22.04"


def _pool_args(pool_id: str, nodes: int) -> list[str]:
    return ["--id", pool_id, "--image", IMAGE, "--node-agent-sku-id", SKU, "--vm-size", "standard_d2s_v3",
            "--target-dedicated-nodes", str(nodes)]  # fmt: skip


def _delete_pool(client: Any, pool_id: str) -> None:
    with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
        client.begin_delete_pool(pool_id, polling_interval=0.05).result()


def _write(path: Path, value: object) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def _not_found(result: Any, code: str) -> None:
    assert result.returncode == 3, result.stderr
    assert f"({code})" in result.stderr


@pytest.fixture(scope="module")
def shared_pool(az: Az, endpoint: str) -> Iterator[str]:
    """A pool of two idle nodes, created with az, for the job and task families."""
    client = make_client(endpoint)
    pool_id = f"az-shared-{id(client):x}"
    ok(az("batch", "pool", "create", *_pool_args(pool_id, 2), "--task-slots-per-node", "2"))
    wait_nodes(client, pool_id, 2)
    yield pool_id
    _delete_pool(client, pool_id)
    client.close()


def test_pool_commands(
    az: Az, client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None], tmp_path: Path
) -> None:
    pool = uid("azpool")
    cleanup("pool", pool)
    assert ok(az("batch", "pool", "create", *_pool_args(pool, 1))) is None
    listed = ok(az("batch", "pool", "list", "--filter", f"id eq '{pool}'", "--select", "id,state"))
    assert listed == [{"id": pool, "state": "active"}]
    shown = ok(az("batch", "pool", "show", "--pool-id", pool))
    assert (shown["id"], shown["targetDedicatedNodes"], shown["enableAutoScale"]) == (pool, 1, False)
    wait_nodes(client, pool, 1)

    assert ok(az("batch", "pool", "set", "--pool-id", pool, "--metadata", "a=1")) is None
    assert ok(az("batch", "pool", "show", "--pool-id", pool))["metadata"] == [{"name": "a", "value": "1"}]
    reset = az("batch", "pool", "reset", "--pool-id", pool, "--metadata", "b=2", "--start-task-command-line", "true")
    ok(reset)
    after = ok(az("batch", "pool", "show", "--pool-id", pool))
    assert after["metadata"] == [{"name": "b", "value": "2"}]  # replaced, not merged
    assert after["startTask"]["commandLine"] == "true"

    assert ok(az("batch", "pool", "resize", "--pool-id", pool, "--target-dedicated-nodes", "2")) is None
    assert ok(az("batch", "pool", "show", "--pool-id", pool))["targetDedicatedNodes"] == 2
    wait_for(lambda: client.get_pool(pool).allocation_state == "steady")
    wait_nodes(client, pool, 2)

    formula = "$TargetDedicatedNodes = 1;"
    enabled = az("batch", "pool", "autoscale", "enable", "--pool-id", pool, "--auto-scale-formula", formula,
                 "--auto-scale-evaluation-interval", "PT5M")  # fmt: skip
    ok(enabled)
    shown = ok(az("batch", "pool", "show", "--pool-id", pool))
    assert (shown["enableAutoScale"], shown["autoScaleFormula"]) == (True, formula)
    assert shown["autoScaleEvaluationInterval"] == "PT5M"
    evaluated = ok(az("batch", "pool", "autoscale", "evaluate", "--pool-id", pool,
                      "--auto-scale-formula", "$TargetDedicatedNodes = 3;"))  # fmt: skip
    assert "$TargetDedicatedNodes=3" in evaluated["results"]
    assert ok(az("batch", "pool", "autoscale", "disable", "--pool-id", pool)) is None
    assert ok(az("batch", "pool", "show", "--pool-id", pool))["enableAutoScale"] is False

    metrics = ok(az("batch", "pool", "usage-metrics", "list"))
    assert isinstance(metrics, list)
    images = ok(az("batch", "pool", "supported-images", "list"))
    refs = {(i["imageReference"]["offer"], i["imageReference"]["sku"], i["nodeAgentSkuId"]) for i in images}
    assert ("0001-com-ubuntu-server-jammy", "22_04-lts", SKU) in refs
    counts = ok(az("batch", "pool", "node-counts", "list", "--filter", f"poolId eq '{pool}'"))
    assert [c["poolId"] for c in counts] == [pool]
    assert counts[0]["dedicated"]["total"] >= 1

    _not_found(az("batch", "pool", "show", "--pool-id", uid("nosuchpool")), "PoolNotFound")
    assert ok(az("batch", "pool", "delete", "--pool-id", pool, "--yes")) is None
    assert client.get_pool(pool).state == "deleting"


def test_node_commands(
    az: Az, client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None], tmp_path: Path
) -> None:
    pool = uid("aznodes")
    cleanup("pool", pool)
    ok(az("batch", "pool", "create", *_pool_args(pool, 2)))
    wait_nodes(client, pool, 2)
    nodes = ok(az("batch", "node", "list", "--pool-id", pool))
    assert len(nodes) == 2 and {n["state"] for n in nodes} == {"idle"}
    first, second = sorted(n["id"] for n in nodes)
    shown = ok(az("batch", "node", "show", "--pool-id", pool, "--node-id", first))
    assert (shown["id"], shown["schedulingState"], shown["isDedicated"]) == (first, "enabled", True)

    login = ok(az("batch", "node", "remote-login-settings", "show", "--pool-id", pool, "--node-id", first))
    assert login["remoteLoginIpAddress"] and int(login["remoteLoginPort"]) > 0

    user = ["--pool-id", pool, "--node-id", first]
    created = az("batch", "node", "user", "create", *user, "--name", "azuser", "--password", "Pa55word!x",
                 "--is-admin")  # fmt: skip
    assert ok(created) is None
    assert ok(az("batch", "node", "user", "reset", *user, "--user-name", "azuser", "--password", "0ther!pass")) is None
    assert ok(az("batch", "node", "user", "delete", *user, "--user-name", "azuser", "--yes")) is None
    _not_found(az("batch", "node", "user", "delete", *user, "--user-name", "azuser", "--yes"), "NodeUserNotFound")

    files = ok(az("batch", "node", "file", "list", *user, "--recursive"))
    names = {f["name"] for f in files if not f["isDirectory"]}
    assert names, files
    name = sorted(names)[0]
    dest = tmp_path / "node-file"
    assert ok(az("batch", "node", "file", "download", *user, "--file-path", name, "--destination", str(dest))) is None
    expected = b"".join(client.download_node_file(pool, first, name))
    assert dest.read_bytes() == expected

    assert ok(az("batch", "node", "scheduling", "disable", *user)) is None
    assert client.get_node(pool, first).scheduling_state == "disabled"
    assert ok(az("batch", "node", "scheduling", "enable", *user)) is None
    assert client.get_node(pool, first).scheduling_state == "enabled"

    booted = client.get_node(pool, first).last_boot_time
    assert ok(az("batch", "node", "reboot", *user, "--node-reboot-option", "terminate")) is None
    wait_for(lambda: (n := client.get_node(pool, first)).state == "idle" and n.last_boot_time > booted)

    assert ok(az("batch", "node", "delete", "--pool-id", pool, "--node-list", second)) is None
    wait_nodes(client, pool, 1)
    assert ok(az("batch", "node", "list", "--pool-id", pool, "--query", "[].id")) == [first]
    assert ok(az("batch", "pool", "show", "--pool-id", pool))["targetDedicatedNodes"] == 1
    _not_found(az("batch", "node", "show", "--pool-id", pool, "--node-id", second), "NodeNotFound")


def test_job_commands(az: Az, client: Any, shared_pool: str, uid: Callable[[str], str], tmp_path: Path) -> None:
    job = uid("azjob")
    spec = {
        "id": job,
        "priority": 100,
        "poolInfo": {"poolId": shared_pool},
        "metadata": [{"name": "from", "value": "json-file"}],
        "jobPreparationTask": {"commandLine": "/bin/sh -c 'echo prep'"},
        "jobReleaseTask": {"commandLine": "/bin/sh -c 'echo release'"},
    }
    try:
        assert ok(az("batch", "job", "create", "--json-file", _write(tmp_path / "job.json", spec))) is None
        listed = ok(az("batch", "job", "list", "--filter", f"id eq '{job}'", "--select", "id,priority,state"))
        assert listed == [{"id": job, "priority": 100, "state": "active"}]
        shown = ok(az("batch", "job", "show", "--job-id", job))
        assert shown["poolInfo"] == {"poolId": shared_pool}
        assert shown["metadata"] == [{"name": "from", "value": "json-file"}]
        assert shown["jobPreparationTask"]["commandLine"] == "/bin/sh -c 'echo prep'"

        ok(az("batch", "task", "create", "--job-id", job, "--task-id", "t1", "--command-line", "/bin/sh -c 'echo hi'"))
        wait_task(client, job, "t1")
        counts = ok(az("batch", "job", "task-counts", "show", "--job-id", job))
        assert counts["taskCounts"]["completed"] == 1 and counts["taskCounts"]["succeeded"] == 1
        assert counts["taskSlotCounts"]["completed"] == 1
        status = ok(az("batch", "job", "prep-release-status", "list", "--job-id", job))
        assert len(status) == 1 and status[0]["poolId"] == shared_pool
        prep = status[0]["jobPreparationTaskExecutionInfo"]
        assert (prep["state"], prep["exitCode"]) == ("completed", 0)

        assert ok(az("batch", "job", "set", "--job-id", job, "--priority", "500")) is None
        shown = ok(az("batch", "job", "show", "--job-id", job))
        assert shown["priority"] == 500 and shown["metadata"] == [{"name": "from", "value": "json-file"}]
        assert ok(az("batch", "job", "reset", "--job-id", job, "--pool-id", shared_pool, "--priority", "7")) is None
        shown = ok(az("batch", "job", "show", "--job-id", job))
        assert shown["priority"] == 7 and shown.get("metadata") in (None, [])  # replaced, not merged

        assert ok(az("batch", "job", "disable", "--job-id", job, "--disable-tasks", "requeue")) is None
        wait_job(client, job, "disabled")
        assert ok(az("batch", "job", "show", "--job-id", job, "--query", "state")) == "disabled"
        assert ok(az("batch", "job", "enable", "--job-id", job)) is None
        assert ok(az("batch", "job", "show", "--job-id", job, "--query", "state")) == "active"

        assert ok(az("batch", "job", "stop", "--job-id", job, "--terminate-reason", "AllDone")) is None
        wait_job(client, job, "completed")
        ended = ok(az("batch", "job", "show", "--job-id", job))
        assert (ended["state"], ended["executionInfo"]["terminateReason"]) == ("completed", "AllDone")

        _not_found(az("batch", "job", "show", "--job-id", uid("nosuchjob")), "JobNotFound")
        assert ok(az("batch", "job", "delete", "--job-id", job, "--yes")) is None
        wait_for(lambda: _gone(client.get_job, job))
    finally:
        _delete_job(client, job)


def test_job_schedule_commands(
    az: Az, client: Any, shared_pool: str, uid: Callable[[str], str], tmp_path: Path
) -> None:
    schedule = uid("azsched")
    try:
        created = az("batch", "job-schedule", "create", "--id", schedule, "--pool-id", shared_pool,
                     "--recurrence-interval", "PT1H", "--metadata", "a=1")  # fmt: skip
        assert ok(created) is None
        listed = ok(az("batch", "job-schedule", "list", "--filter", f"id eq '{schedule}'", "--select", "id,state"))
        assert listed == [{"id": schedule, "state": "active"}]
        shown = ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule))
        assert shown["schedule"]["recurrenceInterval"] == "PT1H"
        assert shown["jobSpecification"]["poolInfo"] == {"poolId": shared_pool}
        wait_for(lambda: client.get_job_schedule(schedule).execution_info.recent_job)
        recent = ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule))["executionInfo"]["recentJob"]
        assert recent["id"].startswith(f"{schedule}:job-")

        assert ok(az("batch", "job-schedule", "set", "--job-schedule-id", schedule, "--metadata", "b=2")) is None
        shown = ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule))
        assert shown["metadata"] == [{"name": "b", "value": "2"}]
        assert shown["schedule"]["recurrenceInterval"] == "PT1H"  # a patch keeps what it does not name
        reset = az("batch", "job-schedule", "reset", "--job-schedule-id", schedule, "--pool-id", shared_pool,
                   "--priority", "9")  # fmt: skip
        assert ok(reset) is None
        shown = ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule))
        assert shown["jobSpecification"]["priority"] == 9 and "recurrenceInterval" not in shown["schedule"]

        assert ok(az("batch", "job-schedule", "disable", "--job-schedule-id", schedule)) is None
        assert ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule, "--query", "state")) == "disabled"
        assert ok(az("batch", "job-schedule", "enable", "--job-schedule-id", schedule)) is None
        assert ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule, "--query", "state")) == "active"
        assert ok(az("batch", "job-schedule", "stop", "--job-schedule-id", schedule)) is None
        wait_for(lambda: client.get_job_schedule(schedule).state == "completed")
        assert ok(az("batch", "job-schedule", "show", "--job-schedule-id", schedule, "--query", "state")) == "completed"

        assert ok(az("batch", "job-schedule", "delete", "--job-schedule-id", schedule, "--yes")) is None
        wait_for(lambda: _gone(client.get_job_schedule, schedule))
        _not_found(az("batch", "job-schedule", "show", "--job-schedule-id", schedule), "JobScheduleNotFound")
    finally:
        with contextlib.suppress(ResourceNotFoundError):
            client.begin_delete_job_schedule(schedule, polling_interval=0.05).result()


def test_task_commands(az: Az, client: Any, shared_pool: str, uid: Callable[[str], str], tmp_path: Path) -> None:
    job = uid("aztasks")
    ok(az("batch", "job", "create", "--id", job, "--pool-id", shared_pool))
    try:
        tasks = [
            {"id": "ok", "commandLine": "/bin/sh -c 'echo out; echo err >&2'"},
            {"id": "fails", "commandLine": "/bin/sh -c 'exit 3'"},
            {"id": "long", "commandLine": "/bin/sh -c 'sleep 300'", "constraints": {"maxTaskRetryCount": 1}},
        ]
        added = ok(
            az("batch", "task", "create", "--job-id", job, "--json-file", _write(tmp_path / "tasks.json", tasks))
        )
        assert sorted((r["taskId"], r["status"]) for r in added) == [
            ("fails", "success"),
            ("long", "success"),
            ("ok", "success"),
        ]
        single = _write(tmp_path / "task.json", {"id": "single", "commandLine": "/bin/sh -c 'echo one'"})
        one = ok(az("batch", "task", "create", "--job-id", job, "--json-file", single))
        assert (one["id"], one["commandLine"]) == ("single", "/bin/sh -c 'echo one'")

        for task_id in ("ok", "fails", "single"):
            wait_task(client, job, task_id)
        wait_task(client, job, "long", "running")
        done = ok(
            az("batch", "task", "list", "--job-id", job, "--filter", "state eq 'completed'", "--select", "id,state")
        )
        assert sorted(t["id"] for t in done) == ["fails", "ok", "single"]
        assert all(set(t) == {"id", "state"} for t in done)
        shown = ok(az("batch", "task", "show", "--job-id", job, "--task-id", "fails"))
        assert (shown["executionInfo"]["exitCode"], shown["executionInfo"]["result"]) == (3, "failure")
        assert shown["executionInfo"]["failureInfo"]["category"] == "usererror"

        assert (
            ok(az("batch", "task", "reset", "--job-id", job, "--task-id", "long", "--max-task-retry-count", "4"))
            is None
        )
        long = ok(az("batch", "task", "show", "--job-id", job, "--task-id", "long"))
        assert long["constraints"]["maxTaskRetryCount"] == 4
        assert ok(az("batch", "task", "stop", "--job-id", job, "--task-id", "long")) is None
        wait_task(client, job, "long")
        assert ok(az("batch", "task", "show", "--job-id", job, "--task-id", "long", "--query", "state")) == "completed"

        assert ok(az("batch", "task", "reactivate", "--job-id", job, "--task-id", "fails")) is None
        again = client.get_task(job, "fails")
        assert again.state in ("active", "preparing", "running", "completed") and again.execution_info.retry_count == 0
        wait_task(client, job, "fails")

        assert ok(az("batch", "task", "subtask", "list", "--job-id", job, "--task-id", "ok")) == []

        files = ok(az("batch", "task", "file", "list", "--job-id", job, "--task-id", "ok"))
        assert {"stdout.txt", "stderr.txt"} <= {f["name"] for f in files}
        dest = tmp_path / "stderr.txt"
        dl = az("batch", "task", "file", "download", "--job-id", job, "--task-id", "ok", "--file-path", "stderr.txt",
                "--destination", str(dest))  # fmt: skip
        assert ok(dl) is None and dest.read_text() == "err\n"
        deleted = az("batch", "task", "file", "delete", "--job-id", job, "--task-id", "ok", "--file-path", "stderr.txt",
                     "--yes")  # fmt: skip
        assert ok(deleted) is None
        names = ok(az("batch", "task", "file", "list", "--job-id", job, "--task-id", "ok", "--query", "[].name"))
        assert "stderr.txt" not in names and "stdout.txt" in names

        assert ok(az("batch", "task", "delete", "--job-id", job, "--task-id", "single", "--yes")) is None
        _not_found(az("batch", "task", "show", "--job-id", job, "--task-id", "single"), "TaskNotFound")
        _not_found(az("batch", "task", "list", "--job-id", uid("nosuchjob")), "JobNotFound")
    finally:
        _delete_job(client, job)


def _gone(get: Callable[[str], Any], ident: str) -> bool:
    try:
        get(ident)
    except ResourceNotFoundError:
        return True
    return False


def _delete_job(client: Any, job_id: str) -> None:
    with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
        client.begin_delete_job(job_id, polling_interval=0.05).result()
