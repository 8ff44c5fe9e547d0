"""Spot (low-priority) preemption, auto pools and task retention through azure-batch 15.1.0.

Preemption needs servers of their own: one with `--preemption-recovery 1` (a preempted node comes back
after a second) for preemption on demand (`batchite preempt`, or a signed POST to the admin endpoint);
one with a global `--preemption-rate` (and `--time-scale 10`: a node is checked every 10 s of service
time, a wall second here); one with `--time-scale 10` and no global rate, for the per-pool metadata rate
and for task retention (a second of service time is a tenth of a wall second). Auto pools run on the
shared server.

Short-lived states (a node `preempted` for a second) are caught by a `Watch`: a thread with a client of
its own that records every distinct value a probe returns."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported by azure-batch 15.1.0
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import POLL, Cleanup, Raw, error_of, make_pool, wait_job, wait_node, wait_nodes, wait_task
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e

RATE = "36000"  # per node per hour: at a check every 10 s of service time, certain (36000 * 10 / 3600 > 1)


# -- servers and clients ----------------------------------------------------------------------------


def _server(factory: pytest.TempPathFactory, name: str, *args: str) -> Iterator[ChildServer]:
    child = start_child_server(factory.mktemp(name), extra_args=list(args))
    yield child
    child.stop()


@pytest.fixture(scope="module")
def spot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    yield from _server(tmp_path_factory, "batchite-spot", "--preemption-recovery", "1")


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    args = ("--preemption-rate", RATE, "--preemption-seed", "7", "--time-scale", "10")
    yield from _server(tmp_path_factory, "batchite-rated", *args)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    yield from _server(tmp_path_factory, "batchite-scaled", "--time-scale", "10")


@pytest.fixture
def connect() -> Iterator[Callable[[ChildServer], tuple[Any, Cleanup]]]:
    """A client of a given server, and a cleanup for what the test creates there."""
    opened: list[tuple[Any, Cleanup]] = []

    def open_(child: ChildServer) -> tuple[Any, Cleanup]:
        client = make_client(child.endpoint)
        opened.append((client, Cleanup(client)))
        return opened[-1]

    yield open_
    for client, cleanup in opened:
        cleanup.run()
        client.close()


@pytest.fixture
def cleanup(client: Any) -> Iterator[Cleanup]:
    c = Cleanup(client)
    yield c
    c.run()


class Watch:
    """Records, from a thread with a client of its own, every distinct value probe(client) returns."""

    def __init__(self, endpoint: str, probe: Callable[[Any], Any], interval: float = 0.02) -> None:
        self.client = make_client(endpoint)
        self.probe = probe
        self.interval = interval
        self.seen: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = self.probe(self.client)
            except HttpResponseError as error:  # recorded, so that a failing test shows it
                value = f"error {error.status_code}"
            if not self.seen or self.seen[-1] != value:
                self.seen.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()


def spot_pool(client: Any, pool_id: str, cleanup: Cleanup, dedicated: int = 0, wait: bool = True, **extra: Any) -> str:
    client.create_pool(pool_options(pool_id, dedicated=dedicated, target_low_priority_nodes=1, **extra))
    cleanup("pool", pool_id)
    if wait:
        wait_nodes(client, pool_id, dedicated + 1)
    return pool_id


def node_of(client: Any, pool_id: str, dedicated: bool) -> Any:
    return wait_for(lambda: next((n for n in client.list_nodes(pool_id) if n.is_dedicated is dedicated), None))


def sleeping_task(client: Any, cleanup: Cleanup, pool_id: str, job_id: str) -> Any:
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t", "sleep 3"))
    return wait_task(client, job_id, "t", "running")


def node_and_task(pool_id: str, node_id: str, job_id: str) -> Callable[[Any], tuple[str, str, int]]:
    def probe(c: Any) -> tuple[str, str, int]:
        task = c.get_task(job_id, "t")
        return c.get_node(pool_id, node_id).state, task.state, task.execution_info.requeue_count

    return probe


def survived_preemption(client: Any, pool_id: str, node_id: str, job_id: str, watch: Watch) -> None:
    """The node went preempted with the task back in active (requeued once); then the node came back
    and the task ran again to success."""
    task = wait_task(client, job_id, "t", timeout=20)
    assert ("preempted", "active", 1) in watch.seen, watch.seen
    after = watch.seen[watch.seen.index(("preempted", "active", 1)) :]
    assert ("running", "running", 1) in after, watch.seen
    assert task.execution_info.result == "success"
    assert task.execution_info.requeue_count == 1
    assert task.node_info.node_id == node_id
    wait_node(client, pool_id, node_id, "idle")


# -- preemption on demand ---------------------------------------------------------------------------


def test_preempt_with_the_cli_requeues_the_running_task(spot: ChildServer, connect: Any, uid: Any) -> None:
    client, cleanup = connect(spot)
    pool_id, job_id = spot_pool(client, uid("clipool"), cleanup), uid("clijob")
    node = node_of(client, pool_id, dedicated=False)
    assert sleeping_task(client, cleanup, pool_id, job_id).node_info.node_id == node.id

    with Watch(spot.endpoint, node_and_task(pool_id, node.id, job_id)) as watch:
        cli = [sys.executable, "-m", "batchite.cli.main", "preempt", pool_id, "--endpoint", spot.endpoint]
        out = subprocess.run(cli, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "300"})
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Preempted 1 node(s)" in out.stdout and node.id in out.stdout, out.stdout
        survived_preemption(client, pool_id, node.id, job_id, watch)


def test_preempt_with_a_signed_post_requeues_the_running_task(spot: ChildServer, connect: Any, uid: Any) -> None:
    client, cleanup = connect(spot)
    pool_id, job_id = spot_pool(client, uid("rawpool"), cleanup), uid("rawjob")
    node = node_of(client, pool_id, dedicated=False)
    sleeping_task(client, cleanup, pool_id, job_id)

    raw = Raw(spot.endpoint)
    try:
        with Watch(spot.endpoint, node_and_task(pool_id, node.id, job_id)) as watch:
            response = raw.request("POST", f"/_batchite/admin/pools/{pool_id}/preempt", body={"nodeIds": [node.id]})
            assert response.status_code == 200, response.text
            assert response.json() == {"preemptedNodeIds": [node.id]}
            survived_preemption(client, pool_id, node.id, job_id, watch)
    finally:
        raw.close()


def test_preempting_a_dedicated_node_is_409(spot: ChildServer, connect: Any, uid: Any) -> None:
    client, cleanup = connect(spot)
    pool_id = spot_pool(client, uid("mixpool"), cleanup, dedicated=1)
    dedicated, low = node_of(client, pool_id, dedicated=True), node_of(client, pool_id, dedicated=False)
    raw = Raw(spot.endpoint)
    try:
        path = f"/_batchite/admin/pools/{pool_id}/preempt"
        response = raw.request("POST", path, body={"nodeIds": [dedicated.id]})
        assert response.status_code == 409, response.text
        code, values = error_of(response)
        assert code == "NodeIsDedicated"
        assert values.get("NodeId") == dedicated.id
        assert client.get_node(pool_id, dedicated.id).state == "idle"
        response = raw.request("POST", path)  # no node named: every low-priority node, and only those
        assert response.status_code == 200, response.text
        assert response.json() == {"preemptedNodeIds": [low.id]}
        assert client.get_node(pool_id, dedicated.id).state == "idle"
    finally:
        raw.close()


# -- preemption by rate -----------------------------------------------------------------------------


def test_preemption_rate_takes_low_priority_nodes_and_never_dedicated_ones(
    rated: ChildServer, connect: Any, uid: Any
) -> None:
    client, cleanup = connect(rated)
    pool_id = spot_pool(client, uid("ratepool"), cleanup, dedicated=1, wait=False)
    dedicated, low = node_of(client, pool_id, dedicated=True), node_of(client, pool_id, dedicated=False)

    def probe(c: Any) -> tuple[str, str]:
        return c.get_node(pool_id, dedicated.id).state, c.get_node(pool_id, low.id).state

    with Watch(rated.endpoint, probe) as watch:
        wait_node(client, pool_id, low.id, "preempted", timeout=10)  # no request: the policy did it
        wait_node(client, pool_id, dedicated.id, "idle")
        time.sleep(2.2)  # two more checks of the policy (a wall second each) while the watch looks on
    assert all(ded != "preempted" for ded, _ in watch.seen), watch.seen
    assert any(lp == "preempted" for _, lp in watch.seen), watch.seen


def test_pool_metadata_rate_preempts_only_that_pools_nodes(scaled: ChildServer, connect: Any, uid: Any) -> None:
    client, cleanup = connect(scaled)
    rate = [m.BatchMetadataItem(name="batchite.preemptionRate", value=RATE)]
    hot = spot_pool(client, uid("hotpool"), cleanup, wait=False, metadata=rate)
    calm = spot_pool(client, uid("calmpool"), cleanup, wait=False)
    hot_node, calm_node = node_of(client, hot, dedicated=False), node_of(client, calm, dedicated=False)

    with Watch(scaled.endpoint, lambda c: c.get_node(calm, calm_node.id).state) as watch:
        wait_node(client, hot, hot_node.id, "preempted", timeout=10)
        wait_node(client, calm, calm_node.id, "idle")
        time.sleep(2.2)  # two more checks of the policy
    assert "preempted" not in watch.seen, watch.seen
    assert client.get_node(calm, calm_node.id).state == "idle"


# -- task retention ---------------------------------------------------------------------------------


def test_retention_time_removes_the_task_files_but_keeps_the_task(scaled: ChildServer, connect: Any, uid: Any) -> None:
    client, cleanup = connect(scaled)
    pool_id = make_pool(client, uid("retpool"), cleanup, dedicated=1, slots=2)
    job_id = uid("retjob")
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    short = m.BatchTaskConstraints(retention_time=dt.timedelta(seconds=1))
    client.create_task(job_id, task_options("kept", "echo kept"))  # default retention: 7 days
    client.create_task(job_id, task_options("gone", "echo gone", constraints=short))
    assert wait_task(client, job_id, "kept").execution_info.exit_code == 0
    assert wait_task(client, job_id, "gone").execution_info.exit_code == 0

    def files_gone() -> bool:
        try:
            b"".join(client.download_task_file(job_id, "gone", "stdout.txt"))
        except ResourceNotFoundError:
            return True
        return False

    wait_for(files_gone, timeout=10, interval=0.05)
    try:
        listed = [f.name for f in client.list_task_files(job_id, "gone", recursive=True)]
    except HttpResponseError as error:
        assert error.status_code == 404
    else:
        assert listed == []
    with pytest.raises(ResourceNotFoundError):
        client.get_task_file_properties(job_id, "gone", "stdout.txt")
    task = client.get_task(job_id, "gone")  # the record stays
    assert task.state == "completed" and task.execution_info.exit_code == 0
    assert task.constraints.retention_time == dt.timedelta(seconds=1)
    assert b"".join(client.download_task_file(job_id, "kept", "stdout.txt")) == b"kept\n"


# -- auto pools ---------------------------------------------------------------------------------------


def auto_pool(keep_alive: bool | None = None, pool_id: str | None = None) -> m.BatchPoolInfo:
    spec = pool_options("unused", dedicated=1)
    pool = m.BatchPoolSpecification(
        vm_size=spec.vm_size,
        virtual_machine_configuration=spec.virtual_machine_configuration,
        target_dedicated_nodes=1,
        task_slots_per_node=1,
    )
    auto = m.BatchAutoPoolSpecification(
        auto_pool_id_prefix="ap", pool_lifetime_option="job", keep_alive=keep_alive, pool=pool
    )
    return m.BatchPoolInfo(pool_id=pool_id, auto_pool_specification=auto)


def auto_job(client: Any, uid: Any, cleanup: Cleanup, keep_alive: bool | None = None) -> tuple[str, str]:
    """A job on an auto pool whose task ran there; (job id, auto pool id)."""
    job_id = uid("apjob")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=auto_pool(keep_alive)))
    cleanup("job", job_id)
    pool_id = client.get_job(job_id).execution_info.pool_id
    assert pool_id is not None and pool_id.startswith("ap_"), pool_id
    cleanup("pool", pool_id)  # runs first: a kept-alive pool must not outlive the test
    assert client.get_pool(pool_id).id == pool_id
    client.create_task(job_id, task_options("t", "/bin/sh -c 'echo $AZ_BATCH_POOL_ID'"))
    task = wait_task(client, job_id, "t")
    assert task.execution_info.exit_code == 0
    assert task.node_info.pool_id == pool_id
    assert b"".join(client.download_task_file(job_id, "t", "stdout.txt")).decode().strip() == pool_id
    return job_id, pool_id


def pool_gone(client: Any, pool_id: str) -> bool:
    """(pool_exists raises ResourceNotFoundError rather than answering False: azure-batch 15.1.0's error policy.)"""
    try:
        client.get_pool(pool_id)
    except ResourceNotFoundError:
        return True
    return False


def test_auto_pool_goes_away_when_its_job_is_terminated(client: Any, uid: Any, cleanup: Cleanup) -> None:
    job_id, pool_id = auto_job(client, uid, cleanup)
    client.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="done"), polling_interval=POLL)
    wait_job(client, job_id, "completed")
    wait_for(lambda: pool_gone(client, pool_id), timeout=20)


def test_auto_pool_goes_away_when_its_job_is_deleted(client: Any, uid: Any, cleanup: Cleanup) -> None:
    job_id, pool_id = auto_job(client, uid, cleanup)
    client.begin_delete_job(job_id, polling_interval=POLL).result()
    wait_for(lambda: pool_gone(client, pool_id), timeout=20)


def test_auto_pool_with_keep_alive_outlives_its_job(client: Any, uid: Any, cleanup: Cleanup) -> None:
    job_id, pool_id = auto_job(client, uid, cleanup, keep_alive=True)
    client.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="done"), polling_interval=POLL)
    wait_job(client, job_id, "completed")
    for _ in range(5):
        assert client.get_pool(pool_id).state == "active"
        time.sleep(0.1)
    assert [n.state for n in client.list_nodes(pool_id)] == ["idle"]


def test_pool_id_and_auto_pool_specification_together_are_400(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = make_pool(client, uid("bothpool"), cleanup, dedicated=0)
    job_id = uid("bothjob")
    auto_pools = {p.id for p in client.list_pools() if p.id.startswith("ap_")}
    with pytest.raises(HttpResponseError) as info:
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=auto_pool(pool_id=pool_id)))
    assert info.value.status_code == 400
    assert info.value.error is not None
    assert info.value.error.code == "InvalidPropertyValue"
    assert {p.id for p in client.list_pools() if p.id.startswith("ap_")} <= auto_pools  # no pool was made
    with pytest.raises(ResourceNotFoundError):
        client.get_job(job_id)
