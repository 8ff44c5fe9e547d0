"""Job schedules through azure-batch 15.1.0: the 10 JobSchedules operations, Jobs_ListJobsFromSchedule,
recurrence, one active job at a time, disable/enable, terminate, delete, and a restart.

Azure's minimum recurrenceInterval and startWindow is 1 minute, so recurrence runs on a server of
its own with `--time-scale 60` (a service minute passes in a wall second). Times on that server run
ahead of the wall clock: tests read service time from the documents, never from `datetime.now()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported by azure-batch 15.1.0
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.sdk import pool_options, task_options

POLL = 0.05
MINUTE = dt.timedelta(minutes=1)
TERMINATE = BatchJobTerminateOptions(termination_reason="done")  # begin_terminate_job needs a body


def _status(response: Any, _deserialized: Any, headers: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response.http_response.status_code, headers


def spec(pool_id: str = "no-such-pool", **extra: Any) -> m.BatchJobSpecification:
    return m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=pool_id), **extra)


def schedule_options(
    schedule_id: str, schedule: m.BatchJobScheduleConfiguration | None = None, **job: Any
) -> m.BatchJobScheduleCreateOptions:
    return m.BatchJobScheduleCreateOptions(
        id=schedule_id, schedule=schedule or m.BatchJobScheduleConfiguration(), job_specification=spec(**job)
    )


def later() -> dt.datetime:
    """A doNotRunUntil that keeps a schedule on the shared (real-time) server from running."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=2)


def job_ids(client: Any, schedule_id: str) -> list[str]:
    return [j.id for j in client.list_jobs_from_schedule(schedule_id)]


@pytest.fixture
def cleanup(client: Any) -> Iterator[Callable[[str], None]]:
    ids: list[str] = []
    yield ids.append
    for schedule_id in ids:
        with contextlib.suppress(ResourceNotFoundError):
            client.begin_delete_job_schedule(schedule_id, polling_interval=POLL).result()


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client of a server whose clock runs 60 times faster than the wall clock."""
    child = start_child_server(tmp_path_factory.mktemp("batchite-fast"), extra_args=["--time-scale", "60"])
    c = make_client(child.endpoint)
    yield c
    c.close()
    child.stop()


# -- create, get, exists, list ------------------------------------------------------------------
def test_create_returns_201_and_get_shows_the_schedule(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("js")
    start = later().replace(microsecond=0)
    status, headers = client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=sid,
            display_name="nightly",
            schedule=m.BatchJobScheduleConfiguration(do_not_run_until=start, recurrence_interval=dt.timedelta(hours=1)),
            job_specification=spec(priority=7, metadata=[m.BatchMetadataItem(name="j", value="1")]),
            metadata=[m.BatchMetadataItem(name="k", value="v")],
        ),
        cls=_status,
    )
    cleanup(sid)
    assert status == 201
    assert headers["ETag"] and headers["Last-Modified"]
    assert headers["DataServiceId"].endswith(f"/jobschedules/{sid}")

    js = client.get_job_schedule(sid)
    assert js.id == sid
    assert js.display_name == "nightly"
    assert js.state == "active"
    assert js.url.endswith(f"/jobschedules/{sid}")
    assert js.etag == headers["ETag"]
    assert js.creation_time is not None and js.state_transition_time is not None
    assert js.schedule.do_not_run_until == start
    assert js.schedule.recurrence_interval == dt.timedelta(hours=1)
    assert js.job_specification.priority == 7
    assert js.job_specification.pool_info.pool_id == "no-such-pool"
    assert [(i.name, i.value) for i in js.metadata] == [("k", "v")]
    assert js.execution_info.next_run_time == start
    assert js.execution_info.recent_job is None
    assert job_ids(client, sid) == []


def test_duplicate_ids_conflict_case_insensitively(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("Dup")
    client.create_job_schedule(schedule_options(sid, m.BatchJobScheduleConfiguration(do_not_run_until=later())))
    cleanup(sid)
    for again in (sid, sid.upper()):
        with pytest.raises(ResourceExistsError) as info:
            client.create_job_schedule(schedule_options(again))
        assert info.value.status_code == 409
        assert info.value.error.code == "JobScheduleExists"
    with pytest.raises(ResourceExistsError) as info:
        client.create_job(m.BatchJobCreateOptions(id=sid.lower(), pool_info=m.BatchPoolInfo(pool_id="p")))
    assert info.value.error.code == "JobScheduleWithSameIdExists"


def test_a_schedule_cannot_take_the_id_of_a_job(client: Any, uid: Any) -> None:
    job_id = uid("job")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id="p")))
    try:
        with pytest.raises(ResourceExistsError) as info:
            client.create_job_schedule(schedule_options(job_id))
        assert info.value.error.code == "JobWithSameIdExists"
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()


def test_invalid_schedules_are_rejected(client: Any, uid: Any) -> None:
    for config in (
        m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(seconds=30)),
        m.BatchJobScheduleConfiguration(start_window=dt.timedelta(seconds=59)),
    ):
        with pytest.raises(HttpResponseError) as info:
            client.create_job_schedule(schedule_options(uid("bad"), config))
        assert info.value.status_code == 400
        assert info.value.error.code == "InvalidPropertyValue"
    with pytest.raises(HttpResponseError) as info:
        client.create_job_schedule(schedule_options(uid("bad!")))
    assert info.value.error.code == "InvalidPropertyValue"
    assert uid("bad") not in [s.id for s in client.list_job_schedules()]


def test_exists_get_conditions_and_not_found(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("js")
    client.create_job_schedule(schedule_options(sid, m.BatchJobScheduleConfiguration(do_not_run_until=later())))
    cleanup(sid)
    assert client.job_schedule_exists(sid) is True
    assert client.job_schedule_exists(sid.upper()) is True
    # HEAD answers 404, which azure-batch 15.1.0's BatchExceptionPolicy raises before exists() sees it
    with pytest.raises(ResourceNotFoundError) as missing:
        client.job_schedule_exists(uid("missing"))
    assert missing.value.status_code == 404
    etag = client.get_job_schedule(sid).etag
    with pytest.raises(ResourceModifiedError) as unchanged:  # 15.1.0 maps 304 to ResourceModifiedError
        client.get_job_schedule(sid, etag=etag, match_condition=MatchConditions.IfModified)
    assert unchanged.value.status_code == 304
    with pytest.raises(ResourceModifiedError):
        client.get_job_schedule(sid, etag="0x1", match_condition=MatchConditions.IfNotModified)
    assert client.get_job_schedule(sid, etag=etag, match_condition=MatchConditions.IfNotModified).id == sid
    with pytest.raises(ResourceModifiedError):
        client.update_job_schedule(
            sid, m.BatchJobScheduleUpdateOptions(metadata=[]), etag="0x1", match_condition=MatchConditions.IfNotModified
        )
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_job_schedule(uid("missing"))
    assert info.value.error.code == "JobScheduleNotFound"
    with pytest.raises(ResourceNotFoundError):
        list(client.list_jobs_from_schedule(uid("missing")))


def test_list_job_schedules_pages_and_selects(client: Any, uid: Any, cleanup: Any) -> None:
    ids = [uid(f"ls{i}") for i in range(3)]
    for sid in ids:
        client.create_job_schedule(schedule_options(sid, m.BatchJobScheduleConfiguration(do_not_run_until=later())))
        cleanup(sid)
    listed = [s.id for s in client.list_job_schedules()]
    assert all(sid in listed for sid in ids)
    pages = [list(p) for p in client.list_job_schedules(max_results=2).by_page()]
    assert all(len(p) <= 2 for p in pages)
    assert [s.id for p in pages for s in p] == listed
    selected = [s for s in client.list_job_schedules(select=["id", "state"]) if s.id in ids]
    assert len(selected) == 3
    assert all(s.state == "active" and s.job_specification is None for s in selected)


# -- update, replace --------------------------------------------------------------------------
def test_update_changes_only_the_properties_given(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("js")
    start = later().replace(microsecond=0)
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=sid,
            schedule=m.BatchJobScheduleConfiguration(do_not_run_until=start),
            job_specification=spec(priority=1),
            metadata=[m.BatchMetadataItem(name="a", value="1")],
        )
    )
    cleanup(sid)
    before = client.get_job_schedule(sid)
    status, headers = client.update_job_schedule(
        sid, m.BatchJobScheduleUpdateOptions(metadata=[m.BatchMetadataItem(name="b", value="2")]), cls=_status
    )
    assert status == 200
    assert headers["DataServiceId"].endswith(f"/jobschedules/{sid}")
    js = client.get_job_schedule(sid)
    assert js.etag == headers["ETag"] != before.etag
    assert [(i.name, i.value) for i in js.metadata] == [("b", "2")]
    assert js.schedule.do_not_run_until == start
    assert js.job_specification.priority == 1

    client.update_job_schedule(sid, m.BatchJobScheduleUpdateOptions(job_specification=spec("other", priority=5)))
    js = client.get_job_schedule(sid)
    assert js.job_specification.priority == 5
    assert js.job_specification.pool_info.pool_id == "other"
    assert [(i.name, i.value) for i in js.metadata] == [("b", "2")]
    assert js.schedule.do_not_run_until == start

    start2 = start + dt.timedelta(days=1)
    client.update_job_schedule(
        sid, m.BatchJobScheduleUpdateOptions(schedule=m.BatchJobScheduleConfiguration(do_not_run_until=start2))
    )
    js = client.get_job_schedule(sid)
    assert js.schedule.do_not_run_until == start2
    assert js.execution_info.next_run_time == start2
    assert js.job_specification.priority == 5


def test_replace_sets_every_updatable_property(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("js")
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=sid,
            schedule=m.BatchJobScheduleConfiguration(do_not_run_until=later(), recurrence_interval=MINUTE),
            job_specification=spec(priority=3, display_name="old"),
            metadata=[m.BatchMetadataItem(name="a", value="1")],
        )
    )
    cleanup(sid)
    start = later().replace(microsecond=0) + dt.timedelta(hours=1)
    status, _ = client.replace_job_schedule(
        sid,
        m.BatchJobSchedule(
            schedule=m.BatchJobScheduleConfiguration(do_not_run_until=start), job_specification=spec("p2")
        ),
        cls=_status,
    )
    assert status == 200
    js = client.get_job_schedule(sid)
    assert js.schedule.do_not_run_until == start
    assert js.schedule.recurrence_interval is None
    assert js.job_specification.pool_info.pool_id == "p2"
    assert js.job_specification.priority is None and js.job_specification.display_name is None
    assert js.metadata is None
    assert js.execution_info.next_run_time == start

    raw = HttpRequest("PUT", f"/jobschedules/{sid}", json={"schedule": {}}, params={"api-version": "2025-06-01"})
    with pytest.raises(HttpResponseError) as info:
        client.send_request(raw)
    assert info.value.status_code == 400
    assert info.value.error.code == "MissingRequiredProperty"


# -- runs ---------------------------------------------------------------------------------------
def test_one_off_schedule_runs_one_job_and_completes(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("once")
    client.create_job_schedule(schedule_options(sid, all_tasks_complete_mode="terminatejob"))
    cleanup(sid)
    js = wait_for(lambda: (s := client.get_job_schedule(sid)).state == "completed" and s, timeout=10)
    assert js.execution_info.recent_job.id == f"{sid}:job-1"
    assert js.execution_info.recent_job.url.endswith(f"/jobs/{sid}:job-1")
    assert js.execution_info.end_time is not None
    assert js.execution_info.next_run_time is None
    assert job_ids(client, sid) == [f"{sid}:job-1"]
    assert sid in [s.id for s in client.list_job_schedules(filter="state eq 'completed'")]
    assert sid not in [s.id for s in client.list_job_schedules(filter="state eq 'active'")]
    job = client.get_job(f"{sid}:job-1")
    assert job.state == "completed"
    assert job.execution_info.termination_reason == "AllTasksComplete"
    with pytest.raises(ResourceExistsError) as info:
        client.update_job_schedule(sid, m.BatchJobScheduleUpdateOptions(metadata=[]))
    assert info.value.error.code == "JobScheduleCompleted"


def test_a_job_made_by_a_schedule_runs_tasks(client: Any, uid: Any, cleanup: Any) -> None:
    pool_id, sid = uid("pool"), uid("run")
    client.create_pool(pool_options(pool_id))
    try:
        client.create_job_schedule(schedule_options(sid, pool_id=pool_id))
        cleanup(sid)
        job_id = wait_for(lambda: client.get_job_schedule(sid).execution_info.recent_job).id
        assert job_id == f"{sid}:job-1"
        client.create_task(job_id, task_options("t1", "echo from the schedule"))
        task = wait_for(lambda: (t := client.get_task(job_id, "t1")).state == "completed" and t)
        assert task.execution_info.exit_code == 0
        assert b"".join(client.download_task_file(job_id, "t1", "stdout.txt")) == b"from the schedule\n"
        client.begin_terminate_job(job_id, TERMINATE, polling_interval=POLL).result()
        assert wait_for(lambda: client.get_job_schedule(sid).state == "completed")
    finally:
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def test_recurrence_makes_jobs_listed_from_the_schedule(fast: Any, uid: Any) -> None:
    sid, other = uid("every"), uid("other")
    every = m.BatchJobScheduleConfiguration(recurrence_interval=MINUTE)
    fast.create_job_schedule(schedule_options(sid, every, all_tasks_complete_mode="terminatejob"))
    fast.create_job_schedule(schedule_options(other, m.BatchJobScheduleConfiguration(recurrence_interval=MINUTE)))
    ids = wait_for(lambda: (lambda found: found if len(found) >= 3 else None)(job_ids(fast, sid)), timeout=15)
    assert ids[:3] == [f"{sid}:job-1", f"{sid}:job-2", f"{sid}:job-3"]
    js = fast.get_job_schedule(sid)
    assert js.state == "active"
    assert js.execution_info.recent_job.id.startswith(f"{sid}:job-")
    assert js.execution_info.recent_job.url.endswith(f"/jobs/{js.execution_info.recent_job.id}")
    created = [fast.get_job(j).creation_time for j in ids[:3]]
    gaps = [b - a for a, b in itertools.pairwise(created)]
    assert all(dt.timedelta(seconds=50) <= g <= dt.timedelta(seconds=75) for g in gaps), gaps
    assert js.execution_info.next_run_time > created[-1]
    assert job_ids(fast, other) == [f"{other}:job-1"]  # its job never ends: no second one
    assert [j.id for j in fast.list_jobs_from_schedule(other, filter="state eq 'active'")] == [f"{other}:job-1"]
    assert list(fast.list_jobs_from_schedule(sid, filter="state eq 'active'")) == []
    assert all(j.id.startswith(f"{sid}:") for j in fast.list_jobs_from_schedule(sid, max_results=1))
    for s in (sid, other):
        fast.begin_delete_job_schedule(s, polling_interval=POLL).result()


def test_next_job_waits_for_the_active_one(fast: Any, uid: Any) -> None:
    sid = uid("busy")
    fast.create_job_schedule(schedule_options(sid, m.BatchJobScheduleConfiguration(recurrence_interval=MINUTE)))
    wait_for(lambda: job_ids(fast, sid))
    time.sleep(1.6)  # more than one interval: the run due meanwhile waits for job-1
    assert job_ids(fast, sid) == [f"{sid}:job-1"]
    fast.begin_terminate_job(f"{sid}:job-1", TERMINATE, polling_interval=POLL).result()
    assert wait_for(lambda: len(job_ids(fast, sid)) == 2, timeout=5)
    assert fast.get_job(f"{sid}:job-2").state == "active"
    fast.begin_delete_job_schedule(sid, polling_interval=POLL).result()


def test_disable_stops_new_jobs_and_enable_resumes(fast: Any, uid: Any) -> None:
    sid = uid("dis")
    every = m.BatchJobScheduleConfiguration(recurrence_interval=MINUTE)
    fast.create_job_schedule(schedule_options(sid, every, all_tasks_complete_mode="terminatejob"))
    wait_for(lambda: job_ids(fast, sid))
    status, headers = fast.disable_job_schedule(sid, cls=_status)
    assert status == 204
    assert headers["DataServiceId"].endswith(f"/jobschedules/{sid}")
    js = fast.get_job_schedule(sid)
    assert js.state == "disabled" and js.previous_state == "active"
    count = len(job_ids(fast, sid))
    time.sleep(1.6)  # more than one interval
    assert len(job_ids(fast, sid)) == count
    status, _ = fast.enable_job_schedule(sid, cls=_status)
    assert status == 204
    assert fast.get_job_schedule(sid).state == "active"
    assert wait_for(lambda: len(job_ids(fast, sid)) > count, timeout=5)
    fast.begin_delete_job_schedule(sid, polling_interval=POLL).result()


def test_do_not_run_after_completes_the_schedule(fast: Any, uid: Any) -> None:
    probe = uid("clock")
    fast.create_job_schedule(schedule_options(probe, m.BatchJobScheduleConfiguration(do_not_run_until=later())))
    now = fast.get_job_schedule(probe).creation_time  # the fast server's time
    sid = uid("until")
    config = m.BatchJobScheduleConfiguration(
        recurrence_interval=MINUTE, do_not_run_after=now + dt.timedelta(minutes=2, seconds=30)
    )
    fast.create_job_schedule(schedule_options(sid, config, all_tasks_complete_mode="terminatejob"))
    js = wait_for(lambda: (s := fast.get_job_schedule(sid)).state == "completed" and s, timeout=10)
    assert len(job_ids(fast, sid)) == 3
    assert js.execution_info.end_time >= config.do_not_run_after
    for s in (sid, probe):
        fast.begin_delete_job_schedule(s, polling_interval=POLL).result()


# -- terminate, delete --------------------------------------------------------------------------
def test_terminate_ends_the_schedule_and_its_active_job(client: Any, uid: Any, cleanup: Any) -> None:
    sid = uid("term")
    client.create_job_schedule(schedule_options(sid, m.BatchJobScheduleConfiguration(recurrence_interval=MINUTE)))
    cleanup(sid)
    wait_for(lambda: job_ids(client, sid))
    status, headers = client._terminate_job_schedule_internal(sid, cls=_status)  # the LRO hides the 202
    assert status == 202
    assert headers["DataServiceId"].endswith(f"/jobschedules/{sid}")
    js = client.get_job_schedule(sid)
    assert js.state == "completed"
    assert js.previous_state == "terminating"
    assert js.execution_info.end_time is not None
    assert js.execution_info.next_run_time is None
    job = client.get_job(f"{sid}:job-1")
    assert job.state == "completed"
    assert job.execution_info.termination_reason == "TerminateJobSchedule"
    for action in (client.disable_job_schedule, client.enable_job_schedule, client._terminate_job_schedule_internal):
        with pytest.raises(ResourceExistsError) as info:
            action(sid)
        assert info.value.error.code == "JobScheduleCompleted"


def test_delete_removes_the_schedule_and_all_its_jobs(client: Any, uid: Any) -> None:
    sid, job_id = uid("del"), uid("keep")
    client.create_job_schedule(schedule_options(sid))
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id="p")))
    wait_for(lambda: job_ids(client, sid))
    status, _ = client._delete_job_schedule_internal(sid, cls=_status)  # the LRO hides the 202
    assert status == 202
    with pytest.raises(ResourceNotFoundError):
        client.get_job_schedule(sid)
    with pytest.raises(ResourceNotFoundError):
        client.get_job(f"{sid}:job-1")
    assert client.get_job(job_id).state == "active"
    assert sid not in [s.id for s in client.list_job_schedules()]
    client.begin_delete_job(job_id, polling_interval=POLL).result()


# -- restart ------------------------------------------------------------------------------------
def test_timers_are_re_armed_after_a_restart(tmp_path: Path, uid: Any) -> None:
    sid, done = uid("restart"), uid("done")
    child: ChildServer = start_child_server(tmp_path)
    c = make_client(child.endpoint)
    try:
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        config = m.BatchJobScheduleConfiguration(do_not_run_until=start)
        c.create_job_schedule(schedule_options(sid, config, all_tasks_complete_mode="terminatejob"))
        c.create_job_schedule(schedule_options(done))
        c.begin_terminate_job_schedule(done, polling_interval=POLL).result()
        assert job_ids(c, sid) == []
        c.close()
        child.stop()
        child = start_child_server(tmp_path)
        c = make_client(child.endpoint)
        assert c.get_job_schedule(sid).execution_info.next_run_time is not None
        js = wait_for(lambda: (s := c.get_job_schedule(sid)).state == "completed" and s, timeout=10)
        assert js.execution_info.recent_job.id == f"{sid}:job-1"
        assert c.get_job(f"{sid}:job-1").creation_time >= start
        assert c.get_job_schedule(done).state == "completed"
        assert job_ids(c, done) == [f"{done}:job-1"]
    finally:
        c.close()
        child.stop()


def test_an_auto_pool_of_lifetime_jobschedule_lives_as_long_as_the_schedule(client: Any, uid: Any) -> None:
    spec = pool_options("unused", dedicated=1)
    auto = m.BatchAutoPoolSpecification(
        auto_pool_id_prefix="sp",
        pool_lifetime_option="jobschedule",
        pool=m.BatchPoolSpecification(
            vm_size=spec.vm_size,
            virtual_machine_configuration=spec.virtual_machine_configuration,
            target_dedicated_nodes=1,
        ),
    )
    schedule_id = uid("autosched")
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id=schedule_id,
            schedule=m.BatchJobScheduleConfiguration(),
            job_specification=m.BatchJobSpecification(pool_info=m.BatchPoolInfo(auto_pool_specification=auto)),
        )
    )
    job = wait_for(lambda: list(client.list_jobs_from_schedule(schedule_id)))[0]
    pool_id = job.execution_info.pool_id
    assert pool_id.startswith("sp_")
    assert pool_id in [p.id for p in client.list_pools()]
    client.begin_terminate_job_schedule(schedule_id, polling_interval=0).result()
    assert client.get_job_schedule(schedule_id).state == "completed"
    # The pool goes with the schedule: `deleting` until its node has left, then not listed.
    wait_for(lambda: pool_id not in [p.id for p in client.list_pools()])
    client.begin_delete_job_schedule(schedule_id, polling_interval=0).result()
