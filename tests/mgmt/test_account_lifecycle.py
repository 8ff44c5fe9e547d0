"""An account's life as azure-mgmt-batch and azure-batch see it, on a server of its own: both keys
work over HTTPS, a regenerated key fails at once while the other works, the quotas an operator sets
(Batchite's admin hook, what a support request does on Azure) are shown by management and
enforced, and deleting the account ends its node agent processes and frees its name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Raw, error_of, wait_nodes
from tests.e2e.test_shared_agents import agent_pids
from tests.mgmt.conftest import batch_client_for, resource_client
from tests.sdk import job_options, pool_options

QUOTAS = "/_batchite/admin/accounts/{}/quotas"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batchite-lifecycle").resolve()


@pytest.fixture(scope="module")
def own(data_dir: Path) -> Iterator[ChildServer]:
    child = start_child_server(data_dir, mgmt_port=0)
    yield child
    child.stop()


@pytest.fixture(scope="module")
def mgmt(own: ChildServer) -> Iterator[Any]:
    client = batch_client_for(own)
    yield client
    client.close()


@pytest.fixture(scope="module")
def group(own: ChildServer) -> str:
    name = f"rg-life-{uuid.uuid4().hex[:8]}"
    with resource_client(own) as resources:
        resources.resource_groups.create_or_update(name, {"location": "northeurope"})
    return name


def data_client(own: ChildServer, name: str, key: str) -> Any:
    assert own.https_endpoint is not None
    return make_client(own.https_endpoint, name, key, own.ca_path)


def test_keys_rotate_and_an_operators_quotas_are_shown_and_enforced(own: ChildServer, mgmt: Any, group: str) -> None:
    name = f"rotate{uuid.uuid4().hex[:8]}"
    mgmt.batch_account.begin_create(group, name, {"location": "northeurope"}).result()
    raw = Raw(own.endpoint)
    try:
        quotas = raw.request("PUT", QUOTAS.format(name), body={"poolQuota": 1})
        assert quotas.status_code == 200 and quotas.json()["poolQuota"] == 1
        assert mgmt.batch_account.get(group, name).properties.pool_quota == 1
        keys = mgmt.batch_account.get_keys(group, name)
        primary, secondary = data_client(own, name, keys.primary), data_client(own, name, keys.secondary)
        primary.create_pool(pool_options("p1", dedicated=0))
        assert [p.id for p in secondary.list_pools()] == ["p1"]
        with pytest.raises(HttpResponseError) as err:
            primary.create_pool(pool_options("p2", dedicated=0))
        assert (err.value.status_code, err.value.error.code) == (409, "PoolQuotaReached")
        assert [p.id for p in make_client(own.endpoint).list_pools()] == []  # nothing of it elsewhere

        renewed = mgmt.batch_account.regenerate_key(group, name, {"keyName": "Primary"})
        assert renewed.primary != keys.primary and renewed.secondary == keys.secondary
        with pytest.raises(HttpResponseError) as denied:
            list(primary.list_pools())
        assert (denied.value.status_code, denied.value.error.code) == (403, "AuthenticationFailed")
        assert [p.id for p in secondary.list_pools()] == ["p1"]
        assert [p.id for p in data_client(own, name, renewed.primary).list_pools()] == ["p1"]

        # The hook's refusals: Batch error bodies, never a 500.
        negative = raw.request("PUT", QUOTAS.format(name), body={"poolQuota": -1})
        assert (negative.status_code, error_of(negative)[0]) == (400, "InvalidQuota")
        missing = raw.request("PUT", QUOTAS.format("nosuchaccount"), body={"poolQuota": 1})
        assert (missing.status_code, error_of(missing)[0]) == (404, "ResourceNotFound")
        configured = raw.request("PUT", QUOTAS.format("devbatchaccount1"), body={"poolQuota": 1})
        assert (configured.status_code, error_of(configured)[0]) == (409, "ScopeLocked")
        stored_key = raw.request("PUT", QUOTAS.format(name), body={"poolQuota": 9}, account=name, key=keys.secondary)
        assert stored_key.status_code == 403
        assert mgmt.batch_account.get(group, name).properties.pool_quota == 1
    finally:
        raw.close()


def test_deleting_an_account_ends_its_agents_and_frees_its_name(
    own: ChildServer, mgmt: Any, group: str, data_dir: Path
) -> None:
    name = f"doomed{uuid.uuid4().hex[:8]}"
    mgmt.batch_account.begin_create(group, name, {"location": "northeurope"}).result()
    client = data_client(own, name, mgmt.batch_account.get_keys(group, name).primary)
    client.create_pool(pool_options("p1", dedicated=2))
    wait_nodes(client, "p1", 2)
    client.create_job(job_options("j1", "p1"))
    assert agent_pids(data_dir)
    mgmt.batch_account.begin_delete(group, name).result()
    with pytest.raises(HttpResponseError) as gone:
        list(client.list_pools())
    assert gone.value.status_code == 403
    wait_for(lambda: not agent_pids(data_dir) or None)
    # The name is free again, and the new account starts empty.
    mgmt.batch_account.begin_create(group, name, {"location": "northeurope"}).result()
    fresh = data_client(own, name, mgmt.batch_account.get_keys(group, name).primary)
    assert list(fresh.list_pools()) == [] and list(fresh.list_jobs()) == []
