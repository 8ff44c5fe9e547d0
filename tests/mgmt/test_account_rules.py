"""What management's accounts obey, through azure-mgmt-batch 19.0.0 on a server with small quotas:
each quota shown by management and enforced by the data plane (over HTTPS, on the accountEndpoint),
the location's account quota, the configured accounts read-only in resource group `batchite`,
Microsoft.Batch registered again by the SDK itself, and a service principal from configuration."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError

from batchite.cli.server import ChildServer, start_child_server
from batchite.domain.entities.accounts import CONFIGURED_RESOURCE_GROUP
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tokens import MANAGEMENT_SCOPE
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client, wait_for
from tests.mgmt.conftest import batch_client_for, credential_for, resource_client
from tests.sdk import job_options, pool_options

EXTRA_CLIENT = "9f0c1e00-0000-4000-8000-00000000abcd"
EXTRA_SECRET = "a-configured-secret"
QUOTAS = {
    "--dedicated-core-quota": "4",
    "--low-priority-core-quota": "2",
    "--pool-quota": "2",
    "--active-job-quota": "1",
    "--location-account-quota": "1",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    args = [part for flag, value in QUOTAS.items() for part in (flag, value)]
    args += ["--mgmt-clients", f"{EXTRA_CLIENT}:{EXTRA_SECRET}"]
    child = start_child_server(tmp_path_factory.mktemp("batchite-rules"), args, mgmt_port=0)
    yield child
    child.stop()


@pytest.fixture(scope="module")
def mgmt(small: ChildServer) -> Iterator[Any]:
    client = batch_client_for(small)
    yield client
    client.close()


@pytest.fixture(scope="module")
def resources(small: ChildServer) -> Iterator[Any]:
    client = resource_client(small)
    yield client
    client.close()


def test_each_quota_is_shown_by_management_and_enforced_by_the_data_plane(
    small: ChildServer, mgmt: Any, resources: Any
) -> None:
    group = f"rg-rules-{uuid.uuid4().hex[:8]}"
    resources.resource_groups.create_or_update(group, {"location": "japaneast"})
    assert mgmt.location.get_quotas("japaneast").account_quota == 1
    account = f"rules{uuid.uuid4().hex[:10]}"
    props = mgmt.batch_account.begin_create(group, account, {"location": "japaneast"}).result().properties
    shown = (props.dedicated_core_quota, props.low_priority_core_quota, props.pool_quota)
    assert shown == (4, 2, 2) and props.active_job_and_job_schedule_quota == 1

    # The location's account quota (1 here) is enforced by account create.
    with pytest.raises(HttpResponseError) as over:
        mgmt.batch_account.begin_create(group, f"more{uuid.uuid4().hex[:10]}", {"location": "japaneast"}).result()
    assert (over.value.status_code, over.value.error.code) == (409, "SubscriptionQuotaExceeded")

    key = mgmt.batch_account.get_keys(group, account).primary
    assert small.https_endpoint is not None and props.account_endpoint == small.https_endpoint.split("://")[1]
    data = make_client(f"https://{props.account_endpoint}", account, key, small.ca_path)
    # Cores: a standard_d2s_v3 node has 2; 4 dedicated cores stop a pool of 3 at 2 nodes, 2 low-priority at 1.
    data.create_pool(pool_options("cores", dedicated=3, target_low_priority_nodes=2))
    pool = wait_for(lambda: p if (p := data.get_pool("cores")).allocation_state == "steady" else None)
    assert (pool.current_dedicated_nodes, pool.current_low_priority_nodes) == (2, 1)
    assert "AccountCoreQuotaReached" in [e.code for e in pool.resize_errors or []]
    assert "AccountLowPriorityCoreQuotaReached" in [e.code for e in pool.resize_errors or []]
    # Pools: 2.
    data.create_pool(pool_options("second", dedicated=0))
    with pytest.raises(HttpResponseError) as pools:
        data.create_pool(pool_options("third", dedicated=0))
    assert (pools.value.status_code, pools.value.error.code) == (409, "PoolQuotaReached")
    # Active jobs and job schedules: 1.
    data.create_job(job_options("job1", "second"))
    with pytest.raises(HttpResponseError) as jobs:
        data.create_job(job_options("job2", "second"))
    assert (jobs.value.status_code, jobs.value.error.code) == (409, "ActiveJobAndScheduleQuotaReached")
    data.close()
    mgmt.batch_account.begin_delete(group, account).result()
    # Its place in the location is free again.
    again = f"again{uuid.uuid4().hex[:10]}"
    mgmt.batch_account.begin_create(group, again, {"location": "japaneast"}).result()
    resources.resource_groups.begin_delete(group).result()


def test_the_configured_account_is_in_resource_group_batchite_and_read_only(
    small: ChildServer, mgmt: Any, resources: Any
) -> None:
    assert resources.resource_groups.check_existence(CONFIGURED_RESOURCE_GROUP)
    dev = mgmt.batch_account.get(CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME)
    assert dev.id == (
        f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{CONFIGURED_RESOURCE_GROUP}"
        f"/providers/Microsoft.Batch/batchAccounts/{DEV_ACCOUNT_NAME}"
    )
    assert dev.properties.pool_quota == 2  # the settings' quotas
    assert DEV_ACCOUNT_NAME in [a.name for a in mgmt.batch_account.list()]
    keys = mgmt.batch_account.get_keys(CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME)
    assert keys.primary == DEV_ACCOUNT_KEY
    refusals = [
        lambda: mgmt.batch_account.regenerate_key(CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME, {"keyName": "Primary"}),
        lambda: mgmt.batch_account.update(CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME, {"tags": {"a": "b"}}),
        lambda: mgmt.batch_account.begin_delete(CONFIGURED_RESOURCE_GROUP, DEV_ACCOUNT_NAME).result(),
        lambda: resources.resource_groups.begin_delete(CONFIGURED_RESOURCE_GROUP).result(),
    ]
    for refused in refusals:
        with pytest.raises(HttpResponseError) as err:
            refused()
        assert (err.value.status_code, err.value.error.code) == (409, "ScopeLocked")
    # Its name is taken everywhere else.
    resources.resource_groups.create_or_update("elsewhere", {"location": "westus"})
    with pytest.raises(ResourceExistsError) as taken:
        mgmt.batch_account.begin_create("elsewhere", DEV_ACCOUNT_NAME, {"location": "westus"}).result()
    assert taken.value.error.code == "AccountAlreadyExists"
    resources.resource_groups.begin_delete("elsewhere").result()
    # And it still serves the data plane with the published key, over HTTP and HTTPS.
    assert small.https_endpoint is not None
    for endpoint, ca in ((small.endpoint, None), (small.https_endpoint, small.ca_path)):
        client = make_client(endpoint, DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY, ca)
        assert list(client.list_supported_images())
        client.close()


def test_an_unregistered_provider_is_registered_by_the_sdk_itself(
    small: ChildServer, mgmt: Any, resources: Any
) -> None:
    resources.providers.unregister("Microsoft.Batch")
    assert resources.providers.get("Microsoft.Batch").registration_state == "NotRegistered"
    # Without the client's registration policy the refusal shows: 409 MissingSubscriptionRegistration.
    raw = make_https(small)
    answer = raw.get(
        f"/subscriptions/{DEV_SUBSCRIPTION_ID}/providers/Microsoft.Batch/batchAccounts",
        params={"api-version": "2025-06-01"},
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "MissingSubscriptionRegistration"
    assert "'Microsoft.Batch'" in answer.json()["error"]["message"]
    # azure-mgmt-core's ARMAutoResourceProviderRegistrationPolicy registers it and retries (after 10 s).
    names = [a.name for a in mgmt.batch_account.list()]
    assert DEV_ACCOUNT_NAME in names
    assert resources.providers.get("Microsoft.Batch").registration_state == "Registered"


def make_https(server: ChildServer) -> Any:
    import httpx

    from tests.mgmt.conftest import trusting

    token = credential_for(server).get_token(MANAGEMENT_SCOPE).token
    return httpx.Client(
        base_url=server.mgmt_endpoint or "",
        verify=trusting(server),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_service_principal_from_configuration_gets_tokens(small: ChildServer) -> None:
    client = batch_client_for(small, credential_for(small, EXTRA_SECRET, EXTRA_CLIENT))
    assert DEV_ACCOUNT_NAME in [a.name for a in client.batch_account.list()]
    client.close()
    with pytest.raises(ClientAuthenticationError):
        credential_for(small, "not-its-secret", EXTRA_CLIENT).get_token(MANAGEMENT_SCOPE)
    assert credential_for(small).get_token(MANAGEMENT_SCOPE).token


def test_a_bad_client_configuration_stops_the_server_with_a_clear_message(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_child_server(tmp_path_factory.mktemp("bad-clients"), ["--mgmt-clients", "no-secret-here"], mgmt_port=0)
    assert "--mgmt-clients" in str(failed.value) or "client-id:secret" in str(failed.value)
