"""Jobs through azure-batch 15.1.0: create, get, list, update, replace, disable/enable, terminate, delete, counts."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported by azure-batch 15.1.0
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

POLL = 0.1


def _status(response: Any, _deserialized: Any, headers: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response.http_response.status_code, headers


@pytest.fixture
def pool(client: Any, uid: Any, cleanup: Any) -> str:
    """A pool of 1 node x 2 slots, steady and idle."""
    pool_id = uid("jpool")
    client.create_pool(pool_options(pool_id, dedicated=1, slots=2))
    cleanup("pool", pool_id)
    wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"])
    return pool_id


@pytest.fixture
def empty_pool(client: Any, uid: Any, cleanup: Any) -> str:
    """A pool without nodes: its jobs' tasks stay active."""
    pool_id = uid("epool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    return pool_id


def wait_task(client: Any, job_id: str, task_id: str, state: str, timeout: float = 20.0) -> Any:
    return wait_for(lambda: (t := client.get_task(job_id, task_id)).state == state and t, timeout=timeout)


def wait_job(client: Any, job_id: str, state: str, timeout: float = 20.0) -> Any:
    return wait_for(lambda: (j := client.get_job(job_id)).state == state and j, timeout=timeout)


def test_create_job_returns_201_and_get_shows_it(client: Any, uid: Any, empty_pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    status, headers = client.create_job(
        job_options(
            job_id,
            empty_pool,
            priority=10,
            display_name="my job",
            metadata=[m.BatchMetadataItem(name="k", value="v")],
            common_environment_settings=[m.EnvironmentSetting(name="A", value="1")],
        ),
        cls=_status,
    )
    cleanup("job", job_id)
    assert status == 201
    assert headers["ETag"]
    assert headers["DataServiceId"].endswith(f"/jobs/{job_id}")

    job = client.get_job(job_id)
    assert job.id == job_id
    assert job.display_name == "my job"
    assert job.state == "active"
    assert job.priority == 10
    assert job.pool_info.pool_id == empty_pool
    assert job.execution_info.pool_id == empty_pool
    assert job.execution_info.start_time is not None
    assert job.all_tasks_complete_mode == "noaction"
    assert job.max_parallel_tasks == -1
    assert [(i.name, i.value) for i in job.metadata] == [("k", "v")]
    assert [(e.name, e.value) for e in job.common_environment_settings] == [("A", "1")]
    assert job.etag == headers["ETag"]
    assert job.url.endswith(f"/jobs/{job_id}")


def test_list_jobs(client: Any, uid: Any, empty_pool: str, cleanup: Any) -> None:
    ids = [uid(f"lj{i}") for i in range(3)]
    for job_id in ids:
        client.create_job(job_options(job_id, empty_pool))
        cleanup("job", job_id)

    listed = [j.id for j in client.list_jobs()]
    assert all(job_id in listed for job_id in ids)
    pages = [list(p) for p in client.list_jobs(max_results=2).by_page()]
    assert all(len(p) <= 2 for p in pages)
    assert [j.id for p in pages for j in p] == listed
    selected = [j for j in client.list_jobs(select=["id", "state"]) if j.id in ids]
    assert len(selected) == 3
    assert all(j.state == "active" and j.pool_info is None for j in selected)


def test_job_not_found(client: Any, uid: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_job(uid("nope"))
    assert info.value.status_code == 404
    assert info.value.error.code == "JobNotFound"


def test_job_exists_also_when_the_id_differs_only_in_case(client: Any, uid: Any, empty_pool: str, cleanup: Any) -> None:
    job_id = uid("Job")
    client.create_job(job_options(job_id, empty_pool))
    cleanup("job", job_id)
    for again in (job_id, job_id.upper()):
        with pytest.raises(ResourceExistsError) as info:
            client.create_job(job_options(again, empty_pool))
        assert info.value.status_code == 409
        assert info.value.error.code == "JobExists"


def test_update_job_patches_only_what_is_given(client: Any, uid: Any, empty_pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(
        job_options(
            job_id,
            empty_pool,
            priority=1,
            metadata=[m.BatchMetadataItem(name="a", value="1")],
            constraints=m.BatchJobConstraints(max_task_retry_count=3),
        )
    )
    cleanup("job", job_id)

    status, _ = client.update_job(job_id, m.BatchJobUpdateOptions(priority=500, max_parallel_tasks=4), cls=_status)
    assert status == 200
    job = client.get_job(job_id)
    assert job.priority == 500
    assert job.max_parallel_tasks == 4
    assert [(i.name, i.value) for i in job.metadata] == [("a", "1")]
    assert job.constraints.max_task_retry_count == 3
    assert job.pool_info.pool_id == empty_pool


def test_replace_job_resets_what_is_left_out(client: Any, uid: Any, empty_pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(
        job_options(
            job_id,
            empty_pool,
            priority=7,
            metadata=[m.BatchMetadataItem(name="a", value="1")],
            constraints=m.BatchJobConstraints(max_task_retry_count=3),
        )
    )
    cleanup("job", job_id)

    status, _ = client.replace_job(
        job_id, m.BatchJob(pool_info=m.BatchPoolInfo(pool_id=empty_pool), priority=-5), cls=_status
    )
    assert status == 200
    job = client.get_job(job_id)
    assert job.priority == -5
    assert not job.metadata
    assert job.constraints.max_task_retry_count == 0
    assert job.pool_info.pool_id == empty_pool


def test_priority_out_of_range_is_invalid_property_value(client: Any, uid: Any, empty_pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    with pytest.raises(HttpResponseError) as info:
        client.create_job(job_options(job_id, empty_pool, priority=1001))
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidPropertyValue"
    assert {d.code: d.message for d in info.value.error.details}.get("PropertyName") == "priority"
    with pytest.raises(ResourceNotFoundError):
        client.get_job(job_id)

    client.create_job(job_options(job_id, empty_pool, priority=-1000))
    cleanup("job", job_id)
    with pytest.raises(HttpResponseError) as info:
        client.update_job(job_id, m.BatchJobUpdateOptions(priority=-1001))
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidPropertyValue"
    assert client.get_job(job_id).priority == -1000


def _disable_with_running_task(client: Any, uid: Any, pool: str, cleanup: Any) -> str:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "sleep 2"))
    wait_task(client, job_id, "t1", "running")
    client.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=POLL).result()
    return job_id


def test_disable_with_requeue_requeues_running_tasks_and_runs_nothing(
    client: Any, uid: Any, pool: str, cleanup: Any
) -> None:
    job_id = _disable_with_running_task(client, uid, pool, cleanup)
    job = client.get_job(job_id)
    assert job.state == "disabled"
    task = client.get_task(job_id, "t1")
    assert task.state == "active"
    assert task.execution_info.requeue_count == 1
    # A disabled job runs nothing, old or new.
    client.create_task(job_id, task_options("t2", "/bin/true"))
    time.sleep(0.5)
    assert {t.id: t.state for t in client.list_tasks(job_id)} == {"t1": "active", "t2": "active"}
    node = next(iter(client.list_nodes(pool)))
    assert node.running_tasks_count == 0


def test_enable_after_disable_runs_the_tasks(client: Any, uid: Any, pool: str, cleanup: Any) -> None:
    job_id = _disable_with_running_task(client, uid, pool, cleanup)
    client.create_task(job_id, task_options("t2", "/bin/true"))
    client.begin_enable_job(job_id, polling_interval=POLL).result()
    assert client.get_job(job_id).state == "active"
    for task_id in ("t1", "t2"):
        task = wait_task(client, job_id, task_id, "completed")
        assert task.execution_info.result == "success"
    assert client.get_task(job_id, "t1").execution_info.requeue_count == 1


def test_terminate_job_completes_it_and_ends_running_tasks(client: Any, uid: Any, pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "sleep 30"))
    wait_task(client, job_id, "t1", "running")

    started = time.monotonic()
    client.begin_terminate_job(
        job_id, BatchJobTerminateOptions(termination_reason="enough"), polling_interval=POLL
    ).result()
    job = client.get_job(job_id)
    assert job.state == "completed"
    assert job.execution_info.termination_reason == "enough"
    assert job.execution_info.end_time is not None
    task = wait_task(client, job_id, "t1", "completed", timeout=10)
    assert time.monotonic() - started < 10
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "TaskEnded"
    node = next(iter(client.list_nodes(pool)))
    wait_for(lambda: client.get_node(pool, node.id).running_tasks_count == 0, timeout=5)
    # A completed job takes no more tasks.
    with pytest.raises(HttpResponseError) as info:
        client.create_task(job_id, task_options("t2", "/bin/true"))
    assert info.value.status_code == 409


def test_delete_job_removes_it_and_stops_its_tasks(client: Any, uid: Any, pool: str) -> None:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool))
    client.create_task(job_id, task_options("t1", "sleep 30"))
    task = wait_task(client, job_id, "t1", "running")

    client.begin_delete_job(job_id, polling_interval=POLL).result()
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_job(job_id)
    assert info.value.error.code == "JobNotFound"
    assert job_id not in {j.id for j in client.list_jobs()}
    with pytest.raises(ResourceNotFoundError):
        client.get_task(job_id, "t1")
    node_id = task.node_info.node_id
    node = wait_for(lambda: (n := client.get_node(pool, node_id)).running_tasks_count == 0 and n, timeout=5)
    assert node.state == "idle"


def test_task_counts_after_tasks_finish(client: Any, uid: Any, pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    tasks = [task_options(f"ok{i}", "/bin/true") for i in range(3)]
    tasks += [task_options(f"bad{i}", "/bin/false") for i in range(2)]
    tasks += [task_options("big", "/bin/true", required_slots=2)]
    client.create_tasks(job_id, tasks)
    wait_for(lambda: all(t.state == "completed" for t in client.list_tasks(job_id)))

    counts = client.get_job_task_counts(job_id)
    c = counts.task_counts
    assert (c.active, c.running, c.completed, c.succeeded, c.failed) == (0, 0, 6, 4, 2)
    s = counts.task_slot_counts
    assert (s.active, s.running, s.completed, s.succeeded, s.failed) == (0, 0, 7, 5, 2)


def test_task_counts_while_tasks_wait_and_run(client: Any, uid: Any, pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", "sleep 2") for i in range(3)])
    wait_for(lambda: sum(t.state == "running" for t in client.list_tasks(job_id)) == 2)
    c = client.get_job_task_counts(job_id).task_counts
    assert (c.active, c.running, c.completed) == (1, 2, 0)


def test_on_all_tasks_complete_terminatejob_completes_the_job_after_its_tasks(
    client: Any, uid: Any, pool: str, cleanup: Any
) -> None:
    job_id = uid("job")
    # As the docs advise: add the tasks with noaction, then switch to terminatejob.
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", "sleep 1") for i in range(2)])
    client.update_job(job_id, m.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
    job = client.get_job(job_id)
    assert job.all_tasks_complete_mode == "terminatejob"
    assert job.state == "active"  # its tasks are still running

    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "AllTasksComplete"
    tasks = list(client.list_tasks(job_id))
    assert all(t.state == "completed" and t.execution_info.result == "success" for t in tasks)
    last_end = max(t.execution_info.end_time for t in tasks)
    assert job.execution_info.end_time >= last_end - dt.timedelta(milliseconds=1)


def test_on_all_tasks_complete_terminatejob_on_create_with_no_tasks_completes_at_once(
    client: Any, uid: Any, empty_pool: str, cleanup: Any
) -> None:
    # Documented: "if a Job contains no Tasks, then all Tasks are considered complete".
    job_id = uid("job")
    client.create_job(job_options(job_id, empty_pool, all_tasks_complete_mode="terminatejob"))
    cleanup("job", job_id)
    job = wait_job(client, job_id, "completed", timeout=5)
    assert job.execution_info.termination_reason == "AllTasksComplete"


def test_job_on_a_pool_created_later_runs_its_tasks_then(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("late"), uid("job")
    client.create_job(job_options(job_id, pool_id))  # the pool does not exist yet: allowed
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "/bin/true"))
    time.sleep(0.2)
    assert client.get_task(job_id, "t1").state == "active"
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    task = wait_task(client, job_id, "t1", "completed")
    assert task.execution_info.result == "success"
    assert task.node_info.pool_id == pool_id


def test_max_parallel_tasks_bounds_a_job(client: Any, uid: Any, pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(job_options(job_id, pool, max_parallel_tasks=1))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", "sleep 0.5") for i in range(2)])
    tasks = wait_for(lambda: (ts := list(client.list_tasks(job_id))) and all(t.state == "completed" for t in ts) and ts)
    a, b = sorted(tasks, key=lambda t: t.execution_info.start_time)
    assert a.execution_info.end_time <= b.execution_info.start_time  # one at a time, on a 2-slot node


def test_job_max_wall_clock_time_terminates_the_job(client: Any, uid: Any, pool: str, cleanup: Any) -> None:
    job_id = uid("job")
    client.create_job(
        job_options(job_id, pool, constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(seconds=1)))
    )
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "sleep 30"))
    job = wait_job(client, job_id, "completed", timeout=6)
    assert job.execution_info.termination_reason == "MaxWallClockTimeExpiry"
    task = wait_task(client, job_id, "t1", "completed", timeout=5)
    assert task.execution_info.result == "failure"
