"""Node operations and account-level reads through azure-batch 15.1.0: reboot, reimage, deallocate/start,
scheduling, node users, remote login, extensions, log upload, remove nodes, usage metrics, applications,
job preparation status, subtasks, $filter, maxresults, conditional headers and api-version checks."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.batch import models as m

# Not exported by azure-batch 15.1.0. Its begin_reboot/reimage/deallocate_node and disable_node_scheduling
# fail client-side ("No value for given attribute": content-type None) when called without options
# or with empty (falsy) options, so every call below names the option.
from azure.batch.models._models import (
    BatchNodeDeallocateOptions,
    BatchNodeRebootOptions,
    BatchNodeReimageOptions,
)
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import wait_for
from tests.e2e.helpers import (
    POLL,
    Cleanup,
    Raw,
    error_of,
    make_pool,
    wait_node,
    wait_task,
)
from tests.sdk import job_options, pool_options, task_options


@pytest.fixture
def cleanup(client: Any) -> Iterator[Cleanup]:
    c = Cleanup(client)
    yield c
    c.run()


@pytest.fixture
def pool1(client: Any, uid: Any, cleanup: Any) -> tuple[str, str]:
    """A pool of one idle node x 1 slot; returns (pool id, node id)."""
    pool_id = make_pool(client, uid("npool"), cleanup, dedicated=1)
    return pool_id, next(iter(client.list_nodes(pool_id))).id


@pytest.fixture
def raw(endpoint: str) -> Iterator[Raw]:
    r = Raw(endpoint)
    yield r
    r.close()


def new_job(client: Any, uid: Any, cleanup: Any, pool_id: str) -> str:
    job_id = uid("njob")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    return job_id


def http_error(call: Any, kind: type[HttpResponseError] = HttpResponseError) -> HttpResponseError:
    with pytest.raises(kind) as info:
        call()
    return info.value


# -- reboot, reimage, deallocate, start ------------------------------------------------------------


@pytest.mark.parametrize("action", ["reboot", "reimage"])
def test_reboot_or_reimage_requeues_the_running_task_and_the_node_comes_back_idle(
    client: Any, uid: Any, cleanup: Any, pool1: tuple[str, str], action: str
) -> None:
    pool_id, node_id = pool1
    booted = client.get_node(pool_id, node_id).last_boot_time
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", "sleep 0.8"))
    wait_task(client, job_id, "t", "running")
    time.sleep(0.05)
    if action == "reboot":
        client.begin_reboot_node(
            pool_id, node_id, BatchNodeRebootOptions(node_reboot_kind="requeue"), polling_interval=POLL
        ).result()
    else:
        client.begin_reimage_node(
            pool_id, node_id, BatchNodeReimageOptions(node_reimage_option="requeue"), polling_interval=POLL
        ).result()

    task = wait_task(client, job_id, "t")  # requeued, then run again on the rebooted node
    assert task.execution_info.requeue_count == 1
    assert task.execution_info.result == "success"
    assert task.node_info.node_id == node_id
    node = wait_node(client, pool_id, node_id, "idle")
    assert node.last_boot_time > booted


def test_reboot_without_a_body_requeues_the_running_task(
    client: Any, uid: Any, cleanup: Any, raw: Raw, pool1: tuple[str, str]
) -> None:
    """The default nodeRebootOption is requeue (as older clients send it: no body at all)."""
    pool_id, node_id = pool1
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", "sleep 0.8"))
    wait_task(client, job_id, "t", "running")
    response = raw.request("POST", f"/pools/{pool_id}/nodes/{node_id}/reboot")
    assert response.status_code == 202, response.text
    task = wait_task(client, job_id, "t")
    assert task.execution_info.requeue_count == 1
    assert task.execution_info.result == "success"
    wait_node(client, pool_id, node_id, "idle")


def test_reboot_with_terminate_option_ends_the_running_task(
    client: Any, uid: Any, cleanup: Any, pool1: tuple[str, str]
) -> None:
    pool_id, node_id = pool1
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", "sleep 30"))
    wait_task(client, job_id, "t", "running")
    client.begin_reboot_node(
        pool_id, node_id, BatchNodeRebootOptions(node_reboot_kind="terminate"), polling_interval=POLL
    ).result()
    task = wait_task(client, job_id, "t")
    assert task.execution_info.result == "failure"
    assert task.execution_info.requeue_count == 0
    wait_node(client, pool_id, node_id, "idle")


def test_deallocate_then_start_node(client: Any, uid: Any, cleanup: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    client.begin_deallocate_node(
        pool_id, node_id, BatchNodeDeallocateOptions(node_deallocate_option="requeue"), polling_interval=POLL
    ).result()
    assert wait_node(client, pool_id, node_id, "deallocated")
    # A deallocated node takes no work.
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", "/bin/true"))
    time.sleep(0.5)
    assert client.get_task(job_id, "t").state == "active"

    client.begin_start_node(pool_id, node_id, polling_interval=POLL).result()
    task = wait_task(client, job_id, "t")
    assert task.node_info.node_id == node_id
    assert task.execution_info.result == "success"
    wait_node(client, pool_id, node_id, "idle")


def test_start_node_that_is_not_deallocated_is_a_conflict(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    err = http_error(lambda: client.begin_start_node(pool_id, node_id, polling_interval=POLL), ResourceExistsError)
    assert err.status_code == 409


# -- scheduling ---------------------------------------------------------------------------------------


def test_disable_node_scheduling_keeps_new_tasks_off_the_node_until_enabled(
    client: Any, uid: Any, cleanup: Any
) -> None:
    pool_id = make_pool(client, uid("sched"), cleanup, dedicated=2)
    off, on = sorted(n.id for n in client.list_nodes(pool_id))
    client.disable_node_scheduling(
        pool_id, off, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="requeue")
    )
    assert client.get_node(pool_id, off).scheduling_state == "disabled"
    assert client.get_node(pool_id, on).scheduling_state == "enabled"

    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task_collection(
        job_id, m.BatchTaskGroup(task_values=[task_options(f"t{i}", "sleep 0.1") for i in range(4)])
    )
    tasks = wait_for(lambda: (ts := list(client.list_tasks(job_id))) and all(t.state == "completed" for t in ts) and ts)
    assert {t.node_info.node_id for t in tasks} == {on}

    client.enable_node_scheduling(pool_id, off)
    assert client.get_node(pool_id, off).scheduling_state == "enabled"
    client.create_task_collection(
        job_id, m.BatchTaskGroup(task_values=[task_options(f"u{i}", "sleep 1") for i in range(2)])
    )
    running = wait_for(
        lambda: (
            len(rs := [t for t in client.list_tasks(job_id) if t.id.startswith("u") and t.state == "running"]) == 2
            and rs
        )
    )
    assert {t.node_info.node_id for t in running} == {off, on}


def test_disable_scheduling_with_taskcompletion_lets_the_running_task_finish(
    client: Any, uid: Any, cleanup: Any, pool1: tuple[str, str]
) -> None:
    pool_id, node_id = pool1
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", "sleep 0.5"))
    wait_task(client, job_id, "t", "running")
    client.disable_node_scheduling(
        pool_id, node_id, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="taskcompletion")
    )
    assert client.get_node(pool_id, node_id).scheduling_state == "disabled"
    task = wait_task(client, job_id, "t")
    assert (task.execution_info.result, task.execution_info.requeue_count) == ("success", 0)
    client.create_task(job_id, task_options("next", "/bin/true"))
    time.sleep(0.4)
    assert client.get_task(job_id, "next").state == "active"  # the only node takes nothing new
    client.enable_node_scheduling(pool_id, node_id)
    assert wait_task(client, job_id, "next").node_info.node_id == node_id


# -- node users ---------------------------------------------------------------------------------------


def test_node_users_create_replace_delete(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    client.create_node_user(
        pool_id, node_id, m.BatchNodeUserCreateOptions(name="alice", password="Secret-1", expiry_time=expiry)
    )
    dup = http_error(
        lambda: client.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(name="alice", password="x")),
        ResourceExistsError,
    )
    assert dup.status_code == 409

    client.replace_node_user(pool_id, node_id, "alice", m.BatchNodeUserReplaceOptions(password="Secret-2"))
    missing = http_error(
        lambda: client.replace_node_user(pool_id, node_id, "bob", m.BatchNodeUserReplaceOptions(password="p")),
        ResourceNotFoundError,
    )
    assert missing.status_code == 404

    client.delete_node_user(pool_id, node_id, "alice")
    gone = http_error(lambda: client.delete_node_user(pool_id, node_id, "alice"), ResourceNotFoundError)
    assert gone.status_code == 404
    # Deleted for real: the name is free again.
    client.create_node_user(pool_id, node_id, m.BatchNodeUserCreateOptions(name="alice", password="Secret-3"))


def test_delete_unknown_node_user_is_404(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    err = http_error(lambda: client.delete_node_user(pool_id, node_id, "nobody"), ResourceNotFoundError)
    assert err.status_code == 404


def test_get_node_remote_login_settings(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    settings = client.get_node_remote_login_settings(pool_id, node_id)
    assert settings.remote_login_ip_address
    assert isinstance(settings.remote_login_port, int) and settings.remote_login_port > 0


# -- extensions and logs ------------------------------------------------------------------------------


def test_node_extensions_of_a_pool_created_with_a_vm_extension(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("extpool")
    options = pool_options(pool_id, dedicated=1)
    options.virtual_machine_configuration.extensions = [
        m.VMExtension(
            name="custom", publisher="Microsoft.Azure.Extensions", type="CustomScript", type_handler_version="2.1"
        )
    ]
    client.create_pool(options)
    cleanup("pool", pool_id)
    node = wait_for(lambda: [n for n in client.list_nodes(pool_id) if n.state == "idle"])[0]

    listed = list(client.list_node_extensions(pool_id, node.id))
    assert [e.vm_extension.name for e in listed] == ["custom"]
    ext = client.get_node_extension(pool_id, node.id, "custom")
    assert ext.vm_extension.publisher == "Microsoft.Azure.Extensions"
    assert ext.vm_extension.type == "CustomScript"
    assert ext.provisioning_state
    err = http_error(lambda: client.get_node_extension(pool_id, node.id, "nope"), ResourceNotFoundError)
    assert err.status_code == 404


def test_node_without_extensions_lists_none(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    assert list(client.list_node_extensions(pool_id, node_id)) == []


def test_upload_node_logs_returns_directory_and_file_count(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, node_id = pool1
    result = client.upload_node_logs(
        pool_id,
        node_id,
        m.UploadBatchServiceLogsOptions(
            container_url="http://127.0.0.1:9/devstoreaccount1/logs?sv=2023-01-03&sig=x",
            start_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        ),
    )
    assert result.virtual_directory_name
    assert pool_id in result.virtual_directory_name and node_id in result.virtual_directory_name
    assert isinstance(result.number_of_files_uploaded, int) and result.number_of_files_uploaded >= 1


# -- removing nodes, usage --------------------------------------------------------------------------


def test_remove_nodes_removes_the_node_and_lowers_the_target(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("rmpool"), cleanup, dedicated=2)
    victim, keeper = sorted(n.id for n in client.list_nodes(pool_id))
    client.begin_remove_nodes(pool_id, m.BatchNodeRemoveOptions(node_ids=[victim]), polling_interval=POLL).result()
    assert [n.id for n in client.list_nodes(pool_id)] == [keeper]
    pool = client.get_pool(pool_id)
    assert pool.target_dedicated_nodes == 1
    assert pool.current_dedicated_nodes == 1
    assert pool.allocation_state == "steady"
    assert http_error(lambda: client.get_node(pool_id, victim), ResourceNotFoundError).status_code == 404


def test_remove_a_node_running_a_task_requeues_it_onto_another_node(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("rqpool"), cleanup, dedicated=2)
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", "sleep 0.8"))
    victim = wait_task(client, job_id, "t", "running").node_info.node_id
    client.begin_remove_nodes(pool_id, m.BatchNodeRemoveOptions(node_ids=[victim]), polling_interval=POLL).result()
    task = wait_task(client, job_id, "t")
    assert task.execution_info.requeue_count == 1
    assert task.execution_info.result == "success"
    assert task.node_info.node_id != victim
    assert victim not in {n.id for n in client.list_nodes(pool_id)}


def test_list_pool_usage_metrics_shows_a_pool_with_nodes(client: Any, pool1: tuple[str, str]) -> None:
    pool_id, _ = pool1
    time.sleep(0.3)
    now = dt.datetime.now(dt.UTC)
    metrics = list(
        client.list_pool_usage_metrics(
            start_time=now - dt.timedelta(minutes=30), end_time=now + dt.timedelta(minutes=1)
        )
    )
    mine = [x for x in metrics if x.pool_id == pool_id]
    assert mine, [x.pool_id for x in metrics]
    assert any(x.total_core_hours > 0 for x in mine)
    for x in mine:
        assert x.vm_size.lower() == "standard_d2s_v3"
        assert x.start_time < x.end_time
        assert x.start_time <= now
    assert any(x.start_time <= now < x.end_time for x in mine)


# -- applications, preparation status, subtasks -------------------------------------------------


def test_list_applications_is_empty_and_get_is_application_not_found(client: Any) -> None:
    assert list(client.list_applications()) == []
    err = http_error(lambda: client.get_application("no-such-app"), ResourceNotFoundError)
    assert err.status_code == 404
    assert err.error.code == "ApplicationNotFound"


def test_preparation_status_of_a_job_without_preparation_task_is_409(
    client: Any, uid: Any, cleanup: Any, pool1: tuple[str, str]
) -> None:
    job_id = new_job(client, uid, cleanup, pool1[0])
    err = http_error(lambda: list(client.list_job_preparation_and_release_task_status(job_id)), ResourceExistsError)
    assert err.status_code == 409
    assert err.error.code == "JobPreparationTaskNotSpecified"


def test_list_subtasks_of_a_normal_task_is_empty(client: Any, uid: Any, cleanup: Any, pool1: tuple[str, str]) -> None:
    job_id = new_job(client, uid, cleanup, pool1[0])
    client.create_task(job_id, task_options("t", "/bin/true"))
    wait_task(client, job_id, "t")
    assert list(client.list_subtasks(job_id, "t")) == []


# -- $filter and maxresults ---------------------------------------------------------------------------


def test_filter_on_list_tasks(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("fpool"), cleanup, dedicated=1, slots=3)
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task_collection(
        job_id,
        m.BatchTaskGroup(
            task_values=[
                task_options("ok", "/bin/true"),
                task_options("bad", "/bin/sh -c 'exit 3'"),
                task_options("slow", "sleep 5"),
            ]
        ),
    )
    wait_task(client, job_id, "ok")
    wait_task(client, job_id, "bad")
    wait_task(client, job_id, "slow", "running")
    assert {t.id for t in client.list_tasks(job_id, filter="state eq 'completed'")} == {"ok", "bad"}
    assert {t.id for t in client.list_tasks(job_id, filter="state eq 'running'")} == {"slow"}
    assert {t.id for t in client.list_tasks(job_id, filter="executionInfo/exitCode eq 0")} == {"ok"}
    assert {t.id for t in client.list_tasks(job_id, filter="executionInfo/exitCode eq 3")} == {"bad"}


def test_startswith_filter_on_list_pools(client: Any, uid: Any, cleanup: Any) -> None:
    prefix = uid("swx")
    wanted = {f"{prefix}-1", f"{prefix}-2"}
    for pool_id in (*sorted(wanted), uid("swy")):
        client.create_pool(pool_options(pool_id, dedicated=0))
        cleanup("pool", pool_id)
    assert {p.id for p in client.list_pools(filter=f"startswith(id, '{prefix}')")} == wanted


def test_malformed_filter_is_invalid_query_parameter_value(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("mfpool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    job_id = new_job(client, uid, cleanup, pool_id)
    for bad in ("state eq", "state eq 'completed' and", "startswith(id 'x')"):
        err = http_error(lambda bad=bad: list(client.list_tasks(job_id, filter=bad)))
        assert err.status_code == 400, bad
        assert err.error.code == "InvalidQueryParameterValue", bad
    err = http_error(lambda: list(client.list_pools(filter="id eq")))
    assert (err.status_code, err.error.code) == (400, "InvalidQueryParameterValue")


@pytest.mark.parametrize("value", ["0", "1001", "-5"])
def test_maxresults_out_of_range_is_out_of_range_query_parameter_value(raw: Raw, value: str) -> None:
    response = raw.request("GET", "/pools", [("maxresults", value)])
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "OutOfRangeQueryParameterValue"
    assert values.get("QueryParameterName") == "maxresults"


def test_maxresults_at_the_limits_is_accepted(raw: Raw) -> None:
    for value in ("1", "1000"):
        response = raw.request("GET", "/pools", [("maxresults", value)])
        assert response.status_code == 200, response.text
        assert len(response.json()["value"]) <= int(value)


# -- conditional headers ------------------------------------------------------------------------------


def test_get_pool_with_if_none_match_of_the_current_etag_is_not_modified(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("cpool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    etag = client.get_pool(pool_id).etag
    err = http_error(
        lambda: client.get_pool(pool_id, etag=etag, match_condition=MatchConditions.IfModified), ResourceModifiedError
    )
    assert err.status_code == 304
    # A different etag: the pool is returned.
    assert client.get_pool(pool_id, etag='"0x1"', match_condition=MatchConditions.IfModified).id == pool_id


def test_get_pool_if_modified_since_a_later_time_is_not_modified(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("cpool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    modified = client.get_pool(pool_id).last_modified
    later = modified + dt.timedelta(minutes=5)
    err = http_error(lambda: client.get_pool(pool_id, if_modified_since=later), ResourceModifiedError)
    assert err.status_code == 304
    earlier = modified - dt.timedelta(minutes=5)
    assert client.get_pool(pool_id, if_modified_since=earlier).id == pool_id


def test_update_pool_with_a_stale_if_match_is_412_and_changes_nothing(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = uid("cpool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    stale = client.get_pool(pool_id).etag
    client.update_pool(pool_id, m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="v", value="1")]))
    fresh = client.get_pool(pool_id).etag
    assert fresh != stale
    err = http_error(
        lambda: client.update_pool(
            pool_id,
            m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="v", value="2")]),
            etag=stale,
            match_condition=MatchConditions.IfNotModified,
        ),
        ResourceModifiedError,
    )
    assert err.status_code == 412
    pool = client.get_pool(pool_id)
    assert [(i.name, i.value) for i in pool.metadata] == [("v", "1")]
    # The current etag passes.
    client.update_pool(
        pool_id,
        m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="v", value="3")]),
        etag=fresh,
        match_condition=MatchConditions.IfNotModified,
    )
    assert [(i.name, i.value) for i in client.get_pool(pool_id).metadata] == [("v", "3")]


# -- api-version ------------------------------------------------------------------------------------


def test_an_unknown_api_version_is_accepted_by_default(raw: Raw) -> None:
    response = raw.request("GET", "/pools", api_version="2099-01-01")
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["value"], list)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-strict"), extra_args=["--strict-api-version"])
    yield child
    child.stop()


def test_strict_api_version_rejects_an_unknown_version(strict_server: ChildServer) -> None:
    raw = Raw(strict_server.endpoint)
    try:
        response = raw.request("GET", "/pools", api_version="2099-01-01")
        assert response.status_code == 400, response.text
        code, values = error_of(response)
        assert code == "UnsupportedRequestVersion"
        assert values.get("QueryParameterValue") == "2099-01-01"
        # Known versions, old and new, still work.
        for version in ("2025-06-01", "2024-07-01.20.0"):
            assert raw.request("GET", "/pools", api_version=version).status_code == 200
    finally:
        raw.close()
