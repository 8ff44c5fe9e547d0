"""Batch accounts created through Batchite's admin hook (until the management API is wired), then
driven by the official azure-batch SDK over real HTTP: the new account's keys work on the data
plane, a regenerated key fails at once while the other works, its own pool quota is enforced,
deleting it removes its pools and jobs and ends its node agent processes, and accounts survive a
restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Raw, error_of, wait_nodes
from tests.e2e.test_shared_agents import agent_pids
from tests.sdk import job_options, pool_options

ADMIN = "/_batchite/admin/accounts"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return (tmp_path / "data").resolve()


@pytest.fixture
def own_server(data_dir: Path) -> Iterator[ChildServer]:
    child = start_child_server(data_dir)
    yield child
    child.stop()


def create(raw: Raw, name: str, **body: Any) -> dict[str, Any]:
    response = raw.request("PUT", f"{ADMIN}/{name}", body=body or {"location": "local"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_created_account_serves_the_data_plane_and_a_regenerated_key_fails_at_once(own_server: ChildServer) -> None:
    raw = Raw(own_server.endpoint)
    try:
        acc = create(raw, "rotate1", location="westus", quotas={"poolQuota": 1})
        assert acc["name"] == "rotate1" and acc["quotas"]["poolQuota"] == 1
        primary = make_client(own_server.endpoint, "rotate1", acc["primaryKey"])
        secondary = make_client(own_server.endpoint, "rotate1", acc["secondaryKey"])
        primary.create_pool(pool_options("p1", dedicated=0))
        assert [p.id for p in secondary.list_pools()] == ["p1"]
        # Its own pool quota (1), not the settings' (100).
        with pytest.raises(HttpResponseError) as err:
            primary.create_pool(pool_options("p2", dedicated=0))
        assert err.value.status_code == 409 and err.value.error is not None
        assert err.value.error.code == "PoolQuotaReached"
        # The development account has nothing of it.
        assert [p.id for p in make_client(own_server.endpoint).list_pools()] == []
        regenerated = raw.request("POST", f"{ADMIN}/rotate1/regenerateKeys", body={"keyName": "Primary"}).json()
        assert regenerated["primaryKey"] != acc["primaryKey"]
        assert regenerated["secondaryKey"] == acc["secondaryKey"]
        with pytest.raises(HttpResponseError) as denied:
            list(primary.list_pools())
        assert denied.value.status_code == 403 and denied.value.error is not None
        assert denied.value.error.code == "AuthenticationFailed"
        assert [p.id for p in secondary.list_pools()] == ["p1"]
        renewed = make_client(own_server.endpoint, "rotate1", regenerated["primaryKey"])
        assert [p.id for p in renewed.list_pools()] == ["p1"]
        # Bad input to the hook is a Batch error, never a 500.
        bad = raw.request("PUT", f"{ADMIN}/Bad-Name", body={"location": "local"})
        assert (bad.status_code, error_of(bad)[0]) == (400, "AccountNameInvalid")
        taken = raw.request("PUT", f"{ADMIN}/devbatchaccount1", body={"location": "local"})
        assert (taken.status_code, error_of(taken)[0]) == (409, "AccountAlreadyExists")
        key = raw.request("POST", f"{ADMIN}/rotate1/regenerateKeys", body={"keyName": "Tertiary"})
        assert (key.status_code, error_of(key)[0]) == (400, "InvalidKeyName")
        missing = raw.request("GET", f"{ADMIN}/nosuchaccount")
        assert (missing.status_code, error_of(missing)[0]) == (404, "ResourceNotFound")
        # A stored account's key does not manage accounts.
        other = raw.request("PUT", f"{ADMIN}/another1", account="rotate1", key=acc["secondaryKey"])
        assert other.status_code == 403
    finally:
        raw.close()


def test_deleting_an_account_removes_its_pools_and_jobs_and_ends_its_agents(
    own_server: ChildServer, data_dir: Path
) -> None:
    raw = Raw(own_server.endpoint)
    try:
        acc = create(raw, "doomed1")
        client = make_client(own_server.endpoint, "doomed1", acc["primaryKey"])
        client.create_pool(pool_options("p1", dedicated=2))
        wait_nodes(client, "p1", 2)
        client.create_job(job_options("j1", "p1"))
        assert agent_pids(data_dir)
        response = raw.request("DELETE", f"{ADMIN}/doomed1")
        assert response.status_code == 200, response.text
        with pytest.raises(HttpResponseError) as gone:
            list(client.list_pools())
        assert gone.value.status_code == 403
        wait_for(lambda: not agent_pids(data_dir) or None)
        assert raw.request("GET", f"{ADMIN}/doomed1").status_code == 404
        # The name is free again, and the new account starts empty.
        again = create(raw, "doomed1")
        fresh = make_client(own_server.endpoint, "doomed1", again["primaryKey"])
        assert list(fresh.list_pools()) == [] and list(fresh.list_jobs()) == []
    finally:
        raw.close()


def test_accounts_and_their_keys_survive_a_restart(data_dir: Path) -> None:
    first = start_child_server(data_dir)
    try:
        raw = Raw(first.endpoint)
        acc = create(raw, "durable1", quotas={"poolQuota": 3})
        raw.close()
        make_client(first.endpoint, "durable1", acc["secondaryKey"]).create_pool(pool_options("p1", dedicated=0))
    finally:
        first.stop()
    second = start_child_server(data_dir)
    try:
        client = make_client(second.endpoint, "durable1", acc["primaryKey"])
        assert [p.id for p in client.list_pools()] == ["p1"]
        raw = Raw(second.endpoint)
        shown = raw.request("GET", f"{ADMIN}/durable1").json()
        raw.close()
        assert (shown["primaryKey"], shown["quotas"]["poolQuota"]) == (acc["primaryKey"], 3)
    finally:
        second.stop()
