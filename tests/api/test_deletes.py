"""Deletes through azure-batch 15.1.0: a pool is `deleting` (allocation `resizing`) while its nodes
leave, a job is `deleting` while its tasks stop and its release tasks run; meanwhile what would
change them is 409 PoolBeingDeleted / JobBeingDeleted, and an auto pool's files can still be read
after its job completed. A new pool is `resizing` until its nodes are up.

A server of its own with `--node-release-time 3`: a deleted pool's node leaves 3 s after its work
stopped, a window wide enough to look at a pool being deleted without racing it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchNodeRebootOptions  # not exported by azure-batch 15.1.0
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import POLL, Cleanup, make_pool, wait_job, wait_task
from tests.sdk import job_options, pool_options, task_options

RELEASE = "3"


@pytest.fixture(scope="module")
def slow_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-release"), ["--node-release-time", RELEASE])
    yield child
    child.stop()


@pytest.fixture(scope="module")
def client(slow_release: ChildServer) -> Iterator[Any]:
    c = make_client(slow_release.endpoint)
    yield c
    c.close()


@pytest.fixture
def cleanup(client: Any) -> Iterator[Cleanup]:
    c = Cleanup(client)
    yield c
    c.run()


def code_of(call: Any) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as info:
        call()
    assert info.value.error is not None
    return info.value.status_code, info.value.error.code


def gone(get: Any) -> bool:
    try:
        get()
    except ResourceNotFoundError:
        return True
    return False


def test_a_deleted_pool_is_deleting_with_its_nodes_leaving_then_not_found(client: Any, uid: Any) -> None:
    pool_id = make_pool(client, uid("delpool"), lambda *_: None, dedicated=2)
    client.begin_delete_pool(pool_id, polling_interval=POLL)  # 202; the poller is not waited for
    pool = client.get_pool(pool_id)
    assert pool.state == "deleting"
    assert pool.allocation_state == "resizing"
    assert pool.state_transition_time >= pool.creation_time
    assert [n.state for n in client.list_nodes(pool_id)] == ["leavingpool", "leavingpool"]
    assert pool_id in {p.id for p in client.list_pools()}
    wait_for(lambda: gone(lambda: client.get_pool(pool_id)), timeout=30)
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_pool(pool_id)
    assert info.value.error is not None and info.value.error.code == "PoolNotFound"


def test_changing_a_pool_being_deleted_is_pool_being_deleted(client: Any, uid: Any) -> None:
    pool_id = make_pool(client, uid("busypool"), lambda *_: None, dedicated=1)
    (node,) = client.list_nodes(pool_id)
    client.begin_delete_pool(pool_id, polling_interval=POLL)
    conflict = (409, "PoolBeingDeleted")
    resize = m.BatchPoolResizeOptions(target_dedicated_nodes=2, resize_timeout=dt.timedelta(minutes=5))
    assert code_of(lambda: client.begin_resize_pool(pool_id, resize, polling_interval=POLL)) == conflict
    update = m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="k", value="v")])
    assert code_of(lambda: client.update_pool(pool_id, update)) == conflict
    autoscale = m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 1;")
    assert code_of(lambda: client.enable_pool_auto_scale(pool_id, autoscale)) == conflict
    reboot = BatchNodeRebootOptions(node_reboot_kind="requeue")
    assert code_of(lambda: client.begin_reboot_node(pool_id, node.id, reboot, polling_interval=POLL)) == conflict
    user = m.BatchNodeUserCreateOptions(name="someone", password="Pa55word!")
    assert code_of(lambda: client.create_node_user(pool_id, node.id, user)) == conflict
    assert code_of(lambda: client.begin_delete_pool(pool_id, polling_interval=POLL)) == conflict  # again
    assert code_of(lambda: client.create_pool(pool_options(pool_id, dedicated=0))) == conflict  # its id
    assert client.get_node(pool_id, node.id).state == "leavingpool"  # reads still answer
    wait_for(lambda: gone(lambda: client.get_pool(pool_id)), timeout=30)
    client.create_pool(pool_options(pool_id, dedicated=0))  # the id is free again
    client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def test_a_running_task_of_a_deleted_pool_is_requeued(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = make_pool(client, uid("rqpool"), lambda *_: None, dedicated=1)
    job_id = uid("rqjob")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("long", "sleep 60"))
    wait_task(client, job_id, "long", "running")
    client.begin_delete_pool(pool_id, polling_interval=POLL).result()  # waits until 404
    task = client.get_task(job_id, "long")
    assert task.state == "active"
    assert task.execution_info.requeue_count == 1


def test_adding_a_task_to_a_job_being_deleted_is_job_being_deleted(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = make_pool(client, uid("jdpool"), cleanup, dedicated=1)
    job_id = uid("jdjob")
    release = m.BatchJobReleaseTask(command_line="sleep 3")  # the job is deleting while it runs
    prep = m.BatchJobPreparationTask(command_line="/bin/true")
    client.create_job(job_options(job_id, pool_id, job_preparation_task=prep, job_release_task=release))
    client.create_task(job_id, task_options("long", "sleep 60"))
    wait_task(client, job_id, "long", "running")
    client.begin_delete_job(job_id, polling_interval=POLL)
    assert client.get_job(job_id).state == "deleting"
    conflict = (409, "JobBeingDeleted")
    assert code_of(lambda: client.create_task(job_id, task_options("late", "/bin/true"))) == conflict
    assert code_of(lambda: client.update_job(job_id, m.BatchJobUpdateOptions(priority=5))) == conflict
    assert code_of(lambda: client.terminate_task(job_id, "long")) == conflict
    assert code_of(lambda: client.delete_task(job_id, "long")) == conflict
    assert client.get_task(job_id, "long").id == "long"  # reads still answer
    assert code_of(lambda: client.begin_delete_job(job_id, polling_interval=POLL)) == conflict  # again
    assert code_of(lambda: client.create_job(job_options(job_id, pool_id))) == conflict  # its id
    wait_for(lambda: gone(lambda: client.get_job(job_id)), timeout=30)
    client.create_job(job_options(job_id, pool_id))  # the id is free again
    client.begin_delete_job(job_id, polling_interval=POLL).result()


def test_the_job_manager_output_of_an_auto_pool_is_read_after_its_job_completed(client: Any, uid: Any) -> None:
    spec = pool_options("unused", dedicated=1)
    pool = m.BatchPoolSpecification(
        vm_size=spec.vm_size, virtual_machine_configuration=spec.virtual_machine_configuration, target_dedicated_nodes=1
    )
    auto = m.BatchAutoPoolSpecification(auto_pool_id_prefix="jm", pool_lifetime_option="job", pool=pool)
    manager = m.BatchJobManagerTask(id="manager", command_line="/bin/sh -c 'echo managed $AZ_BATCH_POOL_ID'")
    job_id = uid("jmjob")
    client.create_job(
        m.BatchJobCreateOptions(
            id=job_id, pool_info=m.BatchPoolInfo(auto_pool_specification=auto), job_manager_task=manager
        )
    )
    pool_id = client.get_job(job_id).execution_info.pool_id
    job = wait_job(client, job_id, "completed", timeout=30)
    assert job.execution_info.termination_reason == "JMComplete"
    assert client.get_pool(pool_id).state == "deleting"  # the auto pool goes with its job...
    out = b"".join(client.download_task_file(job_id, "manager", "stdout.txt")).decode()
    assert out == f"managed {pool_id}\n"  # ...but its node's files are there until it has left
    assert client.get_pool(pool_id).state == "deleting"
    wait_for(lambda: gone(lambda: client.get_pool(pool_id)), timeout=30)
    client.begin_delete_job(job_id, polling_interval=POLL).result()


def test_a_new_pool_is_resizing_until_its_nodes_are_up_then_steady(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = uid("rzpool")
    client.create_pool(pool_options(pool_id, dedicated=2))
    cleanup("pool", pool_id)
    pool = client.get_pool(pool_id)
    assert pool.allocation_state == "resizing"
    steady = wait_for(lambda: (p := client.get_pool(pool_id)).allocation_state == "steady" and p)
    assert steady.current_dedicated_nodes == 2
    assert steady.allocation_state_transition_time >= pool.allocation_state_transition_time
    assert [n.state for n in client.list_nodes(pool_id)] == ["idle", "idle"]
    empty = uid("rzempty")
    client.create_pool(pool_options(empty, dedicated=0))
    cleanup("pool", empty)
    assert client.get_pool(empty).allocation_state == "steady"  # nothing to allocate: steady at once


def test_a_deleted_job_schedule_is_deleting_until_its_jobs_are_gone(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = make_pool(client, uid("jspool"), cleanup, dedicated=1)
    schedule_id = uid("jsdel")
    release = m.BatchJobReleaseTask(command_line="sleep 3")  # its job is deleting while this runs
    prep = m.BatchJobPreparationTask(command_line="/bin/true")
    spec = m.BatchJobSpecification(
        pool_info=m.BatchPoolInfo(pool_id=pool_id), job_preparation_task=prep, job_release_task=release
    )
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=schedule_id, schedule=m.BatchJobScheduleConfiguration(), job_specification=spec
        )
    )
    job_id = wait_for(lambda: client.get_job_schedule(schedule_id).execution_info.recent_job).id
    client.create_task(job_id, task_options("long", "sleep 60"))
    wait_task(client, job_id, "long", "running")
    client.begin_delete_job_schedule(schedule_id, polling_interval=POLL)  # 202; not waited for
    assert client.get_job_schedule(schedule_id).state == "deleting"
    assert client.get_job(job_id).state == "deleting"
    conflict = (409, "JobScheduleBeingDeleted")
    assert code_of(lambda: client.begin_delete_job_schedule(schedule_id, polling_interval=POLL)) == conflict
    created = m.BatchJobScheduleCreateOptions(
        id=schedule_id, schedule=m.BatchJobScheduleConfiguration(), job_specification=spec
    )
    assert code_of(lambda: client.create_job_schedule(created)) == conflict
    wait_for(lambda: gone(lambda: client.get_job(job_id)), timeout=30)
    wait_for(lambda: gone(lambda: client.get_job_schedule(schedule_id)), timeout=30)
