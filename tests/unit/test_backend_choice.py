"""Which compute backend a pool's nodes go to (compute/backends.py, service/pools.py): the default,
or the one its `batchite.backend` metadata names at creation; a backend not served is refused.
In-process, two fake backends behind a BackendSet, on a manual clock. And the settings' choice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from batchite.clock import ManualClock
from batchite.compute.backends import BackendSet
from batchite.domain.errors import BatchError
from batchite.service import BatchService
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, Account, AccountRegistry
from batchite.settings import Settings
from batchite.store.sqlite import SqliteStore
from batchite.wire.models import BatchPoolCreateOptions
from batchite.wire.types import convert
from tests.unit.scheduler.fakes import FakeBackend
from tests.unit.test_batch_accounts import POOL


class Env:
    def __init__(self, root: Path) -> None:
        self.clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
        self.local = FakeBackend(self.clock, name="local")
        self.ray = FakeBackend(self.clock, name="ray")
        accounts = AccountRegistry([Account(DEV_ACCOUNT_NAME, [DEV_ACCOUNT_KEY])])
        store = SqliteStore(root / "batchite.db", self.clock)
        self.batch = BatchService(store, BackendSet(self.local, self.ray), accounts, "http://batchite.test", self.clock)
        self.batch.start()

    def pool(self, pool_id: str, **metadata: str) -> None:
        items = [{"name": k, "value": v} for k, v in metadata.items()]
        body = convert(BatchPoolCreateOptions, {**POOL, "id": pool_id, "metadata": items})
        self.batch.pools.create(DEV_ACCOUNT_NAME, body)
        self.clock.settle()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.batch.store.close()


def test_pools_go_to_the_default_backend_unless_their_metadata_names_another(env: Env) -> None:
    env.pool("plain")
    env.pool("on-ray", **{"batchite.backend": "ray"})
    env.pool("named-local", **{"batchite.backend": "local"})
    assert len(env.local.allocated) == 4 and len(env.ray.allocated) == 2
    nodes = env.batch.store.nodes.list(DEV_ACCOUNT_NAME, "on-ray")
    assert {n.wire.node_agent_info.version for n in nodes if n.wire.node_agent_info} == {"batchite/ray"}
    assert env.batch.scheduler_backends() == ["local", "ray"]


def test_a_backend_not_served_is_refused(env: Env) -> None:
    with pytest.raises(BatchError) as err:
        env.pool("nowhere", **{"batchite.backend": "kubernetes"})
    assert (err.value.status, err.value.code) == (400, "InvalidPropertyValue")
    assert env.batch.store.pools.get(DEV_ACCOUNT_NAME, "", "nowhere") is None


def test_the_settings_choose_ray_by_backend_or_by_address() -> None:
    assert Settings().ray is None
    by_backend = Settings(backend="ray").ray
    assert by_backend is not None and by_backend.default and by_backend.address == ""
    beside = Settings(ray_address="10.0.0.5:6379").ray
    assert beside is not None and not beside.default and beside.address == "10.0.0.5:6379"
    with pytest.raises(ValueError, match="one of local, ray"):  # a SettingsError, when the settings are made
        Settings(backend="kubernetes")
