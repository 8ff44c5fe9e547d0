"""Bugs of azure-cli 2.91.0 (`az batch`) where Batchite answers correctly. Each test asserts the az
failure as it is today, then checks Batchite's answer to the same request with the azure-batch
15.1.0 SDK, and where az has a workaround, that it works. docs/compatibility.md lists them (written
by tools/compat_matrix.py). When a newer azure-cli fixes one, its test fails here: update the list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.batch import models as m
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError

from tests.cli.conftest import Az, ok
from tests.e2e.helpers import make_pool, wait_task
from tests.sdk import job_options, task_options

# az's transformer calls .items() on the raw response these two commands return (a HEAD has no body)
SHOW_CRASH = "'RestRequestsTransportResponse' object has no attribute 'items'"


@pytest.fixture
def ran(client: Any, cleanup: Callable[[str, str], None], uid: Callable[[str], str]) -> tuple[str, str, str]:
    """(pool, node, job) where task t1 has run and written 'hello' to stdout."""
    pool, job = uid("azbugs"), uid("azbugsjob")
    make_pool(client, pool, cleanup)
    client.create_job(job_options(job, pool))
    cleanup("job", job)
    client.create_task(job, task_options("t1", "/bin/sh -c 'echo hello'"))
    node = wait_task(client, job, "t1").node_info.node_id
    return pool, node, job


def test_task_file_show_crashes_inside_az(az: Az, client: Any, ran: tuple[str, str, str]) -> None:
    _, _, job = ran
    shown = az("batch", "task", "file", "show", "--job-id", job, "--task-id", "t1", "--file-path", "stdout.txt")
    assert shown.returncode == 1
    assert "The command failed with an unexpected error" in shown.stderr and SHOW_CRASH in shown.stderr
    props = client.get_task_file_properties(job, "t1", "stdout.txt")
    assert props.content_length == len(b"hello\n") and props.is_directory is False
    # workaround: the file list carries the same properties
    listed = ok(az("batch", "task", "file", "list", "--job-id", job, "--task-id", "t1"))
    assert {f["name"]: f["properties"]["contentLength"] for f in listed}["stdout.txt"] in (6, "6")


def test_node_file_show_crashes_inside_az(az: Az, client: Any, ran: tuple[str, str, str]) -> None:
    pool, node, job = ran
    path = f"workitems/{job}/job-1/t1/stdout.txt"
    shown = az("batch", "node", "file", "show", "--pool-id", pool, "--node-id", node, "--file-path", path)
    assert shown.returncode == 1 and SHOW_CRASH in shown.stderr
    assert client.get_node_file_properties(pool, node, path).content_length == len(b"hello\n")
    listed = ok(az("batch", "node", "file", "list", "--pool-id", pool, "--node-id", node, "--recursive"))
    assert path in {f["name"] for f in listed}


def test_node_scheduling_disable_option_is_sent_nested(az: Az, client: Any, ran: tuple[str, str, str]) -> None:
    pool, node, _ = ran
    target = ["--pool-id", pool, "--node-id", node]
    disabled = az(
        "batch", "node", "scheduling", "disable", *target, "--node-disable-scheduling-option", "taskcompletion"
    )
    # az wraps the option in an object of its own: Batchite names the property and the value it got
    assert disabled.returncode == 1
    assert "(InvalidPropertyValue)" in disabled.stderr
    assert 'PropertyValue: {"nodeDisableSchedulingOption":"taskcompletion"}' in disabled.stderr
    assert client.get_node(pool, node).scheduling_state == "enabled"
    # workaround: without the option (the service's default, requeue) az sends no body and it works
    assert ok(az("batch", "node", "scheduling", "disable", *target)) is None
    assert client.get_node(pool, node).scheduling_state == "disabled"
    client.enable_node_scheduling(pool, node)
    client.disable_node_scheduling(
        pool, node, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="taskcompletion")
    )
    assert client.get_node(pool, node).scheduling_state == "disabled"


def test_pool_resize_if_match_sends_no_header(az: Az, client: Any, ran: tuple[str, str, str]) -> None:
    pool, _, _ = ran
    stale = '"0x8D0000000000000"'
    resized = az("batch", "pool", "resize", "--pool-id", pool, "--target-dedicated-nodes", "2", "--if-match", stale)
    assert resized.returncode == 0  # the resize went through although the ETag does not match
    assert client.get_pool(pool).target_dedicated_nodes == 2
    with pytest.raises(ResourceModifiedError) as caught:
        client.begin_resize_pool(
            pool,
            m.BatchPoolResizeOptions(target_dedicated_nodes=1),
            etag=stale,
            match_condition=MatchConditions.IfNotModified,
        ).result()
    assert caught.value.status_code == 412 and caught.value.error is not None
    assert caught.value.error.code == "ConditionNotMet"
    # workaround: --if-unmodified-since reaches the service
    guarded = az("batch", "pool", "resize", "--pool-id", pool, "--target-dedicated-nodes", "1",
                 "--if-unmodified-since", "2000-01-01T00:00:00Z")  # fmt: skip
    assert guarded.returncode == 1 and "(ConditionNotMet)" in guarded.stderr


def test_a_304_is_shown_as_an_error(az: Az, client: Any, ran: tuple[str, str, str]) -> None:
    pool, _, _ = ran
    etag = client.get_pool(pool).etag
    shown = az("batch", "pool", "show", "--pool-id", pool, "--if-none-match", etag)
    assert shown.returncode == 1
    assert "Operation returned an invalid status 'Not Modified'" in shown.stderr
    # Batchite answers 304 with no body, as Batch does; the SDK too raises on it (its way of saying so)
    with pytest.raises(HttpResponseError) as caught:
        client.get_pool(pool, etag=etag, match_condition=MatchConditions.IfModified)
    assert caught.value.status_code == 304 and caught.value.response is not None
    assert caught.value.response.text() == ""
    # the same condition when the pool has changed: az shows the pool
    assert ok(az("batch", "pool", "show", "--pool-id", pool, "--if-none-match", '"0x8D0000000000000"'))["id"] == pool
