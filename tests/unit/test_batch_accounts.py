"""Batch accounts through management (service/batch_accounts.py), in-process on a ManualClock and a
fake backend: names, keys, quotas, the location quota, delete with everything the account has, and
accounts kept across a restart (schema 4 data directories migrated)."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchite.clock import ManualClock
from batchite.domain.entities.accounts import CONFIGURED_RESOURCE_GROUP, DEV_SUBSCRIPTION_ID, ProvisioningState
from batchite.domain.errors import BatchError
from batchite.domain.quotas import Quotas
from batchite.scheduler import SchedulerSettings
from batchite.service import BatchService
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, Account, AccountRegistry
from batchite.service.batch_accounts import BatchAccountError, QuotaChange
from batchite.store.sqlite import SCHEMA_VERSION, SqliteStore
from batchite.wire.models import (
    BatchJobCreateOptions,
    BatchJobScheduleCreateOptions,
    BatchPoolCreateOptions,
    BatchTaskCreateOptions,
)
from batchite.wire.types import convert
from tests.unit.scheduler.fakes import FakeBackend

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg1"
POOL = {
    "vmSize": "standard_d2s_v3",
    "virtualMachineConfiguration": {
        "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"},
        "nodeAgentSKUId": "batch.node.ubuntu 22.04",
    },
    "targetDedicatedNodes": 2,
}


class Env:
    def __init__(self, root: Path, quotas: Quotas | None = None) -> None:
        self.root = root
        self.quotas = quotas or Quotas()
        self.clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
        self.batch = self._open()

    def _open(self) -> BatchService:
        store = SqliteStore(self.root / "batchite.db", self.clock)
        self.backend = FakeBackend(self.clock)
        accounts = AccountRegistry([Account(DEV_ACCOUNT_NAME, [DEV_ACCOUNT_KEY])])
        settings = SchedulerSettings(quotas=self.quotas)
        batch = BatchService(store, self.backend, accounts, "http://batchite.test", self.clock, settings=settings)
        batch.start()
        self.clock.settle()
        return batch

    def restart(self) -> None:
        self.batch.store.close()
        self.batch = self._open()

    def pool(self, account: str, pool_id: str, dedicated: int = 2) -> None:
        body = convert(BatchPoolCreateOptions, {**POOL, "id": pool_id, "targetDedicatedNodes": dedicated})
        self.batch.pools.create(account, body)
        self.clock.settle()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.batch.store.close()


def test_a_new_account_has_two_random_64_byte_keys_and_serves_the_data_plane(env: Env) -> None:
    acc = env.batch.batch_accounts.create(SUB, RG, "acct1", "westus", {"team": "a"})
    assert len(base64.b64decode(acc.primary_key)) == 64
    assert len(base64.b64decode(acc.secondary_key)) == 64
    assert acc.primary_key != acc.secondary_key
    assert acc.tags == {"team": "a"}
    assert acc.quotas.pool_quota == 100 and acc.quotas.dedicated_core_quota == 900
    found = env.batch.accounts.get("acct1")
    assert found is not None and found.keys == [acc.primary_key, acc.secondary_key]
    other = env.batch.batch_accounts.create(SUB, RG, "acct2", "westus")
    assert {other.primary_key, other.secondary_key}.isdisjoint({acc.primary_key, acc.secondary_key})


@pytest.mark.parametrize("name", ["ab", "a" * 25, "Upper1", "with-dash", "with_underscore", "ünï", ""])
def test_invalid_names_are_refused(env: Env, name: str) -> None:
    check = env.batch.batch_accounts.check_name_availability(name)
    assert (check.available, check.reason) == (False, "Invalid")
    with pytest.raises(BatchAccountError) as err:
        env.batch.batch_accounts.create(SUB, RG, name, "westus")
    assert (err.value.status, err.value.code) == (400, "AccountNameInvalid")


def test_names_are_unique_across_every_account_configured_ones_too(env: Env) -> None:
    accounts = env.batch.batch_accounts
    assert accounts.check_name_availability("abc").available
    accounts.create(SUB, RG, "abc", "westus")
    for name in ("abc", DEV_ACCOUNT_NAME):
        check = accounts.check_name_availability(name)
        assert (check.available, check.reason) == (False, "AlreadyExists")
        with pytest.raises(BatchAccountError) as err:
            accounts.create(SUB, "other", name, "westus")
        assert (err.value.status, err.value.code) == (409, "AccountAlreadyExists")
    # The same create again (same resource group) is ARM's idempotent PUT: its tags change, its keys stay.
    first = accounts.get(SUB, RG, "abc")
    again = accounts.create(SUB, RG, "abc", "westus", {"x": "1"})
    assert again.primary_key == first.primary_key and again.tags == {"x": "1"}


def test_get_list_and_404(env: Env) -> None:
    accounts = env.batch.batch_accounts
    accounts.create(SUB, "rg1", "bbb", "westus")
    accounts.create(SUB, "RG2", "aaa", "eastus")
    assert [a.name for a in accounts.list(SUB)] == ["aaa", "bbb"]
    assert [a.name for a in accounts.list(SUB, "rg2")] == ["aaa"]
    assert accounts.list("another-subscription") == []
    assert accounts.get(SUB, "Rg1", "bbb").location == "westus"
    for rg, name in (("rg2", "bbb"), ("rg1", "nothere"), ("rg1", DEV_ACCOUNT_NAME)):
        with pytest.raises(BatchAccountError) as err:
            accounts.get(SUB, rg, name)
        assert (err.value.status, err.value.code) == (404, "ResourceNotFound")
    with pytest.raises(BatchAccountError):
        asyncio.run(accounts.delete(SUB, RG, DEV_ACCOUNT_NAME))  # not there: the configured ones live elsewhere
    assert env.batch.accounts.get(DEV_ACCOUNT_NAME) is not None


def test_the_location_quota_bounds_accounts_per_subscription_and_location(tmp_path: Path) -> None:
    env = Env(tmp_path, Quotas(accounts_per_location=2))
    accounts = env.batch.batch_accounts
    accounts.create(SUB, RG, "one1", "westus")
    accounts.create(SUB, RG, "two2", "WestUS")
    with pytest.raises(BatchAccountError) as err:
        accounts.create(SUB, RG, "three3", "westus")
    assert (err.value.status, err.value.code) == (409, "SubscriptionQuotaExceeded")
    accounts.create(SUB, RG, "three3", "eastus")  # another location
    accounts.create("other-sub", RG, "four4", "westus")  # another subscription
    asyncio.run(accounts.delete(SUB, RG, "one1"))
    accounts.create(SUB, RG, "five5", "westus")
    env.batch.store.close()


def test_regenerating_a_key_replaces_only_that_key(env: Env) -> None:
    accounts = env.batch.batch_accounts
    acc = accounts.create(SUB, RG, "keys1", "westus")
    old_primary, old_secondary = acc.primary_key, acc.secondary_key
    after = accounts.regenerate_key(SUB, RG, "keys1", "Primary")
    assert after.primary_key != old_primary and after.secondary_key == old_secondary
    live = env.batch.accounts.get("keys1")
    assert live is not None and live.keys == [after.primary_key, old_secondary]
    again = accounts.regenerate_key(SUB, RG, "keys1", "secondary")
    assert again.secondary_key != old_secondary and again.primary_key == after.primary_key
    with pytest.raises(BatchAccountError) as err:
        accounts.regenerate_key(SUB, RG, "keys1", "tertiary")
    assert (err.value.status, err.value.code) == (400, "InvalidKeyName")


def test_each_account_has_its_own_quotas_on_the_data_plane(env: Env) -> None:
    accounts = env.batch.batch_accounts
    accounts.create(SUB, RG, "quota1", "westus")
    accounts.update(SUB, RG, "quota1", quotas=QuotaChange(pool_quota=1, dedicated_core_quota=2))
    env.pool("quota1", "p1", dedicated=2)  # 2 cores each: room for one node
    with pytest.raises(BatchError) as err:
        env.pool("quota1", "p2")
    assert (err.value.status, err.value.code) == (409, "PoolQuotaReached")
    pool = env.batch.store.pools.get("quota1", "", "p1")
    assert pool is not None
    assert pool.wire.current_dedicated_nodes == 1
    assert [e.code for e in pool.wire.resize_errors or []] == ["AccountCoreQuotaReached"]
    # The configured account keeps the settings' quotas.
    env.pool(DEV_ACCOUNT_NAME, "p1")
    env.pool(DEV_ACCOUNT_NAME, "p2")
    assert env.batch.store.pools.count(DEV_ACCOUNT_NAME, "") == 2
    accounts.update(SUB, RG, "quota1", quotas=QuotaChange(active_job_and_job_schedule_quota=1))
    env.batch.jobs.create("quota1", convert(BatchJobCreateOptions, {"id": "j1", "poolInfo": {"poolId": "p1"}}))
    with pytest.raises(BatchError) as err:
        env.batch.jobs.create("quota1", convert(BatchJobCreateOptions, {"id": "j2", "poolInfo": {"poolId": "p1"}}))
    assert (err.value.status, err.value.code) == (409, "ActiveJobAndScheduleQuotaReached")
    with pytest.raises(BatchAccountError) as bad:
        accounts.update(SUB, RG, "quota1", quotas=QuotaChange(pool_quota=-1))
    assert bad.value.code == "InvalidQuota"


def test_delete_removes_everything_of_the_account_and_releases_its_nodes(env: Env) -> None:
    accounts = env.batch.batch_accounts
    accounts.create(SUB, RG, "gone1", "westus")
    env.pool("gone1", "p1", dedicated=2)
    env.pool(DEV_ACCOUNT_NAME, "keep", dedicated=1)
    env.batch.jobs.create("gone1", convert(BatchJobCreateOptions, {"id": "j1", "poolInfo": {"poolId": "p1"}}))
    env.batch.tasks.create("gone1", "j1", convert(BatchTaskCreateOptions, {"id": "t1", "commandLine": "sleep 100"}))
    schedule = {
        "id": "s1",
        "schedule": {"recurrenceInterval": "PT1M"},
        "jobSpecification": {"poolInfo": {"poolId": "p1"}},
    }
    env.batch.job_schedules.create("gone1", convert(BatchJobScheduleCreateOptions, schedule))
    env.clock.settle()
    assert env.backend.running("t1")
    nodes = [n.id for n in env.batch.store.nodes.list("gone1", "p1")]
    assert len(nodes) == 2
    assert env.batch.store.accounts.entity_count("gone1") > 0
    asyncio.run(accounts.delete(SUB, RG, "gone1"))
    env.clock.settle()
    assert env.batch.accounts.get("gone1") is None
    assert set(nodes) <= set(env.backend.released)
    assert all(r.killed or r.done for r in env.backend.runs.values() if r.launch.task_id == "t1")
    assert env.batch.store.accounts.entity_count("gone1") == 0
    assert env.batch.store.accounts.get("gone1") is None
    assert env.batch.scheduler.timers.armed("gone1", "s1") is None
    assert env.batch.store.pools.get(DEV_ACCOUNT_NAME, "", "keep") is not None
    assert env.batch.batch_accounts.check_name_availability("gone1").available
    # A time of service later, nothing of it has come back.
    env.clock.advance(timedelta(minutes=5))
    assert env.batch.store.accounts.entity_count("gone1") == 0


def test_accounts_keys_and_quotas_survive_a_restart(env: Env) -> None:
    accounts = env.batch.batch_accounts
    acc = accounts.create(SUB, RG, "durable1", "westus", {"k": "v"})
    accounts.update(SUB, RG, "durable1", quotas=QuotaChange(pool_quota=7))
    env.pool("durable1", "p1", dedicated=1)
    env.batch.store.flush()
    env.restart()
    again = env.batch.batch_accounts.get(SUB, RG, "durable1")
    assert (again.primary_key, again.secondary_key, again.tags) == (acc.primary_key, acc.secondary_key, {"k": "v"})
    assert env.batch.scheduler.quotas_of("durable1").pools == 7
    assert env.batch.store.pools.get("durable1", "", "p1") is not None


def test_a_schema_4_data_directory_opens_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SqliteStore(path)
    store.flush()
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE batch_accounts")
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        assert store.accounts.list() == []
        assert int(store.db.conn.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION
    finally:
        store.close()


def test_the_configured_accounts_are_read_only_in_their_own_resource_group(env: Env) -> None:
    accounts = env.batch.batch_accounts
    accounts.create(DEV_SUBSCRIPTION_ID, "mine", "made1", "westus")
    dev = accounts.get(DEV_SUBSCRIPTION_ID, "Batchite", DEV_ACCOUNT_NAME)
    assert dev.configured and dev.primary_key == DEV_ACCOUNT_KEY and dev.resource_group == CONFIGURED_RESOURCE_GROUP
    assert dev.quotas.pool_quota == env.quotas.pools
    assert [a.name for a in accounts.list(DEV_SUBSCRIPTION_ID)] == [DEV_ACCOUNT_NAME, "made1"]
    assert [a.name for a in accounts.list(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP)] == [DEV_ACCOUNT_NAME]
    assert accounts.list(SUB) == []  # only the development subscription has them
    assert accounts.group_is_locked(DEV_SUBSCRIPTION_ID, "BATCHITE")
    assert not accounts.group_is_locked(DEV_SUBSCRIPTION_ID, "mine")
    # Creating it again is the idempotent PUT; changing, re-keying or deleting it is refused.
    assert accounts.create(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME, "westus").configured
    refusals = [
        lambda: accounts.update(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME, tags={"a": "b"}),
        lambda: accounts.regenerate_key(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME, "primary"),
        lambda: asyncio.run(accounts.delete(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME)),
    ]
    for refused in refusals:
        with pytest.raises(BatchAccountError) as err:
            refused()
        assert (err.value.status, err.value.code) == (409, "ScopeLocked")
    assert asyncio.run(accounts.delete_resource_group(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP)) == []
    assert env.batch.accounts.get(DEV_ACCOUNT_NAME) is not None


def test_a_delete_cut_short_is_finished_at_the_next_start(env: Env) -> None:
    accounts = env.batch.batch_accounts
    accounts.create(SUB, RG, "half1", "westus")
    env.pool("half1", "p1", dedicated=1)
    # What a crash right after the delete was stored (before anything stopped) leaves behind:
    record = env.batch.store.accounts.get("half1")
    assert record is not None
    record.provisioning_state = ProvisioningState.DELETING
    env.batch.store.accounts.put(record)
    env.batch.store.flush()
    assert env.batch.accounts.get("half1") is None  # the data plane refuses it at once
    with pytest.raises(BatchAccountError) as err:
        accounts.get(SUB, RG, "half1")
    assert err.value.status == 404
    assert [a.name for a in accounts.list(SUB)] == []
    with pytest.raises(BatchAccountError) as busy:
        accounts.create(SUB, RG, "half1", "westus")
    assert (busy.value.status, busy.value.code) == (409, "AccountBeingDeleted")
    env.restart()
    env.clock.settle()
    assert env.batch.store.accounts.get("half1") is None
    assert env.batch.store.accounts.entity_count("half1") == 0
    assert env.batch.batch_accounts.check_name_availability("half1").available
