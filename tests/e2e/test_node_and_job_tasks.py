"""Job manager, job preparation and release, multi-instance tasks and allowTaskPreemption through
azure-batch 15.1.0, on the shared server.

Every test checks an effect: when tasks ran (execution_info start/end), on which node, what a task
printed (its stdout.txt), what a node-level task left in $AZ_BATCH_NODE_SHARED_DIR, what state the job
or task ends up in."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions, BatchNodeRebootOptions  # not exported by 15.1.0
from azure.core.exceptions import HttpResponseError

from tests.conftest import wait_for
from tests.e2e.helpers import POLL, Cleanup, all_completed, make_pool, span, stays, wait_job, wait_node, wait_task
from tests.sdk import job_options, task_options

pytestmark = pytest.mark.e2e


@pytest.fixture
def cleanup(client: Any) -> Iterator[Cleanup]:
    c = Cleanup(client)
    yield c
    c.run()


def new_job(client: Any, uid: Any, cleanup: Cleanup, pool_id: str, prefix: str = "job", **extra: Any) -> str:
    job_id = uid(prefix)
    client.create_job(job_options(job_id, pool_id, **extra))
    cleanup("job", job_id)
    return job_id


def add(client: Any, job_id: str, *tasks: m.BatchTaskCreateOptions) -> None:
    result = client.create_task_collection(job_id, m.BatchTaskGroup(task_values=list(tasks)))
    assert all(r.status == "success" for r in result.result_values), [r.error for r in result.result_values]


def stdout(client: Any, job_id: str, task_id: str) -> str:
    return b"".join(client.download_task_file(job_id, task_id, "stdout.txt")).decode()


def sh(script: str) -> str:
    """A command line running `script` in /bin/sh (command lines run without a shell)."""
    assert "'" not in script
    return f"/bin/sh -c '{script}'"


# -- job manager task ---------------------------------------------------------------------------


def test_job_manager_completion_ends_the_job_with_jm_complete(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool = make_pool(client, uid("jmpool"), cleanup, dedicated=1, slots=1)
    manager = m.BatchJobManagerTask(id="manager", command_line="sleep 1")
    job_id = new_job(client, uid, cleanup, pool, job_manager_task=manager)
    client.create_task(job_id, task_options("other", "/bin/true"))
    assert [t.id for t in client.list_tasks(job_id)] == ["manager", "other"]  # the job's first task

    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "JMComplete"
    done = client.get_task(job_id, "manager")
    assert done.state == "completed"
    assert done.execution_info.result == "success"
    assert job.execution_info.end_time >= done.execution_info.end_time
    other = client.get_task(job_id, "other")  # never ran: still active in the completed job
    assert other.state == "active"
    assert other.execution_info is None or other.execution_info.start_time is None
    stays(lambda: client.get_task(job_id, "other").state == "active", 0.3)


def test_job_manager_runs_first_and_exclusive_on_its_node(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool = make_pool(client, uid("jxpool"), cleanup, dedicated=1, slots=2)
    manager = m.BatchJobManagerTask(id="manager", command_line="sleep 1", kill_job_on_completion=False)
    job_id = new_job(client, uid, cleanup, pool, job_manager_task=manager)
    add(client, job_id, task_options("a", "sleep 0.2"), task_options("b", "sleep 0.2"))

    tasks = wait_for(lambda: all_completed(client, job_id, 3))
    jm_start, jm_end = span(tasks["manager"])
    for tid in ("a", "b"):  # two free slots, yet neither ran beside the exclusive manager
        start, _ = span(tasks[tid])
        assert start >= jm_end, (tid, start, jm_end)
        assert tasks[tid].node_info.node_id == tasks["manager"].node_info.node_id
    assert span(tasks["a"])[0] < span(tasks["b"])[1] and span(tasks["b"])[0] < span(tasks["a"])[1]  # side by side
    assert jm_end - jm_start >= dt.timedelta(seconds=0.9)
    assert client.get_job(job_id).state == "active"  # killJobOnCompletion false


def test_job_manager_not_exclusive_shares_its_node_and_the_job_stays_active(
    client: Any, uid: Any, cleanup: Cleanup
) -> None:
    pool = make_pool(client, uid("jspool"), cleanup, dedicated=1, slots=2)
    manager = m.BatchJobManagerTask(
        id="manager", command_line="sleep 2", kill_job_on_completion=False, run_exclusive=False
    )
    job_id = new_job(client, uid, cleanup, pool, job_manager_task=manager)
    client.create_task(job_id, task_options("beside", "sleep 0.2"))

    beside = wait_task(client, job_id, "beside")
    assert beside.execution_info.result == "success"
    assert client.get_task(job_id, "manager").state == "running"  # still: they ran side by side
    tasks = wait_for(lambda: all_completed(client, job_id, 2))
    jm_start, jm_end = span(tasks["manager"])
    b_start, b_end = span(tasks["beside"])
    assert jm_start <= b_start and b_end <= jm_end
    assert tasks["manager"].execution_info.result == "success"
    stays(lambda: client.get_job(job_id).state == "active", 0.5)
    assert client.get_job(job_id).execution_info.termination_reason is None


# -- job preparation and release tasks ------------------------------------------------------------


def test_preparation_runs_once_per_node_before_tasks_and_release_runs_at_terminate(
    client: Any, uid: Any, cleanup: Cleanup
) -> None:
    pool = make_pool(client, uid("prpool"), cleanup, dedicated=2, slots=1)
    job_id = uid("prjob")
    prep = sh(f"sleep 0.3; echo prepared-$AZ_BATCH_NODE_ID >> $AZ_BATCH_NODE_SHARED_DIR/{job_id}.prep")
    release = sh(f"sleep 1; echo released-$AZ_BATCH_NODE_ID > $AZ_BATCH_NODE_SHARED_DIR/{job_id}.release")
    client.create_job(
        job_options(
            job_id,
            pool,
            job_preparation_task=m.BatchJobPreparationTask(command_line=prep),
            job_release_task=m.BatchJobReleaseTask(command_line=release),
        )
    )
    cleanup("job", job_id)
    reader = sh(
        f"cat $AZ_BATCH_NODE_SHARED_DIR/{job_id}.prep && echo prepdir=$AZ_BATCH_JOB_PREP_WORKING_DIR; sleep 0.2"
    )
    add(client, job_id, *(task_options(f"t{i}", reader) for i in range(4)))

    tasks = wait_for(lambda: all_completed(client, job_id, 4))
    nodes = {n.id for n in client.list_nodes(pool)}
    assert {t.node_info.node_id for t in tasks.values()} == nodes
    for tid, task in tasks.items():
        assert task.execution_info.exit_code == 0, tid  # the file was there before the task started
        lines = stdout(client, job_id, tid).splitlines()
        # Written once per node (two tasks per node), by that node's preparation task.
        assert lines[0] == f"prepared-{task.node_info.node_id}", lines
        assert lines[1].startswith("prepdir=") and "jobpreparation" in lines[1], lines
        assert Path(lines[1].removeprefix("prepdir=")).is_dir()

    statuses = list(client.list_job_preparation_and_release_task_status(job_id))
    assert sorted(s.node_id for s in statuses) == sorted(nodes)
    for status in statuses:
        info = status.job_preparation_task_execution_info
        assert (info.state, info.result, info.exit_code) == ("completed", "success", 0)
        assert status.pool_id == pool
        assert status.job_release_task_execution_info is None

    # Without options the SDK fails to build the request (no content-type): give it a reason.
    terminate = BatchJobTerminateOptions(termination_reason="prep-done")
    poller = client.begin_terminate_job(job_id, terminate, polling_interval=POLL)
    assert client.get_job(job_id).state == "terminating"  # the release tasks take a second
    poller.result()
    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "prep-done"
    statuses = list(client.list_job_preparation_and_release_task_status(job_id))
    assert len(statuses) == 2
    for status in statuses:
        info = status.job_release_task_execution_info
        assert info is not None, status
        assert (info.state, info.result, info.exit_code) == ("completed", "success", 0)
        assert info.end_time <= job.state_transition_time
        released = b"".join(client.download_node_file(pool, status.node_id, f"shared/{job_id}.release"))
        assert released.decode().strip() == f"released-{status.node_id}"


def test_release_runs_on_a_node_rebooted_after_its_preparation_task(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool = make_pool(client, uid("rbpool"), cleanup, dedicated=1, slots=1)
    job_id = uid("rbjob")
    release = sh(f"echo released > $AZ_BATCH_NODE_SHARED_DIR/{job_id}.release")
    client.create_job(
        job_options(
            job_id,
            pool,
            job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
            job_release_task=m.BatchJobReleaseTask(command_line=release),
        )
    )
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t", "/bin/true"))
    task = wait_task(client, job_id, "t")
    node_id = task.node_info.node_id
    client.begin_reboot_node(
        pool, node_id, BatchNodeRebootOptions(node_reboot_kind="requeue"), polling_interval=POLL
    ).result()
    wait_node(client, pool, node_id, "idle")

    terminate = BatchJobTerminateOptions(termination_reason="after-reboot")
    client.begin_terminate_job(job_id, terminate, polling_interval=POLL).result()
    wait_job(client, job_id, "completed")
    [status] = list(client.list_job_preparation_and_release_task_status(job_id))
    info = status.job_release_task_execution_info
    assert info is not None, status
    assert (status.node_id, info.state, info.exit_code) == (node_id, "completed", 0)
    released = b"".join(client.download_node_file(pool, node_id, f"shared/{job_id}.release"))
    assert released.decode().strip() == "released"


def test_failed_preparation_with_wait_for_success_keeps_tasks_off_the_node(
    client: Any, uid: Any, cleanup: Cleanup
) -> None:
    pool = make_pool(client, uid("pfpool"), cleanup, dedicated=1, slots=1)
    prep = m.BatchJobPreparationTask(command_line=sh("exit 3"), wait_for_success=True)
    job_id = new_job(client, uid, cleanup, pool, job_preparation_task=prep)
    client.create_task(job_id, task_options("t", "/bin/true"))

    def prep_done() -> Any:
        statuses = list(client.list_job_preparation_and_release_task_status(job_id))
        info = statuses[0].job_preparation_task_execution_info if statuses else None
        return info if info is not None and info.state == "completed" else None

    info = wait_for(prep_done)
    assert (info.result, info.exit_code) == ("failure", 3)
    assert info.failure_info is not None
    stays(lambda: client.get_task(job_id, "t").state == "active", 1.0)
    counts = client.get_job_task_counts(job_id).task_counts
    assert (counts.active, counts.running, counts.completed) == (1, 0, 0)


def test_preparation_status_of_a_job_without_preparation_task_is_409(client: Any, uid: Any, cleanup: Cleanup) -> None:
    job_id = new_job(client, uid, cleanup, uid("nopool"))
    with pytest.raises(HttpResponseError) as info:
        list(client.list_job_preparation_and_release_task_status(job_id))
    assert info.value.status_code == 409
    assert info.value.error is not None
    assert info.value.error.code == "JobPreparationTaskNotSpecified"


# -- multi-instance tasks -------------------------------------------------------------------------


@pytest.fixture
def mpool(client: Any, uid: Any, cleanup: Cleanup) -> str:
    """Three nodes, one slot each, inter-node communication enabled."""
    return make_pool(client, uid("mipool"), cleanup, dedicated=3, slots=1, enable_inter_node_communication=True)


def multi(task_id: str, command_line: str, coordination: str, instances: int = 3) -> m.BatchTaskCreateOptions:
    settings = m.MultiInstanceSettings(number_of_instances=instances, coordination_command_line=coordination)
    return task_options(task_id, command_line, multi_instance_settings=settings)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every pool user may write, as a cluster's shared file system would be."""
    path = Path(tempfile.mkdtemp(prefix="batchite-shared-", dir="/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_multi_instance_coordinates_every_node_then_runs_the_primary(
    client: Any, uid: Any, cleanup: Cleanup, mpool: str, shared_dir: Path
) -> None:
    job_id = new_job(client, uid, cleanup, mpool)
    coordination = sh(
        f"echo $AZ_BATCH_NODE_ID >> {shared_dir}/coordinated.txt;"
        " echo coord-$AZ_BATCH_IS_CURRENT_NODE_MASTER > $AZ_BATCH_TASK_SHARED_DIR/coord.txt"
    )
    application = sh(
        "echo hosts=$AZ_BATCH_HOST_LIST; echo master=$AZ_BATCH_MASTER_NODE;"
        " echo is_master=$AZ_BATCH_IS_CURRENT_NODE_MASTER; cat $AZ_BATCH_TASK_SHARED_DIR/coord.txt;"
        f" sort {shared_dir}/coordinated.txt"
    )
    client.create_task(job_id, multi("mpi", application, coordination))

    task = wait_task(client, job_id, "mpi")
    assert (task.execution_info.result, task.execution_info.exit_code) == ("success", 0)
    primary = task.node_info.node_id
    lines = stdout(client, job_id, "mpi").splitlines()
    hosts = lines[0].removeprefix("hosts=").split(",")
    assert len(hosts) == 3 and len(set(hosts)) == 3, lines
    master_ip, _, port = lines[1].removeprefix("master=").partition(":")
    assert master_ip == client.get_node(mpool, primary).ip_address and port, lines
    assert master_ip in hosts
    assert lines[2] == "is_master=true"
    assert lines[3] == "coord-true"  # the primary's own coordination command wrote it
    nodes = {n.id for n in client.list_nodes(mpool)}
    assert set(lines[4:]) == nodes and len(lines[4:]) == 3, lines  # every coordination command had exited

    subtasks = list(client.list_subtasks(job_id, "mpi"))
    assert sorted(s.id for s in subtasks) == [1, 2]
    sub_nodes = {s.node_info.node_id for s in subtasks}
    assert len(sub_nodes) == 2 and primary not in sub_nodes
    assert sub_nodes | {primary} == nodes
    for sub in subtasks:
        assert (sub.state, sub.exit_code, sub.result) == ("completed", 0, "success"), sub


def test_multi_instance_failing_coordination_fails_the_task(
    client: Any, uid: Any, cleanup: Cleanup, mpool: str, shared_dir: Path
) -> None:
    job_id = new_job(client, uid, cleanup, mpool)
    coordination = sh('test "$AZ_BATCH_IS_CURRENT_NODE_MASTER" = true')  # fails on both subtask nodes
    client.create_task(job_id, multi("mpi", sh(f"touch {shared_dir}/application-ran"), coordination))

    task = wait_task(client, job_id, "mpi")
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info is not None
    assert not (shared_dir / "application-ran").exists()
    subtasks = list(client.list_subtasks(job_id, "mpi"))
    assert sorted(s.id for s in subtasks) == [1, 2]
    assert all(s.state == "completed" and s.exit_code == 1 and s.result == "failure" for s in subtasks), subtasks


def test_multi_instance_wider_than_the_pool_waits_without_blocking_others(
    client: Any, uid: Any, cleanup: Cleanup, mpool: str
) -> None:
    job_id = new_job(client, uid, cleanup, mpool)
    client.create_task(job_id, multi("wide", "/bin/true", "/bin/true", instances=4))
    client.create_task(job_id, task_options("after", "/bin/true"))

    assert wait_task(client, job_id, "after").execution_info.result == "success"
    stays(lambda: client.get_task(job_id, "wide").state == "active", 0.5)
    assert list(client.list_subtasks(job_id, "wide")) == []


# -- allowTaskPreemption ------------------------------------------------------------------------


def test_higher_priority_job_preempts_a_task_of_a_job_that_allows_it(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool = make_pool(client, uid("appool"), cleanup, dedicated=1, slots=1)
    low = new_job(client, uid, cleanup, pool, prefix="low", priority=-100, allow_task_preemption=True)
    client.create_task(low, task_options("long", "sleep 30"))
    first = wait_task(client, low, "long", "running")

    high = new_job(client, uid, cleanup, pool, prefix="high", priority=100)
    client.create_task(high, task_options("short", "sleep 0.3"))
    short = wait_task(client, high, "short")
    assert short.execution_info.result == "success"
    again = wait_task(client, low, "long", "running")  # requeued, and back once the slot is free
    assert again.execution_info.requeue_count == 1
    assert again.execution_info.start_time >= short.execution_info.end_time
    requeued = again.execution_info.last_requeue_time
    assert first.execution_info.start_time <= requeued <= short.execution_info.start_time


def test_higher_priority_job_waits_when_preemption_is_not_allowed(client: Any, uid: Any, cleanup: Cleanup) -> None:
    pool = make_pool(client, uid("nppool"), cleanup, dedicated=1, slots=1)
    low = new_job(client, uid, cleanup, pool, prefix="low", priority=-100)
    client.create_task(low, task_options("long", "sleep 30"))
    wait_task(client, low, "long", "running")

    high = new_job(client, uid, cleanup, pool, prefix="high", priority=100)
    client.create_task(high, task_options("short", "/bin/true"))
    stays(lambda: client.get_task(high, "short").state == "active", 1.0)
    long = client.get_task(low, "long")
    assert long.state == "running" and long.execution_info.requeue_count == 0
