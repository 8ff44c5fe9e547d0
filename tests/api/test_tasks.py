"""Tasks through azure-batch 15.1.0: add, add collections, read, replace, delete, terminate, reactivate,
failures, retries, wall-clock limits, environment, slots."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

POLL = 0.1


def _status(response: Any, _deserialized: Any, headers: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response.http_response.status_code, headers


def make_pool(client: Any, pool_id: str, cleanup: Any, dedicated: int = 1, slots: int = 1) -> str:
    client.create_pool(pool_options(pool_id, dedicated=dedicated, slots=slots))
    cleanup("pool", pool_id)
    wait_for(lambda: len([n for n in client.list_nodes(pool_id) if n.state == "idle"]) == dedicated)
    return pool_id


@pytest.fixture
def job(client: Any, uid: Any, cleanup: Any) -> str:
    """A job on a pool of 2 nodes x 2 slots."""
    pool_id = make_pool(client, uid("tpool"), cleanup, dedicated=2, slots=2)
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    return job_id


@pytest.fixture
def idle_job(client: Any, uid: Any, cleanup: Any) -> str:
    """A job on a pool without nodes: its tasks stay active."""
    pool_id = uid("epool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    job_id = uid("ijob")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    return job_id


def wait_task(client: Any, job_id: str, task_id: str, state: str = "completed", timeout: float = 20.0) -> Any:
    return wait_for(lambda: (t := client.get_task(job_id, task_id)).state == state and t, timeout=timeout)


def all_completed(client: Any, job_id: str) -> list[Any] | None:
    tasks = list(client.list_tasks(job_id))
    return tasks if all(t.state == "completed" for t in tasks) else None


def stdout(client: Any, job_id: str, task_id: str) -> str:
    return b"".join(client.download_task_file(job_id, task_id, "stdout.txt")).decode()


def test_create_task_runs_and_get_task_shows_node_and_execution_info(client: Any, job: str) -> None:
    status, headers = client.create_task(job, task_options("t1", "echo hi"), cls=_status)
    assert status == 201
    assert headers["ETag"]
    assert headers["DataServiceId"].endswith(f"/jobs/{job}/tasks/t1")

    task = wait_task(client, job, "t1")
    pool_id = client.get_job(job).pool_info.pool_id
    assert task.id == "t1"
    assert task.command_line == "echo hi"
    assert task.url.endswith(f"/jobs/{job}/tasks/t1")
    assert task.node_info.node_id in {n.id for n in client.list_nodes(pool_id)}
    assert task.node_info.pool_id == pool_id
    assert task.node_info.task_root_directory
    info = task.execution_info
    assert info.start_time is not None and info.end_time is not None
    assert info.start_time <= info.end_time
    assert info.exit_code == 0
    assert info.result == "success"
    assert info.failure_info is None
    assert info.retry_count == 0
    assert info.requeue_count == 0
    assert task.previous_state == "running"
    assert stdout(client, job, "t1") == "hi\n"


def test_create_task_collection_of_100(client: Any, job: str) -> None:
    group = m.BatchTaskGroup(task_values=[task_options(f"c{i}", "/bin/true") for i in range(100)])
    result = client.create_task_collection(job, group)
    assert len(result.result_values) == 100
    assert all(r.status == "success" and r.etag and r.location for r in result.result_values)
    assert {r.task_id for r in result.result_values} == {f"c{i}" for i in range(100)}
    wait_for(lambda: all(t.state == "completed" for t in client.list_tasks(job)), timeout=30)


def test_create_tasks_250_in_chunks_of_100(client: Any, job: str) -> None:
    requests: list[Any] = []
    tasks = [task_options(f"t{i:03}", "/bin/true") for i in range(250)]
    result = client.create_tasks(job, tasks, raw_request_hook=lambda req: requests.append(req.http_request))
    posted = [r for r in requests if r.url.split("?")[0].endswith("/addtaskcollection")]
    assert len(posted) == 3  # 100 + 100 + 50: the service took full chunks, no RequestBodyTooLarge halving
    assert len(result.result_values) == 250
    assert all(r.status == "success" for r in result.result_values)

    listed = [t.id for t in client.list_tasks(job)]
    assert sorted(listed) == sorted(t.id for t in tasks)
    done = wait_for(lambda: all_completed(client, job), timeout=40)
    assert all(t.execution_info.result == "success" for t in done)
    counts = client.get_job_task_counts(job).task_counts
    assert (counts.completed, counts.succeeded, counts.failed) == (250, 250, 0)


def test_list_tasks_paged_and_selected(client: Any, idle_job: str) -> None:
    client.create_tasks(idle_job, [task_options(f"t{i}", "/bin/true") for i in range(5)])
    pages = [list(p) for p in client.list_tasks(idle_job, max_results=2).by_page()]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(t.id for p in pages for t in p) == [f"t{i}" for i in range(5)]
    selected = list(client.list_tasks(idle_job, select=["id", "state"]))
    assert all(t.state == "active" and t.command_line is None for t in selected)


def test_task_exists(client: Any, idle_job: str) -> None:
    client.create_task(idle_job, task_options("Dup", "/bin/true"))
    for again in ("Dup", "dup"):
        with pytest.raises(ResourceExistsError) as info:
            client.create_task(idle_job, task_options(again, "/bin/true"))
        assert info.value.status_code == 409
        assert info.value.error.code == "TaskExists"
    assert [t.id for t in client.list_tasks(idle_job)] == ["Dup"]


def test_task_not_found(client: Any, idle_job: str) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_task(idle_job, "nope")
    assert info.value.error.code == "TaskNotFound"


def test_replace_task_constraints(client: Any, idle_job: str) -> None:
    client.create_task(idle_job, task_options("t1", "/bin/true"))
    before = client.get_task(idle_job, "t1")

    status, _ = client.replace_task(
        idle_job,
        "t1",
        m.BatchTask(
            constraints=m.BatchTaskConstraints(
                max_wall_clock_time=dt.timedelta(hours=1),
                retention_time=dt.timedelta(days=1),
                max_task_retry_count=3,
            )
        ),
        cls=_status,
    )
    assert status == 200
    task = client.get_task(idle_job, "t1")
    assert task.constraints.max_wall_clock_time == dt.timedelta(hours=1)
    assert task.constraints.retention_time == dt.timedelta(days=1)
    assert task.constraints.max_task_retry_count == 3
    assert task.command_line == "/bin/true"
    assert task.etag != before.etag


def test_delete_task(client: Any, job: str) -> None:
    client.create_task(job, task_options("done", "/bin/true"))
    wait_task(client, job, "done")
    client.create_task(job, task_options("busy", "sleep 30"))
    busy = wait_task(client, job, "busy", "running")

    assert client.delete_task(job, "done", cls=_status)[0] == 200
    client.delete_task(job, "busy")
    for task_id in ("done", "busy"):
        with pytest.raises(ResourceNotFoundError) as info:
            client.get_task(job, task_id)
        assert info.value.error.code == "TaskNotFound"
    assert list(client.list_tasks(job)) == []
    pool_id = client.get_job(job).pool_info.pool_id
    # The running task's process was stopped: its node has nothing running.
    wait_for(lambda: client.get_node(pool_id, busy.node_info.node_id).running_tasks_count == 0, timeout=5)


def test_terminate_running_task(client: Any, job: str) -> None:
    client.create_task(job, task_options("t1", "sleep 30"))
    wait_task(client, job, "t1", "running")

    started = time.monotonic()
    status, _ = client.terminate_task(job, "t1", cls=_status)
    assert status == 204
    task = wait_task(client, job, "t1", timeout=10)
    assert time.monotonic() - started < 10
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "TaskEnded"
    assert task.execution_info.failure_info.category == "usererror"
    assert task.execution_info.end_time is not None
    pool_id = client.get_job(job).pool_info.pool_id
    wait_for(lambda: client.get_node(pool_id, task.node_info.node_id).running_tasks_count == 0, timeout=5)


def test_terminate_active_task_completes_it_without_running(client: Any, idle_job: str) -> None:
    client.create_task(idle_job, task_options("t1", "/bin/true"))
    client.terminate_task(idle_job, "t1")
    task = client.get_task(idle_job, "t1")
    assert task.state == "completed"
    assert task.execution_info.failure_info.code == "TaskEnded"
    assert task.node_info is None


def test_reactivate_failed_task_runs_it_again(client: Any, job: str) -> None:
    client.create_task(
        job, task_options("t1", "/bin/false", constraints=m.BatchTaskConstraints(max_task_retry_count=1))
    )
    first = wait_task(client, job, "t1")
    assert first.execution_info.result == "failure"
    assert first.execution_info.retry_count == 1

    status, _ = client.reactivate_task(job, "t1", cls=_status)
    assert status == 204
    task = wait_for(
        lambda: (
            (t := client.get_task(job, "t1")).state == "completed"
            and t.execution_info.start_time > first.execution_info.end_time
            and t
        ),
        timeout=20,
    )
    assert task.execution_info.result == "failure"
    assert task.execution_info.exit_code == 1
    assert task.execution_info.retry_count == 1  # reset by reactivate, then one retry again

    client.create_task(job, task_options("ok", "/bin/true"))
    wait_task(client, job, "ok")
    with pytest.raises(HttpResponseError) as info:
        client.reactivate_task(job, "ok")
    assert info.value.status_code == 409


def test_nonzero_exit_is_a_user_error_failure_exit_code(client: Any, job: str) -> None:
    client.create_task(job, task_options("t1", "/bin/sh -c 'exit 3'"))
    task = wait_task(client, job, "t1")
    info = task.execution_info
    assert info.exit_code == 3
    assert info.result == "failure"
    assert info.failure_info.category == "usererror"
    assert info.failure_info.code == "FailureExitCode"
    assert info.retry_count == 0


def test_max_task_retry_count_retries_a_failing_command(client: Any, job: str) -> None:
    client.create_task(
        job, task_options("t1", "/bin/false", constraints=m.BatchTaskConstraints(max_task_retry_count=2))
    )
    task = wait_task(client, job, "t1")
    assert task.execution_info.retry_count == 2
    assert task.execution_info.last_retry_time is not None
    assert task.execution_info.exit_code == 1
    assert task.execution_info.result == "failure"
    pool_id = client.get_job(job).pool_info.pool_id
    assert sum(n.total_tasks_run for n in client.list_nodes(pool_id)) == 3


def test_job_max_task_retry_count_is_the_default_for_its_tasks(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("rpool"), cleanup)
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id, constraints=m.BatchJobConstraints(max_task_retry_count=1)))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "/bin/false"))
    task = wait_task(client, job_id, "t1")
    assert task.execution_info.retry_count == 1


def test_max_wall_clock_time_ends_a_long_task_with_failure(client: Any, job: str) -> None:
    started = time.monotonic()
    client.create_task(
        job,
        task_options("t1", "sleep 30", constraints=m.BatchTaskConstraints(max_wall_clock_time=dt.timedelta(seconds=1))),
    )
    task = wait_task(client, job, "t1", timeout=15)
    assert time.monotonic() - started < 10
    info = task.execution_info
    assert info.result == "failure"
    assert info.failure_info is not None
    assert info.failure_info.category == "usererror"
    assert info.exit_code != 0
    assert info.end_time - info.start_time < dt.timedelta(seconds=5)


def test_environment_settings_and_batch_variables_are_visible(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("envpool"), cleanup)
    job_id = uid("job")
    client.create_job(
        job_options(
            job_id, pool_id, common_environment_settings=[m.EnvironmentSetting(name="FROM_JOB", value="job-value")]
        )
    )
    cleanup("job", job_id)
    env = [m.EnvironmentSetting(name="MY_SETTING", value="hello world")]
    names = [
        "MY_SETTING",
        "FROM_JOB",
        "AZ_BATCH_JOB_ID",
        "AZ_BATCH_TASK_ID",
        "AZ_BATCH_POOL_ID",
        "AZ_BATCH_NODE_ID",
        "AZ_BATCH_ACCOUNT_NAME",
        "AZ_BATCH_TASK_WORKING_DIR",
        "AZ_BATCH_TASK_DIR",
        "AZ_BATCH_NODE_SHARED_DIR",
        "AZ_BATCH_NODE_ROOT_DIR",
    ]
    client.create_tasks(
        job_id,
        [task_options(f"env{i}", f"printenv {name}", environment_settings=env) for i, name in enumerate(names)]
        + [task_options("pwd", "/bin/pwd")],
    )
    wait_for(lambda: all(t.state == "completed" for t in client.list_tasks(job_id)))
    values = {}
    for i, name in enumerate(names):
        task = client.get_task(job_id, f"env{i}")
        assert task.execution_info.exit_code == 0, f"{name} is not set"
        values[name] = stdout(client, job_id, f"env{i}").rstrip("\n")
    assert values["MY_SETTING"] == "hello world"
    assert values["FROM_JOB"] == "job-value"
    assert values["AZ_BATCH_JOB_ID"] == job_id
    assert values["AZ_BATCH_TASK_ID"] == "env3"
    assert values["AZ_BATCH_POOL_ID"] == pool_id
    assert values["AZ_BATCH_NODE_ID"] == client.get_task(job_id, "env5").node_info.node_id
    assert values["AZ_BATCH_ACCOUNT_NAME"] == "devbatchaccount1"
    assert values["AZ_BATCH_TASK_DIR"].endswith(client.get_task(job_id, "env8").node_info.task_root_directory)
    assert values["AZ_BATCH_TASK_WORKING_DIR"].endswith("/wd")
    assert values["AZ_BATCH_NODE_SHARED_DIR"].startswith(values["AZ_BATCH_NODE_ROOT_DIR"])
    # The working directory is AZ_BATCH_TASK_WORKING_DIR of that task.
    pwd = stdout(client, job_id, "pwd").rstrip("\n")
    assert pwd.endswith(client.get_task(job_id, "pwd").node_info.task_root_directory + "/wd")


def _max_overlap(tasks: list[Any]) -> int:
    events = []
    for t in tasks:
        events.append((t.execution_info.start_time, 1))
        events.append((t.execution_info.end_time, -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


def test_task_slots_per_node_bound_concurrency(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("spool"), cleanup, dedicated=1, slots=2)
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", "sleep 1") for i in range(4)])

    node_id = next(iter(client.list_nodes(pool_id))).id
    seen_running: list[int] = []

    def probe() -> Any:
        node = client.get_node(pool_id, node_id)
        seen_running.append(node.running_tasks_count or 0)
        assert (node.running_task_slots_count or 0) <= 2
        tasks = list(client.list_tasks(job_id))
        return tasks if all(t.state == "completed" for t in tasks) else None

    tasks = wait_for(probe, timeout=20, interval=0.1)
    assert max(seen_running) <= 2
    assert all(t.execution_info.result == "success" for t in tasks)
    assert _max_overlap(tasks) == 2


def test_required_slots_take_the_whole_node(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("rspool"), cleanup, dedicated=1, slots=2)
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", "sleep 1", required_slots=2) for i in range(2)])
    tasks = wait_for(lambda: all_completed(client, job_id))
    assert all(t.required_slots == 2 and t.execution_info.result == "success" for t in tasks)
    assert _max_overlap(tasks) == 1


def test_required_slots_more_than_a_node_has_does_not_block_other_tasks(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("bigpool"), cleanup, dedicated=1, slots=1)
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("big", "/bin/true", required_slots=2))
    client.create_task(job_id, task_options("small", "/bin/true"))
    wait_task(client, job_id, "small", timeout=5)
    time.sleep(0.3)
    assert client.get_task(job_id, "big").state == "active"


def test_command_that_does_not_exist_fails(client: Any, job: str) -> None:
    client.create_task(job, task_options("t1", "/no/such/program --flag"))
    task = wait_task(client, job, "t1")
    info = task.execution_info
    assert info.result == "failure"
    assert info.failure_info is not None
    assert info.failure_info.category == "usererror"
    # Batchite reports CommandProgramNotFound and no exit code (the process never started).
    assert info.failure_info.code == "CommandProgramNotFound"
    assert info.exit_code is None


def test_create_task_on_a_missing_job_is_job_not_found(client: Any, uid: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        client.create_task(uid("nojob"), task_options("t1", "/bin/true"))
    assert info.value.error.code == "JobNotFound"


def test_invalid_task_id_is_invalid_property_value(client: Any, idle_job: str) -> None:
    with pytest.raises(HttpResponseError) as info:
        client.create_task(idle_job, task_options("bad id!", "/bin/true"))
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidPropertyValue"
    assert list(client.list_tasks(idle_job)) == []


@pytest.fixture
def http_file(tmp_path: Any) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving input.txt, as a resource file's httpUrl."""
    import functools
    import http.server
    import threading

    (tmp_path / "input.txt").write_text("from a resource file\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/input.txt"
    httpd.shutdown()
    httpd.server_close()


def test_resource_files_are_downloaded_into_the_working_directory(client: Any, job: str, http_file: str) -> None:
    client.create_task(
        job,
        task_options("t1", "cat input.txt", resource_files=[m.ResourceFile(http_url=http_file, file_path="input.txt")]),
    )
    task = wait_task(client, job, "t1")
    assert task.execution_info.exit_code == 0
    assert stdout(client, job, "t1") == "from a resource file\n"


def test_a_dependent_task_waits_for_the_task_it_depends_on(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("dpool"), cleanup, dedicated=1, slots=2)
    job_id = uid("job")
    client.create_job(job_options(job_id, pool_id, uses_task_dependencies=True))
    cleanup("job", job_id)
    client.create_tasks(
        job_id,
        [
            task_options("first", "sleep 1"),
            task_options("second", "/bin/true", depends_on=m.BatchTaskDependencies(task_ids=["first"])),
        ],
    )
    tasks = {t.id: t for t in wait_for(lambda: all_completed(client, job_id))}
    assert tasks["second"].execution_info.start_time >= tasks["first"].execution_info.end_time
