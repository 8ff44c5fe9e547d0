"""One account at a glance (service/account_overview.py), in-process on a ManualClock and a fake
backend: pools and nodes by state, cores by VM size against the quotas, jobs and task counts summed
over jobs (a completed job's kept until it changes), another account's work not counted."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batchite.clock import ManualClock
from batchite.domain.quotas import Quotas
from batchite.scheduler import SchedulerSettings
from batchite.service import BatchService
from batchite.service.account_overview import AccountOverviewService, TaskTotals
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, Account, AccountRegistry
from batchite.store.base import StateCount
from batchite.store.sqlite import SqliteStore
from batchite.wire.models import BatchJobCreateOptions, BatchPoolCreateOptions, BatchTaskCreateOptions
from batchite.wire.types import convert
from tests.unit.scheduler.fakes import FakeBackend

DEV = DEV_ACCOUNT_NAME
IMAGE = {
    "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"},
    "nodeAgentSKUId": "batch.node.ubuntu 22.04",
}


class Env:
    def __init__(self, root: Path) -> None:
        self.clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
        self.backend = FakeBackend(self.clock)
        store = SqliteStore(root / "batchite.db", self.clock)
        accounts = AccountRegistry([Account(DEV, [DEV_ACCOUNT_KEY])])
        settings = SchedulerSettings(quotas=Quotas(dedicated_cores=20, low_priority_cores=10, pools=5, active_jobs=7))
        self.batch = BatchService(store, self.backend, accounts, "http://batchite.test", self.clock, settings=settings)
        self.batch.start()
        self.clock.settle()
        self.overview = AccountOverviewService(self.batch.ctx)

    def pool(self, pool_id: str, vm_size: str, dedicated: int, low: int = 0, account: str = DEV) -> None:
        body = {
            "id": pool_id,
            "vmSize": vm_size,
            "virtualMachineConfiguration": IMAGE,
            "targetDedicatedNodes": dedicated,
            "targetLowPriorityNodes": low,
        }
        self.batch.pools.create(account, convert(BatchPoolCreateOptions, body))
        self.clock.settle()

    def job(self, job_id: str, pool_id: str, tasks: int, account: str = DEV) -> None:
        body = {"id": job_id, "poolInfo": {"poolId": pool_id}}
        self.batch.jobs.create(account, convert(BatchJobCreateOptions, body))
        for n in range(tasks):
            task = {"id": f"{job_id}-t{n}", "commandLine": "true"}
            self.batch.tasks.create(account, job_id, convert(BatchTaskCreateOptions, task))
        self.clock.settle()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.batch.store.close()


def test_pools_nodes_and_cores_by_vm_size(env: Env) -> None:
    env.pool("small", "standard_d2s_v3", dedicated=2, low=1)
    env.pool("big", "Standard_D8s_v3", dedicated=1)
    pools = env.overview.pools(DEV)
    assert [(p.id, p.dedicated_nodes, p.low_priority_nodes, p.vm_size) for p in pools] == [
        ("big", 1, 0, "Standard_D8s_v3"),
        ("small", 2, 1, "standard_d2s_v3"),
    ]
    assert env.overview.nodes_by_state(DEV) == [("idle", 4)]
    assert env.overview.cores_in_use(DEV) == (2 * 2 + 8, 2)
    quotas = {q.key: (q.used, q.limit) for q in env.overview.quotas(DEV)}
    assert quotas == {"dedicatedCores": (12, 20), "lowPriorityCores": (2, 10), "pools": (2, 5), "activeJobs": (0, 7)}


def test_tasks_are_summed_over_jobs_and_a_completed_jobs_counts_are_kept(env: Env) -> None:
    env.pool("p", "standard_d2s_v3", dedicated=2)
    env.job("one", "p", tasks=2)
    env.job("two", "p", tasks=1)
    before = env.overview.tasks(DEV)
    assert (before.active + before.running, before.completed) == (3, 0)
    env.backend.finish_task("one-t0", 0)
    env.backend.finish_task("two-t0", 3)
    env.clock.settle()
    after = env.overview.tasks(DEV)
    assert (after.completed, after.succeeded, after.failed) == (2, 1, 1)
    assert after.active + after.running == 1
    env.batch.jobs.terminate(DEV, "two", None)
    env.clock.settle()
    jobs = env.overview.jobs(DEV)
    assert (jobs.active, jobs.completed) == (1, 1)
    overview = env.overview.overview(DEV)
    assert overview.jobs == jobs and overview.tasks == after
    assert {q.key: q.used for q in overview.quotas}["activeJobs"] == 1
    assert [key for _, key in env.overview._completed] == ["two"]  # kept by its ETag
    assert env.overview.tasks(DEV) == after
    env.batch.jobs.delete(DEV, "two")
    env.clock.settle()
    remaining = env.overview.tasks(DEV)
    assert (remaining.completed, remaining.succeeded) == (1, 1)
    assert env.overview._completed == {}  # a deleted job's counts go too


def test_another_accounts_work_is_not_counted(env: Env) -> None:
    other = env.batch.batch_accounts.create("sub", "rg", "other1", "westus")
    env.pool("mine", "standard_d2s_v3", dedicated=1)
    env.pool("theirs", "standard_d2s_v3", dedicated=3, account=other.name)
    env.job("theirjob", "theirs", tasks=4, account=other.name)
    assert [p.id for p in env.overview.pools(DEV)] == ["mine"]
    assert env.overview.cores_in_use(DEV) == (2, 0)
    assert env.overview.tasks(DEV) == TaskTotals()
    assert env.overview.overview(other.name).nodes_total == 3
    assert {q.key: q.limit for q in env.overview.quotas(other.name)}["pools"] == 5  # the settings' defaults


def test_the_stored_part_runs_in_a_thread(env: Env) -> None:
    env.pool("p", "standard_d2s_v3", dedicated=1)
    env.job("j", "p", tasks=1)
    with ThreadPoolExecutor(1) as pool:
        stored = pool.submit(env.overview.stored, DEV).result()
    assert env.overview.overview(DEV, stored).tasks == stored[1]


def test_the_account_record_configured_or_stored(env: Env) -> None:
    dev = env.overview.record(DEV, env.batch.batch_accounts)
    assert dev is not None and dev.configured and dev.primary_key == DEV_ACCOUNT_KEY
    made = env.batch.batch_accounts.create("sub", "rg", "made1", "westus")
    found = env.overview.record("made1", env.batch.batch_accounts)
    assert found is not None and found.primary_key == made.primary_key and not found.configured
    assert env.overview.record("nothere", env.batch.batch_accounts) is None


def test_task_totals_of_state_counts() -> None:
    rows = [
        StateCount("active", None, 3, 3),
        StateCount("preparing", None, 1, 1),
        StateCount("running", None, 2, 2),
        StateCount("completed", "success", 5, 5),
        StateCount("completed", "failure", 4, 4),
        StateCount("completed", None, 1, 1),
    ]
    assert TaskTotals.of(rows) == TaskTotals(active=4, running=2, completed=10, succeeded=5, failed=4)
