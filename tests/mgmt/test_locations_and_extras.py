"""The rest of Microsoft.Batch through azure-mgmt-batch 19.0.0 over HTTPS: the locations' VM SKUs,
an ARM-created account's side endpoints (auto-storage key sync, outbound network dependencies,
detectors, private link resources, private endpoint connections, network security perimeter
configurations) and the operations list; their paging, filters, 404s and 400s."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from batchite.cli.server import ChildServer, start_child_server
from batchite.domain.vmsizes import SIZES
from batchite.mgmt.account_extras import host_port
from batchite.mgmt.errors import ArmError
from batchite.mgmt.locations import family_filter
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tokens import MANAGEMENT_SCOPE
from batchite.storage.linked import azurite_connection_string
from tests.conftest import make_client, wait_for
from tests.mgmt.conftest import batch_client_for, credential_for, resource_client
from tests.mgmt.test_batch_accounts import create_account, name, new_group
from tests.sdk import pool_options

API = "api-version=2025-06-01"


@pytest.fixture(scope="module")
def batch_mgmt(mgmt_server: ChildServer, credential: Any) -> Iterator[Any]:
    client = batch_client_for(mgmt_server, credential)
    yield client
    client.close()


@pytest.fixture(scope="module")
def account(resources: Any, batch_mgmt: Any) -> Iterator[tuple[str, str]]:
    """(resource group, account) made over ARM, gone with its group at the end."""
    group = new_group(resources, "eastus")
    acct = name("extras")
    create_account(batch_mgmt, group, acct, "eastus")
    yield group, acct
    resources.resource_groups.begin_delete(group).result()


@pytest.fixture(scope="module")
def bearer(credential: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential.get_token(MANAGEMENT_SCOPE).token}"}


def account_path(group: str, acct: str) -> str:
    return f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{acct}"


# -- locations' VM SKUs ---------------------------------------------------------------------------


def test_every_known_size_is_a_supported_sku(batch_mgmt: Any) -> None:
    skus = list(batch_mgmt.location.list_supported_virtual_machine_skus("eastus"))
    assert [s.name for s in skus] == [s.name for s in SIZES.values()]
    d2 = next(s for s in skus if s.name == "Standard_D2_v3")
    assert d2.family_name == "standardDv3Family" and d2.batch_support_end_of_life is None
    capabilities = {c.name: c.value for c in d2.capabilities}
    assert capabilities["vCPUs"] == "2" and capabilities["vCPUsAvailable"] == "2"
    assert capabilities["MemoryGB"] == "8" and capabilities["LowPriorityCapable"] == "True"
    a1 = next(s for s in skus if s.name == "Standard_D1_v2")
    assert {c.name: c.value for c in a1.capabilities}["MemoryGB"] == "3.5"


def test_skus_are_paged_by_maxresults(batch_mgmt: Any) -> None:
    pages = list(batch_mgmt.location.list_supported_virtual_machine_skus("westeurope", maxresults=7).by_page())
    sizes = [[s.name for s in page] for page in pages]
    assert all(len(p) == 7 for p in sizes[:-1]) and 0 < len(sizes[-1]) <= 7
    assert [n for p in sizes for n in p] == [s.name for s in SIZES.values()]


def test_skus_filtered_by_family(batch_mgmt: Any) -> None:
    one = list(
        batch_mgmt.location.list_supported_virtual_machine_skus("East US", filter="familyName eq 'standardDv3Family'")
    )
    assert [s.name for s in one] == [f"Standard_D{n}_v3" for n in (2, 4, 8, 16, 32, 48, 64)]
    both = batch_mgmt.location.list_supported_virtual_machine_skus(
        "eastus", filter="familyName eq 'STANDARDFFAMILY' or familyName eq 'standardBSFamily'"
    )
    assert {s.family_name for s in both} == {"standardFFamily", "standardBSFamily"}
    none = batch_mgmt.location.list_supported_virtual_machine_skus("eastus", filter="familyName eq 'noSuchFamily'")
    assert list(none) == []


def test_sku_errors(batch_mgmt: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as unknown:
        list(batch_mgmt.location.list_supported_virtual_machine_skus("atlantis"))
    assert unknown.value.error.code == "LocationNotFound"
    for bad in ("name eq 'Standard_D2_v3'", "familyName ne 'x'", "familyName eq 'a' and familyName eq 'b'", "("):
        with pytest.raises(HttpResponseError) as refused:
            list(batch_mgmt.location.list_supported_virtual_machine_skus("eastus", filter=bad))
        assert (refused.value.status_code, refused.value.error.code) == (400, "InvalidParameter"), bad
    with pytest.raises(HttpResponseError) as zero:
        list(batch_mgmt.location.list_supported_virtual_machine_skus("eastus", maxresults=0))
    assert (zero.value.status_code, zero.value.error.code) == (400, "InvalidParameter")


def test_family_filter_grammar() -> None:
    assert family_filter("") is None and family_filter("  ") is None
    assert family_filter("familyName eq 'standardDv3Family'") == {"standarddv3family"}
    assert family_filter(" FAMILYNAME EQ 'a'  OR familyName eq 'it''s' ") == {"a", "it's"}
    for bad in ("familyName eq 'a' orfamilyName eq 'b'", "familyName eq 'a' or", "familyName eq a", "x"):
        with pytest.raises(ArmError):
            family_filter(bad)


# -- the account's side endpoints, no linked storage ----------------------------------------------


def test_sync_auto_storage_keys_without_linked_storage(batch_mgmt: Any, account: tuple[str, str]) -> None:
    group, acct = account
    with pytest.raises(ResourceExistsError) as refused:
        batch_mgmt.batch_account.synchronize_auto_storage_keys(group, acct)
    assert (refused.value.status_code, refused.value.error.code) == (409, "AutoStorageNotConfigured")


def test_outbound_endpoints_without_linked_storage(batch_mgmt: Any, account: tuple[str, str]) -> None:
    group, acct = account
    found = list(batch_mgmt.batch_account.list_outbound_network_dependencies_endpoints(group, acct))
    assert [e.category for e in found] == ["Azure Batch"]
    host, port = host_port(batch_mgmt.batch_account.get(group, acct).properties.account_endpoint)
    (batch,) = found[0].endpoints
    assert batch.domain_name == host and [d.port for d in batch.endpoint_details] == [port]
    assert batch.description


def test_detectors_report_the_accounts_pools(
    mgmt_server: ChildServer, batch_mgmt: Any, account: tuple[str, str]
) -> None:
    group, acct = account
    (listed,) = list(batch_mgmt.batch_account.list_detectors(group, acct))
    assert listed.name == "poolsAndNodes" and listed.type == "Microsoft.Batch/batchAccounts/detectors"
    assert listed.id == f"{account_path(group, acct)}/detectors/poolsAndNodes"
    empty = json.loads(base64.b64decode(listed.properties.value))
    assert empty["metadata"]["id"] == "poolsAndNodes" and empty["dataset"][0]["table"]["rows"] == []
    assert empty["status"]["statusId"] == 4

    keys = batch_mgmt.batch_account.get_keys(group, acct)
    data = make_client(mgmt_server.endpoint, acct, keys.primary)
    data.create_pool(pool_options("detected", dedicated=1))
    wait_for(lambda: [n for n in data.list_nodes("detected") if n.state == "idle"], timeout=60)

    got = batch_mgmt.batch_account.get_detector(group, acct, "POOLSANDNODES")
    document = json.loads(base64.b64decode(got.properties.value))
    table = document["dataset"][0]["table"]
    columns = [c["columnName"] for c in table["columns"]]
    row = dict(zip(columns, next(r for r in table["rows"] if r[1] == "dedicated"), strict=True))
    assert row["poolId"] == "detected" and row["total"] == 1 and row["idle"] == 1 and row["unusable"] == 0
    assert document["status"]["statusId"] == 3

    with pytest.raises(ResourceNotFoundError) as unknown:
        batch_mgmt.batch_account.get_detector(group, acct, "noSuchDetector")
    assert unknown.value.error.code == "ResourceNotFound"


def test_no_private_networking(batch_mgmt: Any, account: tuple[str, str]) -> None:
    group, acct = account
    assert list(batch_mgmt.private_link_resource.list_by_batch_account(group, acct)) == []
    assert list(batch_mgmt.private_endpoint_connection.list_by_batch_account(group, acct, maxresults=5)) == []
    assert list(batch_mgmt.network_security_perimeter.list_configurations(group, acct)) == []
    calls = [
        lambda: batch_mgmt.private_link_resource.get(group, acct, "batchAccount"),
        lambda: batch_mgmt.private_endpoint_connection.get(group, acct, "conn"),
        lambda: batch_mgmt.private_endpoint_connection.begin_update(
            group, acct, "conn", {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}
        ).result(),
        lambda: batch_mgmt.private_endpoint_connection.begin_delete(group, acct, "conn").result(),
        lambda: batch_mgmt.network_security_perimeter.get_configuration(group, acct, "perimeter.association"),
        lambda: batch_mgmt.network_security_perimeter.begin_reconcile_configuration(
            group, acct, "perimeter.association"
        ).result(),
    ]
    for call in calls:
        with pytest.raises(ResourceNotFoundError) as missing:
            call()
        assert missing.value.status_code == 404 and missing.value.error.code == "ResourceNotFound"
        assert acct in missing.value.error.message


def test_a_malformed_connection_update_is_400(
    https: httpx.Client, bearer: dict[str, str], account: tuple[str, str]
) -> None:
    path = f"{account_path(*account)}/privateEndpointConnections/conn?{API}"
    bad = https.patch(path, content=b"{not json", headers={**bearer, "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidRequestContent"
    typed = https.patch(path, json={"properties": {"privateLinkServiceConnectionState": 5}}, headers=bearer)
    assert typed.status_code == 400 and typed.json()["error"]["code"] == "InvalidRequestContent"


def test_side_endpoints_of_an_unknown_account(batch_mgmt: Any, account: tuple[str, str]) -> None:
    group, _ = account
    calls = [
        lambda: batch_mgmt.batch_account.synchronize_auto_storage_keys(group, "nosuchacct"),
        lambda: list(batch_mgmt.batch_account.list_outbound_network_dependencies_endpoints(group, "nosuchacct")),
        lambda: list(batch_mgmt.batch_account.list_detectors(group, "nosuchacct")),
        lambda: list(batch_mgmt.private_link_resource.list_by_batch_account(group, "nosuchacct")),
        lambda: batch_mgmt.private_endpoint_connection.begin_delete(group, "nosuchacct", "conn").result(),
        lambda: list(batch_mgmt.network_security_perimeter.list_configurations("no-such-group", "nosuchacct")),
    ]
    codes = []
    for call in calls:
        with pytest.raises(ResourceNotFoundError) as missing:
            call()
        codes.append(missing.value.error.code)
    assert codes == ["ResourceNotFound"] * 5 + ["ResourceGroupNotFound"]


# -- with linked storage --------------------------------------------------------------------------


def test_linked_storage_syncs_and_is_an_outbound_endpoint(tmp_path: Path) -> None:
    storage = azurite_connection_string("127.0.0.1", 10000)  # parsed, never reached by these calls
    server = start_child_server(tmp_path, ["--storage-connection-string", storage], mgmt_port=0)
    try:
        batch_mgmt = batch_client_for(server, credential_for(server))
        group = new_group(resource_client(server), "westus2")
        acct = name("linked")
        create_account(batch_mgmt, group, acct, "westus2")
        assert batch_mgmt.batch_account.synchronize_auto_storage_keys(group, acct) is None
        found = {
            e.category: e.endpoints
            for e in batch_mgmt.batch_account.list_outbound_network_dependencies_endpoints(group, acct)
        }
        assert set(found) == {"Azure Batch", "Azure Storage"}
        (blob,) = found["Azure Storage"]
        assert blob.domain_name == "127.0.0.1" and [d.port for d in blob.endpoint_details] == [10000]
        first = list(batch_mgmt.batch_account.list_outbound_network_dependencies_endpoints(group, acct).by_page())
        assert len(first) == 1
    finally:
        server.stop()


def test_host_and_port_of_endpoints() -> None:
    assert host_port("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert host_port("http://127.0.0.1:10000/devstoreaccount1") == ("127.0.0.1", 10000)
    assert host_port("https://acct.blob.core.windows.net") == ("acct.blob.core.windows.net", 443)
    assert host_port("http://example.test/x") == ("example.test", 80)


# -- the operations list --------------------------------------------------------------------------


def test_the_operations_list_names_what_batchite_serves(batch_mgmt: Any) -> None:
    operations = list(batch_mgmt.operations.list())
    names = [op.name for op in operations]
    assert len(names) == len(set(names))
    for expected in (
        "Microsoft.Batch/batchAccounts/read",
        "Microsoft.Batch/batchAccounts/listkeys/action",
        "Microsoft.Batch/batchAccounts/syncAutoStorageKeys/action",
        "Microsoft.Batch/batchAccounts/detectors/read",
        "Microsoft.Batch/batchAccounts/applications/versions/activate/action",
        "Microsoft.Batch/batchAccounts/pools/write",
        "Microsoft.Batch/batchAccounts/privateEndpointConnections/delete",
        "Microsoft.Batch/batchAccounts/networkSecurityPerimeterConfigurations/reconcile/action",
        "Microsoft.Batch/locations/virtualMachineSkus/read",
        "Microsoft.Batch/operations/read",
    ):
        assert expected in names
    read = operations[names.index("Microsoft.Batch/batchAccounts/read")]
    assert read.is_data_action is False and read.origin == "user,system"
    assert read.display.provider == "Microsoft Batch" and read.display.resource == "Batch Accounts"
    assert read.display.operation and read.display.description


def test_the_operations_list_is_paged(https: httpx.Client, bearer: dict[str, str]) -> None:
    first = https.get(f"/providers/Microsoft.Batch/operations?{API}&maxresults=5", headers=bearer).json()
    assert len(first["value"]) == 5 and "skiptoken=" in first["nextLink"]
    names = [op["name"] for op in first["value"]]
    link = first["nextLink"]
    while link:
        page = https.get(link, headers=bearer).json()
        names += [op["name"] for op in page["value"]]
        link = page.get("nextLink")
    whole = https.get(f"/providers/Microsoft.Batch/operations?{API}", headers=bearer).json()
    assert names == [op["name"] for op in whole["value"]] and "nextLink" not in whole
