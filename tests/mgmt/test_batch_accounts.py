"""Microsoft.Batch/batchAccounts through azure-mgmt-batch 19.0.0's BatchManagementClient over HTTPS:
the account management sample's flow, the account serving the data plane with its keys, the ARM
error codes, and a resource group's deletion taking its accounts with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batchite.cli.server import ChildServer, free_port, start_child_server
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tokens import MANAGEMENT_SCOPE
from batchite.service.accounts import DEV_ACCOUNT_NAME
from tests.conftest import make_client
from tests.mgmt.conftest import batch_client_for, credential_for, resource_client
from tests.sdk import pool_options

BATCH_API = "2025-06-01"


@pytest.fixture(scope="module")
def batch_mgmt(mgmt_server: ChildServer, credential: Any) -> Iterator[Any]:
    client = batch_client_for(mgmt_server, credential)
    yield client
    client.close()


def name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def new_group(resources: Any, location: str) -> str:
    group = name("rg-accounts-")
    resources.resource_groups.create_or_update(group, {"location": location})
    return group


def create_account(batch_mgmt: Any, group: str, account: str, location: str, **extra: Any) -> Any:
    return batch_mgmt.batch_account.begin_create(group, account, {"location": location, **extra}).result()


def test_the_account_management_flow(mgmt_server: ChildServer, resources: Any, batch_mgmt: Any) -> None:
    group = new_group(resources, "eastus")
    account = name("acct")
    available = batch_mgmt.location.check_name_availability(
        "eastus", {"name": account, "type": "Microsoft.Batch/batchAccounts"}
    )
    assert available.name_available is True
    assert batch_mgmt.location.get_quotas("eastus").account_quota == 3

    created = create_account(batch_mgmt, group, account, "eastus", tags={"purpose": "test"})
    assert created.name == account and created.type == "Microsoft.Batch/batchAccounts"
    assert created.id == (
        f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{account}"
    )
    assert created.location == "eastus" and created.tags == {"purpose": "test"}
    props = created.properties
    assert props.provisioning_state == "Succeeded" and props.pool_allocation_mode == "BatchService"
    assert mgmt_server.https_endpoint is not None
    assert props.account_endpoint == mgmt_server.https_endpoint.split("://", 1)[1]
    assert props.public_network_access == "Enabled"
    assert props.dedicated_core_quota > 0 and props.pool_quota > 0 and props.active_job_and_job_schedule_quota > 0

    taken = batch_mgmt.location.check_name_availability("eastus", {"name": account})
    assert (taken.name_available, taken.reason) == (False, "AlreadyExists")

    got = batch_mgmt.batch_account.get(group, account)
    assert got.id == created.id and got.properties.account_endpoint == props.account_endpoint
    assert account in [a.name for a in batch_mgmt.batch_account.list()]
    assert [a.name for a in batch_mgmt.batch_account.list_by_resource_group(group)] == [account]

    keys = batch_mgmt.batch_account.get_keys(group, account)
    assert keys.account_name == account and keys.primary and keys.secondary and keys.primary != keys.secondary

    # The account is real on the data plane, with its own key.
    data = make_client(f"https://{props.account_endpoint}", account, keys.primary, mgmt_server.ca_path)
    data.create_pool(pool_options("mgmt-pool", dedicated=0))
    assert [p.id for p in data.list_pools()] == ["mgmt-pool"]

    regenerated = batch_mgmt.batch_account.regenerate_key(group, account, {"keyName": "Primary"})
    assert regenerated.primary != keys.primary and regenerated.secondary == keys.secondary
    with pytest.raises(HttpResponseError) as refused:
        data.get_pool("mgmt-pool")
    assert refused.value.status_code == 403
    fresh = make_client(f"https://{props.account_endpoint}", account, regenerated.primary, mgmt_server.ca_path)
    assert fresh.get_pool("mgmt-pool").id == "mgmt-pool"

    updated = batch_mgmt.batch_account.update(group, account, {"tags": {"purpose": "updated", "owner": "me"}})
    assert updated.tags == {"purpose": "updated", "owner": "me"}
    assert batch_mgmt.batch_account.get(group, account).tags == {"purpose": "updated", "owner": "me"}

    batch_mgmt.batch_account.begin_delete(group, account).result()
    with pytest.raises(ResourceNotFoundError) as gone:
        batch_mgmt.batch_account.get(group, account)
    assert gone.value.error.code == "ResourceNotFound"
    assert account not in [a.name for a in batch_mgmt.batch_account.list()]
    with pytest.raises(HttpResponseError) as after:
        fresh.get_pool("mgmt-pool")
    assert after.value.status_code in (401, 403)
    resources.resource_groups.begin_delete(group).result()


def test_invalid_and_duplicate_names(resources: Any, batch_mgmt: Any) -> None:
    group = new_group(resources, "westus")
    invalid = batch_mgmt.location.check_name_availability("westus", {"name": "Not_Valid"})
    assert (invalid.name_available, invalid.reason) == (False, "Invalid")
    with pytest.raises(HttpResponseError) as bad:
        create_account(batch_mgmt, group, "Not_Valid", "westus")
    assert (bad.value.status_code, bad.value.error.code) == (400, "AccountNameInvalid")

    account = name("dup")
    create_account(batch_mgmt, group, account, "westus")
    other = new_group(resources, "westus")
    with pytest.raises(HttpResponseError) as duplicate:
        create_account(batch_mgmt, other, account, "westus")
    assert (duplicate.value.status_code, duplicate.value.error.code) == (409, "AccountAlreadyExists")
    # The configured development account's name is taken too.
    configured = batch_mgmt.location.check_name_availability("westus", {"name": DEV_ACCOUNT_NAME})
    assert (configured.name_available, configured.reason) == (False, "AlreadyExists")
    with pytest.raises(HttpResponseError) as configured_taken:
        create_account(batch_mgmt, group, DEV_ACCOUNT_NAME, "westus")
    assert configured_taken.value.error.code == "AccountAlreadyExists"
    again = create_account(batch_mgmt, group, account, "westus", tags={"again": "yes"})  # PUT is idempotent
    assert again.tags == {"again": "yes"}
    batch_mgmt.batch_account.begin_delete(group, account).result()
    for g in (group, other):
        resources.resource_groups.begin_delete(g).result()


def test_missing_resource_group_account_and_location(batch_mgmt: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as no_group:
        create_account(batch_mgmt, name("rg-missing-"), name("acct"), "eastus")
    assert no_group.value.error.code == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as no_quota:
        batch_mgmt.location.get_quotas("atlantis")
    assert no_quota.value.error.code == "LocationNotFound"


def test_unknown_account_and_bad_bodies(resources: Any, batch_mgmt: Any, https: httpx.Client, credential: Any) -> None:
    group = new_group(resources, "centralus")
    with pytest.raises(ResourceNotFoundError) as missing:
        batch_mgmt.batch_account.get(group, "nosuchaccount")
    assert missing.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError):
        batch_mgmt.batch_account.begin_delete(group, "nosuchaccount").result()
    with pytest.raises(HttpResponseError) as no_location:
        batch_mgmt.batch_account.begin_create(group, name("acct"), {"location": "atlantis"}).result()
    assert (no_location.value.status_code, no_location.value.error.code) == (400, "LocationNotAvailableForResourceType")
    account = name("keys")
    create_account(batch_mgmt, group, account, "centralus")
    with pytest.raises(HttpResponseError) as bad_key:
        batch_mgmt.batch_account.regenerate_key(group, account, {"keyName": "Tertiary"})
    assert (bad_key.value.status_code, bad_key.value.error.code) == (400, "InvalidKeyName")
    token = credential.get_token(MANAGEMENT_SCOPE).token
    url = (
        f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/"
        f"{account}?api-version={BATCH_API}"
    )
    garbled = https.put(url, content=b"{not json", headers={"Authorization": f"Bearer {token}"})
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "InvalidRequestContent"
    wrong_type = https.put(url, json={"location": 5}, headers={"Authorization": f"Bearer {token}"})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "InvalidRequestContent"
    resources.resource_groups.begin_delete(group).result()


def test_deleting_a_resource_group_deletes_its_accounts(
    mgmt_server: ChildServer, resources: Any, batch_mgmt: Any
) -> None:
    group = new_group(resources, "westus2")
    accounts = [name("grp"), name("grp")]
    for account in accounts:
        create_account(batch_mgmt, group, account, "westus2")
    key = batch_mgmt.batch_account.get_keys(group, accounts[0]).primary
    endpoint = batch_mgmt.batch_account.get(group, accounts[0]).properties.account_endpoint
    make_client(f"https://{endpoint}", accounts[0], key, mgmt_server.ca_path).create_pool(
        pool_options("grp-pool", dedicated=0)
    )

    resources.resource_groups.begin_delete(group).result()
    listed = [a.name for a in batch_mgmt.batch_account.list()]
    assert not set(accounts) & set(listed)
    for account in accounts:
        assert batch_mgmt.location.check_name_availability("westus2", {"name": account}).name_available is True
    with pytest.raises(HttpResponseError) as refused:
        make_client(f"https://{endpoint}", accounts[0], key, mgmt_server.ca_path).list_pools().next()
    assert refused.value.status_code in (401, 403)


def test_the_operations_list(batch_mgmt: Any) -> None:
    names = [op.name for op in batch_mgmt.operations.list()]
    assert "Microsoft.Batch/batchAccounts/read" in names and "Microsoft.Batch/batchAccounts/write" in names
    assert all(n.startswith("Microsoft.Batch/") for n in names)


def test_accounts_and_their_keys_survive_a_restart(tmp_path: Path) -> None:
    mgmt_port, port = free_port(), free_port()
    account = name("kept")
    first = start_child_server(tmp_path, port=port, mgmt_port=mgmt_port)
    try:
        group = new_group(resource_client(first), "japaneast")
        batch_mgmt = batch_client_for(first, credential_for(first))
        create_account(batch_mgmt, group, account, "japaneast", tags={"kept": "yes"})
        keys = batch_mgmt.batch_account.get_keys(group, account)
        make_client(first.endpoint, account, keys.primary).create_pool(pool_options("kept-pool", dedicated=0))
    finally:
        first.stop()
    second = start_child_server(tmp_path, port=port, mgmt_port=mgmt_port)
    try:
        batch_mgmt = batch_client_for(second, credential_for(second))
        kept = batch_mgmt.batch_account.get(group, account)
        assert kept.tags == {"kept": "yes"} and kept.properties.provisioning_state == "Succeeded"
        assert batch_mgmt.batch_account.get_keys(group, account).primary == keys.primary
        pools = make_client(second.endpoint, account, keys.primary).list_pools()
        assert [p.id for p in pools] == ["kept-pool"]
    finally:
        second.stop()
