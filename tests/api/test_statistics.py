"""`$expand=stats` on pools, jobs, job schedules and tasks: filled from the runs (times, results,
retries), what their processes used (CPU time from wait4 on the node) and the nodes' lifetimes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from azure.batch import models as m

from tests.conftest import wait_for
from tests.e2e.helpers import POLL, make_pool, wait_task
from tests.sdk import job_options, task_options

BUSY = "/bin/sh -c 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done'"  # some CPU in the shell itself
ZERO = dt.timedelta(0)


def test_task_stats_hold_its_cpu_wall_clock_and_wait(client: Any, uid: Any, cleanup: Any) -> None:
    pool = make_pool(client, uid("stpool"), cleanup)
    job_id = uid("stjob")
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("busy", BUSY))
    task = wait_task(client, job_id, "busy", timeout=60)
    assert task.execution_info.exit_code == 0
    assert task.task_statistics is None  # only with $expand=stats

    stats = client.get_task(job_id, "busy", expand=["stats"]).task_statistics
    assert stats is not None
    assert stats.user_cpu_time > ZERO  # the shell's loop, measured on the node
    assert stats.kernel_cpu_time >= ZERO
    info = task.execution_info
    assert stats.wall_clock_time == pytest_approx(info.end_time - info.start_time)
    assert stats.start_time == task.creation_time
    assert stats.last_update_time == info.end_time
    assert stats.wait_time == pytest_approx(info.start_time - task.creation_time)
    assert stats.user_cpu_time + stats.kernel_cpu_time <= stats.wall_clock_time + dt.timedelta(seconds=0.05)

    listed = {t.id: t for t in client.list_tasks(job_id, expand=["stats"])}
    assert listed["busy"].task_statistics.user_cpu_time == stats.user_cpu_time
    assert all(t.task_statistics is None for t in client.list_tasks(job_id))


def pytest_approx(expected: dt.timedelta) -> Any:
    """Equal to within the millisecond statistics are written with."""

    class Near:
        def __eq__(self, other: object) -> bool:
            return isinstance(other, dt.timedelta) and abs(other - expected) <= dt.timedelta(milliseconds=2)

        def __repr__(self) -> str:
            return f"~{expected}"

    return Near()


def test_job_stats_count_succeeded_failed_tasks_and_retries(client: Any, uid: Any, cleanup: Any) -> None:
    pool = make_pool(client, uid("sjpool"), cleanup)
    job_id = uid("sjjob")
    client.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    retry = m.BatchTaskConstraints(max_task_retry_count=2)
    client.create_task(job_id, task_options("ok", BUSY))
    client.create_task(job_id, task_options("bad", "/bin/false", constraints=retry))
    ok = wait_task(client, job_id, "ok", timeout=60)
    bad = wait_task(client, job_id, "bad", timeout=60)
    assert bad.execution_info.retry_count == 2

    job = client.get_job(job_id, expand=["stats"])
    stats = job.job_statistics
    assert stats is not None
    assert (stats.succeeded_tasks_count, stats.failed_tasks_count, stats.task_retries_count) == (1, 1, 2)
    assert stats.start_time == job.creation_time
    assert stats.user_cpu_time > ZERO
    assert stats.wait_time == ZERO  # Azure reports it in the account's lifetime statistics only
    # Three runs of "bad" count in the wall clock, one of "ok".
    ok_stats = client.get_task(job_id, "ok", expand=["stats"]).task_statistics
    bad_stats = client.get_task(job_id, "bad", expand=["stats"]).task_statistics
    assert bad_stats.wall_clock_time >= bad.execution_info.end_time - bad.execution_info.start_time
    assert stats.wall_clock_time == pytest_approx(ok_stats.wall_clock_time + bad_stats.wall_clock_time)
    assert ok.execution_info.exit_code == 0

    [listed] = [j for j in client.list_jobs(expand=["stats"]) if j.id == job_id]
    assert listed.job_statistics.succeeded_tasks_count == 1
    assert client.get_job(job_id).job_statistics is None


def test_pool_stats_hold_the_dedicated_core_time(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id = make_pool(client, uid("sppool"), cleanup, dedicated=2)
    nodes = list(client.list_nodes(pool_id))
    pool = client.get_pool(pool_id, expand=["stats"])
    stats = pool.pool_statistics
    assert stats is not None
    assert stats.start_time == pool.creation_time
    usage = stats.usage_statistics
    assert usage is not None
    # standard_d2s_v3 has 2 cores: at least 2 nodes x 2 cores x the time they have been there.
    earliest_last = min(stats.last_update_time - n.allocation_time for n in nodes)
    assert usage.dedicated_core_time >= 4 * earliest_last - dt.timedelta(milliseconds=5)
    assert stats.resource_statistics is not None
    assert client.get_pool(pool_id).pool_statistics is None
    [listed] = [p for p in client.list_pools(expand=["stats"]) if p.id == pool_id]
    assert listed.pool_statistics.usage_statistics.dedicated_core_time >= usage.dedicated_core_time


def test_job_schedule_stats_add_up_its_jobs(client: Any, uid: Any, cleanup: Any) -> None:
    pool = make_pool(client, uid("sspool"), cleanup)
    schedule_id = uid("ssched")
    spec = m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=pool))
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=schedule_id, schedule=m.BatchJobScheduleConfiguration(), job_specification=spec
        )
    )
    try:
        job_id = wait_for(lambda: client.get_job_schedule(schedule_id).execution_info.recent_job).id
        retry = m.BatchTaskConstraints(max_task_retry_count=1)
        client.create_task(job_id, task_options("ok", BUSY))
        client.create_task(job_id, task_options("bad", "/bin/false", constraints=retry))
        wait_task(client, job_id, "ok", timeout=60)
        wait_task(client, job_id, "bad", timeout=60)
        job_stats = client.get_job(job_id, expand=["stats"]).job_statistics
        schedule = client.get_job_schedule(schedule_id, expand=["stats"])
        stats = schedule.job_schedule_statistics
        assert stats is not None
        assert (stats.succeeded_tasks_count, stats.failed_tasks_count, stats.task_retries_count) == (1, 1, 1)
        assert stats.start_time == schedule.creation_time
        assert stats.user_cpu_time == job_stats.user_cpu_time > ZERO
        assert stats.wall_clock_time == job_stats.wall_clock_time
        assert client.get_job_schedule(schedule_id).job_schedule_statistics is None
    finally:
        client.begin_delete_job_schedule(schedule_id, polling_interval=POLL).result()
