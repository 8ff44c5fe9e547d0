"""Scheduling through azure-batch 15.1.0: task dependencies, exit conditions and job actions, job
priority, maxParallelTasks, node fill type, disabling a job, job wall clock, onAllTasksComplete.

Every test checks an effect: when tasks ran (execution_info start/end), on which node, what state
the job or task ends up in."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError

from tests.conftest import wait_for
from tests.e2e.helpers import POLL, Cleanup, all_completed, make_pool, span, stays, wait_job, wait_task
from tests.sdk import job_options, task_options

pytestmark = pytest.mark.e2e


@pytest.fixture
def cleanup(client: Any) -> Iterator[Cleanup]:
    c = Cleanup(client)
    yield c
    c.run()


@pytest.fixture
def pool(client: Any, uid: Any, cleanup: Any) -> str:
    """One node with 4 slots: enough room that only dependencies or limits serialize tasks."""
    return make_pool(client, uid("spool"), cleanup, dedicated=1, slots=4)


def new_job(client: Any, uid: Any, cleanup: Any, pool_id: str, prefix: str = "job", **extra: Any) -> str:
    job_id = uid(prefix)
    client.create_job(job_options(job_id, pool_id, **extra))
    cleanup("job", job_id)
    return job_id


def add(client: Any, job_id: str, *tasks: m.BatchTaskCreateOptions) -> None:
    result = client.create_task_collection(job_id, m.BatchTaskGroup(task_values=list(tasks)))
    assert all(r.status == "success" for r in result.result_values), [r.error for r in result.result_values]


def depends(*ids: str, ranges: tuple[tuple[int, int], ...] = ()) -> m.BatchTaskDependencies:
    return m.BatchTaskDependencies(
        task_ids=list(ids) or None,
        task_id_ranges=[m.BatchTaskIdRange(start=s, end=e) for s, e in ranges] or None,
    )


# -- task dependencies --------------------------------------------------------------------------


def test_chain_a_b_c_runs_in_order(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = new_job(client, uid, cleanup, pool, uses_task_dependencies=True)
    add(
        client,
        job_id,
        task_options("C", "sleep 0.2", depends_on=depends("B")),
        task_options("B", "sleep 0.2", depends_on=depends("A")),
        task_options("A", "sleep 0.3"),
    )
    tasks = wait_for(lambda: all_completed(client, job_id, 3))
    a, b, c = span(tasks["A"]), span(tasks["B"]), span(tasks["C"])
    assert a[1] <= b[0], (a, b)
    assert b[1] <= c[0], (b, c)
    assert all(t.execution_info.exit_code == 0 for t in tasks.values())
    assert tasks["C"].depends_on.task_ids == ["B"]


def test_range_dependency_waits_for_every_task_in_the_range(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = new_job(client, uid, cleanup, pool, uses_task_dependencies=True)
    add(
        client,
        job_id,
        task_options("1", "sleep 0.1"),
        task_options("2", "sleep 1"),
        task_options("3", "sleep 0.3"),
        task_options("9", "sleep 0.1"),  # outside the range: not waited for
        task_options("4", "/bin/true", depends_on=depends(ranges=((1, 3),))),
    )
    wait_task(client, job_id, "2", "running")
    wait_task(client, job_id, "3")
    assert client.get_task(job_id, "4").state == "active"  # 2 is still running
    tasks = wait_for(lambda: all_completed(client, job_id, 5))
    last_end = max(span(tasks[i])[1] for i in ("1", "2", "3"))
    assert span(tasks["4"])[0] >= last_end
    assert span(tasks["2"])[1] == last_end


def test_failed_dependency_blocks_its_dependent(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = new_job(client, uid, cleanup, pool, uses_task_dependencies=True)
    add(
        client,
        job_id,
        task_options("fail", "/bin/sh -c 'exit 1'"),
        task_options("dependent", "/bin/true", depends_on=depends("fail")),
    )
    failed = wait_task(client, job_id, "fail")
    assert failed.execution_info.result == "failure"
    assert failed.execution_info.exit_code == 1
    stays(lambda: client.get_task(job_id, "dependent").state == "active", 1.0)
    counts = client.get_job_task_counts(job_id).task_counts
    assert (counts.active, counts.completed, counts.failed) == (1, 1, 1)


def test_dependency_action_satisfy_lets_the_dependent_run_after_a_failure(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool, uses_task_dependencies=True)
    satisfy = m.ExitConditions(
        exit_codes=[m.ExitCodeMapping(code=1, exit_options=m.ExitOptions(dependency_action="satisfy"))]
    )
    add(
        client,
        job_id,
        task_options("fail", "/bin/sh -c 'sleep 0.2; exit 1'", exit_conditions=satisfy),
        task_options("dependent", "/bin/true", depends_on=depends("fail")),
    )
    tasks = wait_for(lambda: all_completed(client, job_id, 2))
    assert tasks["fail"].execution_info.result == "failure"
    assert tasks["dependent"].execution_info.result == "success"
    assert span(tasks["dependent"])[0] >= span(tasks["fail"])[1]


def test_success_mapped_to_dependency_action_block_blocks_the_dependent(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool, uses_task_dependencies=True)
    block = m.ExitConditions(
        exit_codes=[m.ExitCodeMapping(code=0, exit_options=m.ExitOptions(dependency_action="block"))]
    )
    add(
        client,
        job_id,
        task_options("ok", "/bin/true", exit_conditions=block),
        task_options("dependent", "/bin/true", depends_on=depends("ok")),
    )
    assert wait_task(client, job_id, "ok").execution_info.result == "success"
    stays(lambda: client.get_task(job_id, "dependent").state == "active", 0.5)


def test_dependent_added_before_its_dependency_exists_waits_for_it(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool, uses_task_dependencies=True)
    client.create_task(job_id, task_options("later", "/bin/true", depends_on=depends("first")))
    stays(lambda: client.get_task(job_id, "later").state == "active", 0.5)
    client.create_task(job_id, task_options("first", "sleep 0.2"))
    tasks = wait_for(lambda: all_completed(client, job_id, 2))
    assert span(tasks["later"])[0] >= span(tasks["first"])[1]
    assert tasks["later"].execution_info.result == "success"


def test_depends_on_in_a_job_without_uses_task_dependencies_is_rejected(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool)
    with pytest.raises(HttpResponseError) as info:
        client.create_task(job_id, task_options("t", "/bin/true", depends_on=depends("x")))
    assert info.value.status_code == 400
    assert info.value.error.code == "TaskDependenciesNotSpecifiedOnJob"
    assert list(client.list_tasks(job_id)) == []


# -- exit conditions and the job's onTaskFailure ----------------------------------------------------


def exit_job(client: Any, uid: Any, cleanup: Any, pool_id: str) -> str:
    return new_job(client, uid, cleanup, pool_id, task_failure_mode="performexitoptionsjobaction")


def test_failing_task_without_exit_conditions_terminates_the_job(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = exit_job(client, uid, cleanup, pool)
    client.create_task(job_id, task_options("sibling", "sleep 30"))
    wait_task(client, job_id, "sibling", "running")
    client.create_task(job_id, task_options("fail", "/bin/sh -c 'exit 2'"))
    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "TaskFailed"
    assert job.execution_info.end_time is not None
    assert client.get_task(job_id, "fail").execution_info.exit_code == 2
    # Terminating the job ends its running tasks.
    sibling = wait_task(client, job_id, "sibling", timeout=5)
    assert sibling.execution_info.result == "failure"


def test_job_action_applies_only_after_the_last_retry(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = exit_job(client, uid, cleanup, pool)
    client.create_task(
        job_id,
        task_options(
            "flaky", "/bin/sh -c 'sleep 0.3; exit 2'", constraints=m.BatchTaskConstraints(max_task_retry_count=1)
        ),
    )
    wait_for(lambda: client.get_task(job_id, "flaky").execution_info.retry_count == 1)
    assert client.get_job(job_id).state == "active"  # the first failure was retried, not acted on
    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "TaskFailed"
    task = client.get_task(job_id, "flaky")
    assert (task.state, task.execution_info.retry_count) == ("completed", 1)


def test_exit_code_mapping_with_job_action_none_keeps_the_job_active(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = exit_job(client, uid, cleanup, pool)
    keep = m.ExitConditions(exit_codes=[m.ExitCodeMapping(code=3, exit_options=m.ExitOptions(job_action="none"))])
    client.create_task(job_id, task_options("three", "/bin/sh -c 'exit 3'", exit_conditions=keep))
    task = wait_task(client, job_id, "three")
    assert task.execution_info.result == "failure"
    stays(lambda: client.get_job(job_id).state == "active", 0.5)
    # The job still takes and runs work.
    client.create_task(job_id, task_options("next", "/bin/true"))
    assert wait_task(client, job_id, "next").execution_info.result == "success"
    assert client.get_job(job_id).state == "active"


def test_exit_code_ranges_choose_the_job_action(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = exit_job(client, uid, cleanup, pool)
    ranges = m.ExitConditions(
        exit_code_ranges=[m.ExitCodeRangeMapping(start=2, end=5, exit_options=m.ExitOptions(job_action="none"))]
    )
    client.create_task(job_id, task_options("in-range", "/bin/sh -c 'exit 4'", exit_conditions=ranges))
    assert wait_task(client, job_id, "in-range").execution_info.exit_code == 4
    stays(lambda: client.get_job(job_id).state == "active", 0.5)
    # Outside every range: the default for a failure, terminate.
    client.create_task(job_id, task_options("outside", "/bin/sh -c 'exit 7'", exit_conditions=ranges))
    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "TaskFailed"


def test_job_action_disable_disables_the_job(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = exit_job(client, uid, cleanup, pool)
    client.create_task(job_id, task_options("sibling", "sleep 30"))
    wait_task(client, job_id, "sibling", "running")
    disable = m.ExitConditions(exit_codes=[m.ExitCodeMapping(code=2, exit_options=m.ExitOptions(job_action="disable"))])
    client.create_task(job_id, task_options("two", "/bin/sh -c 'exit 2'", exit_conditions=disable))
    job = wait_job(client, job_id, "disabled")
    assert job.execution_info.termination_reason is None
    assert client.get_task(job_id, "two").state == "completed"
    # jobAction disable is a disable with disableTasks=requeue: the running sibling goes back to active.
    sibling = client.get_task(job_id, "sibling")
    assert (sibling.state, sibling.execution_info.requeue_count) == ("active", 1)
    # A disabled job schedules nothing new.
    client.create_task(job_id, task_options("held", "/bin/true"))
    stays(lambda: client.get_task(job_id, "held").state == "active", 0.5)


def test_job_action_on_a_job_with_on_task_failure_noaction_is_invalid_property_value(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool)
    conditions = m.ExitConditions(
        exit_codes=[m.ExitCodeMapping(code=1, exit_options=m.ExitOptions(job_action="terminate"))]
    )
    with pytest.raises(HttpResponseError) as info:
        client.create_task(job_id, task_options("t", "/bin/true", exit_conditions=conditions))
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidPropertyValue"
    assert list(client.list_tasks(job_id)) == []


def test_job_action_none_on_a_job_with_on_task_failure_noaction_is_invalid_property_value(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool)
    conditions = m.ExitConditions(default=m.ExitOptions(job_action="none"))
    with pytest.raises(HttpResponseError) as info:
        client.create_task(job_id, task_options("t", "/bin/true", exit_conditions=conditions))
    assert info.value.status_code == 400
    assert info.value.error.code == "InvalidPropertyValue"


# -- priority, parallelism, placement ---------------------------------------------------------------


def test_higher_priority_job_runs_first_on_a_one_slot_pool(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("prio"), cleanup, dedicated=0, slots=1)
    low = new_job(client, uid, cleanup, pool_id, "low", priority=-10)
    high = new_job(client, uid, cleanup, pool_id, "high", priority=10)
    # The low-priority job and its tasks come first; nothing can run until the node arrives.
    add(client, low, *[task_options(f"l{i}", "sleep 0.1") for i in range(2)])
    add(client, high, *[task_options(f"h{i}", "sleep 0.1") for i in range(2)])
    client.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=1), polling_interval=POLL
    ).result()
    lows = wait_for(lambda: all_completed(client, low, 2))
    highs = wait_for(lambda: all_completed(client, high, 2))
    last_high_end = max(span(t)[1] for t in highs.values())
    first_low_start = min(span(t)[0] for t in lows.values())
    assert last_high_end <= first_low_start, (highs, lows)


def test_max_parallel_tasks_1_never_runs_two_at_once(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = new_job(client, uid, cleanup, pool, max_parallel_tasks=1)
    add(client, job_id, *[task_options(f"t{i}", "sleep 0.2") for i in range(4)])
    running_seen = []
    while (tasks := all_completed(client, job_id, 4)) is None:
        running_seen.append(sum(1 for t in client.list_tasks(job_id) if t.state == "running"))
        time.sleep(0.05)
    assert max(running_seen, default=0) <= 1
    spans = sorted(span(t) for t in tasks.values())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans


@pytest.mark.parametrize(("fill", "distinct_nodes"), [("pack", 1), ("spread", 2)])
def test_node_fill_type_pack_vs_spread(client: Any, uid: Any, cleanup: Any, fill: str, distinct_nodes: int) -> None:
    pool_id = make_pool(
        client,
        uid(f"fill{fill}"),
        cleanup,
        dedicated=2,
        slots=2,
        task_scheduling_policy=m.BatchTaskSchedulingPolicy(node_fill_type=fill),
    )
    assert client.get_pool(pool_id).task_scheduling_policy.node_fill_type == fill
    job_id = new_job(client, uid, cleanup, pool_id)
    add(client, job_id, task_options("a", "sleep 5"), task_options("b", "sleep 5"))
    tasks = wait_for(lambda: (ts := list(client.list_tasks(job_id))) and all(t.state == "running" for t in ts) and ts)
    nodes = {t.node_info.node_id for t in tasks}
    assert len(nodes) == distinct_nodes, nodes


# -- disabling a job with a running task ----------------------------------------------------------


def _running_job(client: Any, uid: Any, cleanup: Any, pool_id: str, command: str) -> tuple[str, Any]:
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("t", command))
    return job_id, wait_task(client, job_id, "t", "running")


def test_disable_job_requeue_requeues_the_running_task_which_runs_on_enable(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id, _ = _running_job(client, uid, cleanup, pool, "sleep 1")
    client.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=POLL).result()
    assert client.get_job(job_id).state == "disabled"
    task = client.get_task(job_id, "t")
    assert task.state == "active"
    assert task.execution_info.requeue_count == 1
    stays(lambda: client.get_task(job_id, "t").state == "active", 0.5)  # nothing runs while disabled
    client.begin_enable_job(job_id, polling_interval=POLL).result()
    task = wait_task(client, job_id, "t")
    assert task.execution_info.result == "success"
    assert task.execution_info.requeue_count == 1


def test_disable_job_terminate_ends_the_running_task(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id, _ = _running_job(client, uid, cleanup, pool, "sleep 30")
    client.begin_disable_job(
        job_id, m.BatchJobDisableOptions(disable_tasks="terminate"), polling_interval=POLL
    ).result()
    assert client.get_job(job_id).state == "disabled"
    task = wait_task(client, job_id, "t")
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info is not None
    assert task.execution_info.requeue_count == 0
    client.begin_enable_job(job_id, polling_interval=POLL).result()
    stays(lambda: client.get_task(job_id, "t").state == "completed", 0.5)  # it will not run again


def test_disable_job_wait_lets_the_running_task_finish(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id, _ = _running_job(client, uid, cleanup, pool, "sleep 1.5")
    poller = client.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=POLL)
    assert client.get_job(job_id).state == "disabling"
    assert client.get_task(job_id, "t").state == "running"
    poller.result()
    task = wait_task(client, job_id, "t")
    assert task.execution_info.result == "success"
    assert task.execution_info.requeue_count == 0
    assert client.get_job(job_id).state == "disabled"


# -- job-level completion ------------------------------------------------------------------------


def test_job_max_wall_clock_time_terminates_the_job(client: Any, uid: Any, cleanup: Any, pool: str) -> None:
    job_id = new_job(
        client, uid, cleanup, pool, constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(seconds=2))
    )
    client.create_task(job_id, task_options("long", "sleep 30"))
    wait_task(client, job_id, "long", "running")
    job = wait_job(client, job_id, "completed", timeout=10)
    assert job.execution_info.termination_reason == "MaxWallClockTimeExpiry"
    assert job.execution_info.end_time - job.creation_time >= dt.timedelta(seconds=2)
    task = wait_task(client, job_id, "long", timeout=5)
    assert task.execution_info.end_time < task.execution_info.start_time + dt.timedelta(seconds=20)


def test_raising_the_job_max_wall_clock_time_by_update_keeps_the_job_alive(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(
        client, uid, cleanup, pool, constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(seconds=1.5))
    )
    client.update_job(
        job_id, m.BatchJobUpdateOptions(constraints=m.BatchJobConstraints(max_wall_clock_time=dt.timedelta(hours=1)))
    )
    assert client.get_job(job_id).constraints.max_wall_clock_time == dt.timedelta(hours=1)
    stays(lambda: client.get_job(job_id).state == "active", 2.0)


def test_on_all_tasks_complete_terminatejob_on_a_job_without_tasks_completes_it(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    # "If a Job contains no Tasks, then all Tasks are considered complete."
    job_id = new_job(client, uid, cleanup, pool, all_tasks_complete_mode="terminatejob")
    job = wait_job(client, job_id, "completed", timeout=5)
    assert job.execution_info.termination_reason == "AllTasksComplete"


def test_on_all_tasks_complete_terminatejob_set_by_update_after_adding_tasks(
    client: Any, uid: Any, cleanup: Any, pool: str
) -> None:
    job_id = new_job(client, uid, cleanup, pool)
    add(client, job_id, task_options("a", "sleep 0.5"), task_options("b", "sleep 0.8"))
    client.update_job(job_id, m.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
    assert client.get_job(job_id).all_tasks_complete_mode == "terminatejob"
    job = wait_job(client, job_id, "completed")
    assert job.execution_info.termination_reason == "AllTasksComplete"
    tasks = all_completed(client, job_id, 2)
    assert tasks is not None
    assert job.execution_info.end_time >= max(span(t)[1] for t in tasks.values())
