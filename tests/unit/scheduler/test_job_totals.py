"""A job's running totals (its statistics): kept by the scheduler as runs end and tasks change,
stored with the job, equal to the sums over its tasks, and computed once for a job stored without."""

from __future__ import annotations

from batchite.domain.entities import Job, JobTotals
from batchite.domain.job_totals import of_tasks
from batchite.scheduler import Scheduler
from tests.unit.scheduler.fakes import FakeBackend, Harness


def stored(h: Harness, job_id: str = "j") -> Job:
    h.store.flush()  # a live job's totals are written with the next commit
    found = h.store.jobs.get(h.account, "", job_id)
    assert found is not None
    return found


def totals(h: Harness, job_id: str = "j") -> JobTotals:
    kept = stored(h, job_id).internal.totals
    assert kept is not None
    return kept


def from_tasks(h: Harness, job_id: str = "j") -> JobTotals:
    return of_tasks(h.store.tasks.list(h.account, job_id))


def run(h: Harness, task_id: str, exit_code: int, seconds: float, cpu: float) -> None:
    (run_id,) = h.backend.running(task_id)
    h.advance(seconds)
    h.backend.finish(run_id, exit_code, user_cpu_seconds=cpu, kernel_cpu_seconds=cpu / 10, read_blocks=8)


def test_runs_retries_and_results_add_up_on_the_job_as_they_end() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=1)  # one run at a time
    job = h.job()
    assert totals(h) == JobTotals()
    h.add(job, h.task(job, "ok"), h.task(job, "bad", retries=2))
    run(h, "ok", 0, 5, 1.0)
    for _ in range(3):
        run(h, "bad", 1, 2, 0.5)
    kept = totals(h)
    assert (kept.succeeded, kept.failed, kept.retries) == (1, 1, 2)
    assert kept.wall_clock_seconds == 5 + 2 * 3
    assert abs(kept.user_cpu_seconds - 2.5) < 1e-9
    assert kept.read_blocks == 32
    assert kept == from_tasks(h)
    assert stored(h).etag == job.entity.etag  # bookkeeping: the job's ETag stays


def test_a_reactivated_or_deleted_task_takes_its_share_away() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=1)
    job = h.job()
    h.add(job, h.task(job, "ok"), h.task(job, "bad", retries=1))
    run(h, "ok", 0, 3, 1.0)
    run(h, "bad", 1, 1, 0.0)
    run(h, "bad", 1, 1, 0.0)
    bad = h.store.tasks.get(h.account, "j", "bad")
    assert bad is not None
    h.scheduler.jobs.reactivate_task(job, bad)
    h.settle()
    kept = totals(h)
    assert (kept.succeeded, kept.failed, kept.retries) == (1, 0, 0)
    assert kept == from_tasks(h)
    ok = h.store.tasks.get(h.account, "j", "ok")
    assert ok is not None
    h.scheduler.jobs.delete_task(h.account, "j", ok)
    kept = totals(h)
    assert (kept.succeeded, kept.wall_clock_seconds) == (0, 2)  # what is left: bad's two ended runs
    assert kept == from_tasks(h)


def test_a_terminated_task_counts_as_failed() -> None:
    h = Harness()
    h.pool()
    job = h.job()
    h.add(job, h.task(job, "long"))
    entity = h.store.tasks.get(h.account, "j", "long")
    assert entity is not None
    h.scheduler.jobs.terminate_task(job, entity)
    h.settle()
    assert totals(h).failed == 1
    assert totals(h) == from_tasks(h)


def test_the_totals_survive_a_restart_and_a_job_stored_without_them_gets_them_at_start() -> None:
    h = Harness()
    h.pool(dedicated=1, slots=2)
    job = h.job()
    h.add(job, h.task(job, "a"), h.task(job, "b", retries=1))
    run(h, "a", 0, 4, 1.0)
    run(h, "b", 1, 1, 0.0)
    expected = totals(h)
    old = stored(h)
    old.internal.totals = None  # as a job written by an earlier Batchite
    h.store.jobs.update(old, modified=False)
    h.store.flush()
    again = Scheduler(h.store, FakeBackend(h.clock), h.clock, h.urls)
    again.recover()
    h.clock.settle()
    assert totals(h) == expected
    assert totals(h) == from_tasks(h)
