"""Pools through azure-batch 15.1.0: create, list (paged), get, exists, update, replace, resize, stop, delete."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

POLL = 0.1


def _status(response: Any, _deserialized: Any, headers: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response.http_response.status_code, headers


def wait_steady(client: Any, pool_id: str, nodes: int, timeout: float = 20.0) -> Any:
    """The pool is steady with `nodes` dedicated nodes, every one of them idle."""

    def probe() -> Any:
        pool = client.get_pool(pool_id)
        if pool.allocation_state != "steady" or pool.current_dedicated_nodes != nodes:
            return None
        listed = list(client.list_nodes(pool_id))
        if len(listed) != nodes or any(n.state != "idle" for n in listed):
            return None
        return pool

    return wait_for(probe, timeout=timeout)


def wait_task(client: Any, job_id: str, task_id: str, state: str, timeout: float = 20.0) -> Any:
    return wait_for(lambda: (t := client.get_task(job_id, task_id)).state == state and t, timeout=timeout)


def test_create_pool_returns_201_and_pool_becomes_active_and_steady_with_idle_nodes(
    client: Any, uid: Any, cleanup: Any
) -> None:
    pool_id = uid("pool")
    status, headers = client.create_pool(pool_options(pool_id, dedicated=2), cls=_status)
    cleanup("pool", pool_id)
    assert status == 201
    assert headers["ETag"]
    assert headers["DataServiceId"].endswith(f"/pools/{pool_id}")

    pool = wait_steady(client, pool_id, 2)
    assert pool.id == pool_id
    assert pool.vm_size.lower() == "standard_d2s_v3"
    assert pool.state == "active"
    assert pool.allocation_state == "steady"
    assert pool.target_dedicated_nodes == 2
    assert pool.current_dedicated_nodes == 2
    assert pool.current_low_priority_nodes == 0
    assert pool.task_slots_per_node == 1
    assert pool.virtual_machine_configuration.node_agent_sku_id == "batch.node.ubuntu 22.04"
    assert pool.virtual_machine_configuration.image_reference.offer == "0001-com-ubuntu-server-jammy"
    assert pool.creation_time is not None
    assert pool.url.endswith(f"/pools/{pool_id}")
    nodes = list(client.list_nodes(pool_id))
    assert len({n.id for n in nodes}) == 2
    assert all(n.state == "idle" and n.is_dedicated for n in nodes)


def test_list_pools_follows_next_link_one_pool_per_page(client: Any, uid: Any, cleanup: Any) -> None:
    ids = [uid(f"lp{i}") for i in range(3)]
    for pool_id in ids:
        client.create_pool(pool_options(pool_id, dedicated=0))
        cleanup("pool", pool_id)

    pages = [list(page) for page in client.list_pools(max_results=1).by_page()]
    assert len(pages) >= 3
    assert all(len(page) == 1 for page in pages), [len(p) for p in pages]
    listed = [page[0].id for page in pages]
    assert len(listed) == len(set(listed)), "a page repeated a pool"
    positions = [listed.index(pool_id) for pool_id in ids]
    assert positions == sorted(positions), "pools are listed in creation order"
    # The plain iterator yields the same pools, following odata.nextLink itself.
    assert [p.id for p in client.list_pools(max_results=1) if p.id in ids] == ids


def test_get_pool_and_pool_exists(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("pool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)

    assert client.get_pool(pool_id).id == pool_id
    assert client.get_pool(pool_id.upper()).id == pool_id  # ids are case-insensitive, case-preserving
    assert client.pool_exists(pool_id) is True
    # azure-batch 15.1.0 raises on the 404 of HEAD instead of returning False (SDK behaviour).
    with pytest.raises(ResourceNotFoundError) as info:
        client.pool_exists(uid("missing"))
    assert info.value.status_code == 404
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_pool(uid("missing"))
    assert info.value.error.code == "PoolNotFound"


def test_update_pool_patches_metadata_and_keeps_the_rest(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("pool")
    client.create_pool(pool_options(pool_id, dedicated=0, metadata=[m.BatchMetadataItem(name="keep", value="me")]))
    cleanup("pool", pool_id)
    before = client.get_pool(pool_id)

    status, headers = client.update_pool(
        pool_id, m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="owner", value="tests")]), cls=_status
    )
    assert status == 200
    pool = client.get_pool(pool_id)
    assert [(i.name, i.value) for i in pool.metadata] == [("owner", "tests")]
    assert pool.etag != before.etag
    assert headers["ETag"] == pool.etag
    assert pool.vm_size == before.vm_size
    assert pool.target_dedicated_nodes == before.target_dedicated_nodes
    assert pool.task_slots_per_node == before.task_slots_per_node

    # A PATCH without metadata leaves the metadata alone.
    client.update_pool(pool_id, m.BatchPoolUpdateOptions(display_name="renamed"))
    pool = client.get_pool(pool_id)
    assert pool.display_name == "renamed"
    assert [(i.name, i.value) for i in pool.metadata] == [("owner", "tests")]


def test_replace_pool_properties_replaces_start_task_and_metadata(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("pool")
    client.create_pool(pool_options(pool_id, dedicated=0, metadata=[m.BatchMetadataItem(name="old", value="1")]))
    cleanup("pool", pool_id)

    status, _ = client.replace_pool_properties(
        pool_id,
        m.BatchPoolReplaceOptions(
            start_task=m.BatchStartTask(command_line="/bin/true"),
            application_package_references=[],
            metadata=[m.BatchMetadataItem(name="new", value="2")],
        ),
        cls=_status,
    )
    assert status == 204
    pool = client.get_pool(pool_id)
    assert [(i.name, i.value) for i in pool.metadata] == [("new", "2")]
    assert pool.start_task is not None
    assert pool.start_task.command_line == "/bin/true"

    # Replace is total: what is left out is removed.
    client.replace_pool_properties(pool_id, m.BatchPoolReplaceOptions(application_package_references=[], metadata=[]))
    pool = client.get_pool(pool_id)
    assert pool.start_task is None
    assert not pool.metadata


def test_resize_pool_up_and_down(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("pool")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    wait_steady(client, pool_id, 1)

    client.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=3), polling_interval=POLL
    ).result()
    pool = wait_steady(client, pool_id, 3)
    assert pool.target_dedicated_nodes == 3

    client.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1), polling_interval=POLL
    ).result()
    pool = client.get_pool(pool_id)
    assert pool.allocation_state == "steady"
    assert pool.target_dedicated_nodes == 1
    assert pool.current_dedicated_nodes == 1
    assert len(list(client.list_nodes(pool_id))) == 1


def test_resize_down_with_taskcompletion_lets_the_running_task_finish(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    wait_steady(client, pool_id, 1)
    client.create_task(job_id, task_options("t1", "sleep 2"))
    wait_task(client, job_id, "t1", "running")

    poller = client.begin_resize_pool(
        pool_id,
        m.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="taskcompletion"),
        polling_interval=POLL,
    )
    # The node waits for its task: still there, still running it.
    time.sleep(0.3)
    assert client.get_task(job_id, "t1").state == "running"
    assert len(list(client.list_nodes(pool_id))) == 1
    assert client.get_pool(pool_id).allocation_state == "resizing"
    poller.result()

    task = client.get_task(job_id, "t1")
    assert task.state == "completed"
    assert task.execution_info.result == "success"
    assert task.execution_info.exit_code == 0
    assert task.execution_info.requeue_count == 0
    pool = client.get_pool(pool_id)
    assert pool.allocation_state == "steady"
    assert pool.current_dedicated_nodes == 0
    assert list(client.list_nodes(pool_id)) == []


def test_resize_down_with_requeue_requeues_the_running_task_which_runs_again(
    client: Any, uid: Any, cleanup: Any
) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    wait_steady(client, pool_id, 1)
    client.create_task(job_id, task_options("t1", "sleep 2"))
    first = wait_task(client, job_id, "t1", "running")

    client.begin_resize_pool(
        pool_id,
        m.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="requeue"),
        polling_interval=POLL,
    ).result()
    task = client.get_task(job_id, "t1")
    assert task.state == "active"
    assert task.execution_info.requeue_count == 1
    assert task.execution_info.last_requeue_time is not None
    assert client.get_pool(pool_id).current_dedicated_nodes == 0

    client.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1), polling_interval=POLL
    ).result()
    task = wait_task(client, job_id, "t1", "completed")
    assert task.execution_info.result == "success"
    assert task.execution_info.exit_code == 0
    assert task.execution_info.requeue_count == 1
    assert task.execution_info.start_time > first.execution_info.start_time
    assert task.node_info.node_id != first.node_info.node_id  # the first node left the pool


def test_stop_pool_resize_keeps_the_pool_where_it_is(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    wait_steady(client, pool_id, 1)
    client.create_task(job_id, task_options("t1", "sleep 2"))
    wait_task(client, job_id, "t1", "running")

    # A shrink that waits for the task, then stopped: the node stays.
    client.begin_resize_pool(
        pool_id,
        m.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="taskcompletion"),
        polling_interval=POLL,
    )
    assert client.get_pool(pool_id).allocation_state == "resizing"
    client.begin_stop_pool_resize(pool_id, polling_interval=POLL).result()
    pool = client.get_pool(pool_id)
    assert pool.allocation_state == "steady"
    assert pool.current_dedicated_nodes == 1

    task = wait_task(client, job_id, "t1", "completed")
    assert task.execution_info.result == "success"
    time.sleep(0.3)
    pool = client.get_pool(pool_id)
    assert pool.allocation_state == "steady"
    assert pool.current_dedicated_nodes == 1
    nodes = list(client.list_nodes(pool_id))
    assert len(nodes) == 1
    assert nodes[0].state == "idle"


def test_delete_pool_then_get_is_pool_not_found(client: Any, uid: Any) -> None:
    pool_id = uid("pool")
    client.create_pool(pool_options(pool_id, dedicated=1))
    wait_steady(client, pool_id, 1)

    client.begin_delete_pool(pool_id, polling_interval=POLL).result()
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_pool(pool_id)
    assert info.value.status_code == 404
    assert info.value.error.code == "PoolNotFound"
    assert pool_id not in {p.id for p in client.list_pools()}
    with pytest.raises(ResourceNotFoundError) as info:
        list(client.list_nodes(pool_id))
    assert info.value.error.code == "PoolNotFound"


def test_pool_id_differing_only_in_case_is_pool_exists(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("CasePool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)

    with pytest.raises(ResourceExistsError) as info:
        client.create_pool(pool_options(pool_id.lower(), dedicated=0))
    assert info.value.status_code == 409
    assert info.value.error.code == "PoolExists"
    assert [p.id for p in client.list_pools() if p.id.lower() == pool_id.lower()] == [pool_id]


def test_unknown_vm_size_is_rejected_naming_vm_size(client: Any, uid: Any) -> None:
    pool_id = uid("pool")
    options = pool_options(pool_id, dedicated=0)
    options.vm_size = "Standard_Imaginary_v99"
    with pytest.raises(HttpResponseError) as info:
        client.create_pool(options)
    assert info.value.status_code == 400
    details = {d.code: d.message for d in info.value.error.details or []}
    assert details.get("PropertyName") == "vmSize", details
    with pytest.raises(ResourceNotFoundError):
        client.get_pool(pool_id)


def test_list_supported_images(client: Any) -> None:
    images = list(client.list_supported_images())
    assert images
    jammy = [
        i
        for i in images
        if i.node_agent_sku_id == "batch.node.ubuntu 22.04"
        and i.image_reference.publisher == "canonical"
        and i.image_reference.offer == "0001-com-ubuntu-server-jammy"
    ]
    assert jammy, [(i.node_agent_sku_id, i.image_reference.offer) for i in images]
    assert all(i.os_type == "linux" and i.verification_type for i in images)
    # Paging through the images one by one gives the same list.
    assert [i.node_agent_sku_id for i in client.list_supported_images(max_results=1)] == [
        i.node_agent_sku_id for i in images
    ]


def test_list_pool_node_counts(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=2))
    cleanup("pool", pool_id)
    wait_steady(client, pool_id, 2)

    counts = {c.pool_id: c for c in client.list_pool_node_counts()}
    mine = counts[pool_id]
    assert mine.dedicated.idle == 2
    assert mine.dedicated.total == 2
    assert mine.dedicated.running == 0
    assert mine.low_priority.total == 0

    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "sleep 2"))
    wait_task(client, job_id, "t1", "running")
    mine = {c.pool_id: c for c in client.list_pool_node_counts()}[pool_id]
    assert mine.dedicated.running == 1
    assert mine.dedicated.idle == 1
    assert mine.dedicated.total == 2


def test_resize_down_with_terminate_ends_the_running_task(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    wait_steady(client, pool_id, 1)
    client.create_task(job_id, task_options("t1", "sleep 30"))
    wait_task(client, job_id, "t1", "running")

    client.begin_resize_pool(
        pool_id,
        m.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="terminate"),
        polling_interval=POLL,
    ).result()
    task = client.get_task(job_id, "t1")
    assert task.state == "completed"
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "TaskEnded"
    assert task.execution_info.requeue_count == 0
    assert client.get_pool(pool_id).current_dedicated_nodes == 0


def test_resize_while_resizing_is_a_conflict(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    wait_steady(client, pool_id, 1)
    client.create_task(job_id, task_options("t1", "sleep 1"))
    wait_task(client, job_id, "t1", "running")
    client.begin_resize_pool(
        pool_id,
        m.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="taskcompletion"),
        polling_interval=POLL,
    )
    with pytest.raises(HttpResponseError) as info:
        client.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=2), polling_interval=POLL)
    assert info.value.status_code == 409
    assert client.get_pool(pool_id).target_dedicated_nodes == 0
    wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady", timeout=10)
    assert client.get_pool(pool_id).current_dedicated_nodes == 0


def test_task_slots_per_node_above_four_times_the_cores_is_rejected(client: Any, uid: Any) -> None:
    pool_id = uid("pool")
    with pytest.raises(HttpResponseError) as info:
        client.create_pool(pool_options(pool_id, dedicated=0, slots=9))  # standard_d2s_v3: 2 cores -> at most 8
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidPropertyValue"
    assert {d.code: d.message for d in info.value.error.details}.get("PropertyName") == "taskSlotsPerNode"
    with pytest.raises(ResourceNotFoundError):
        client.get_pool(pool_id)


def test_a_failing_start_task_with_wait_for_success_leaves_the_node_start_task_failed(
    client: Any, uid: Any, cleanup: Any
) -> None:
    pool_id = uid("pool")
    client.create_pool(
        pool_options(
            pool_id, dedicated=1, start_task=m.BatchStartTask(command_line="/bin/false", wait_for_success=True)
        )
    )
    cleanup("pool", pool_id)
    node = wait_for(
        lambda: [n for n in client.list_nodes(pool_id) if n.state in ("idle", "starttaskfailed")], timeout=10
    )[0]
    assert node.state == "starttaskfailed"
    assert node.start_task_info is not None
    assert node.start_task_info.exit_code == 1
