"""Lesson 6: manage Batch accounts and quotas through the management plane (Azure Resource Manager).

With azure-mgmt-batch and azure-identity: create a resource group and a Batch account, read its
keys, rotate one and see the old key stop signing data-plane calls while the new one does, read
the account's and the location's quotas, add an application and a package version, and clean up.
Each step prints what came back and asserts what the learner should see; the script exits
non-zero at the first surprise, and deletes what it created also when it fails.

BATCH_MGMT_ENDPOINT (default https://127.0.0.1:8443) and BATCH_MGMT_CA (default
.batchite/tls/ca.pem) choose the management plane; AZURE_TENANT_ID, AZURE_CLIENT_ID and
AZURE_CLIENT_SECRET the service principal (default: Batchite's development one). Against Azure:
BATCH_MGMT_ENDPOINT=https://management.azure.com, BATCH_MGMT_CA empty (the system's trust store),
your tenant and a service principal with Contributor on the subscription, and BATCH_LOCATION a
region where you may create an account.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import sys
import time
import zipfile

from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.batch import BatchManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

MGMT = os.environ.get("BATCH_MGMT_ENDPOINT", "https://127.0.0.1:8443").rstrip("/")
CA: str | bool = os.environ.get("BATCH_MGMT_CA", ".batchite/tls/ca.pem") or True  # True: the system's CAs
TENANT = os.environ.get("AZURE_TENANT_ID", "ba7c1e00-0000-4000-8000-000000000001")
CLIENT = os.environ.get("AZURE_CLIENT_ID", "ba7c1e00-0000-4000-8000-000000000002")
SECRET = os.environ.get("AZURE_CLIENT_SECRET", "batchite-development-client-secret")
SUBSCRIPTION = os.environ.get("AZURE_SUBSCRIPTION_ID", "")  # empty: the first one the principal sees
LOCATION = os.environ.get("BATCH_LOCATION", "westeurope")
SCOPES = ["https://management.azure.com/.default"]
ON_AZURE = "management.azure.com" in MGMT
# Against Azure the token comes from Entra ID; against Batchite from its own issuer.
AUTHORITY = "https://login.microsoftonline.com" if ON_AZURE else MGMT

GROUP = f"learn06-{secrets.token_hex(3)}"
ACCOUNT = f"learn06{secrets.token_hex(4)}"  # 3-24 lower-case letters and digits, unique in the region
APP, VERSION = "hello", "1.0"


def text(value: object) -> str:
    """An SDK enum as the service spells it ("Succeeded", "Pending"), anything else as str()."""
    return str(getattr(value, "value", value))


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    step("1. Sign in (a service principal, OAuth client credentials) and find the subscription")
    credential = ClientSecretCredential(
        TENANT, CLIENT, SECRET, authority=AUTHORITY, disable_instance_discovery=not ON_AZURE, connection_verify=CA
    )
    options = {"base_url": MGMT, "credential_scopes": SCOPES, "connection_verify": CA}
    subscription = SUBSCRIPTION
    if not subscription:
        subscriptions = SubscriptionClient(credential, **options)
        subscription = next(iter(subscriptions.subscriptions.list())).subscription_id
    assert subscription, "the principal sees no subscription"
    print("subscription:", subscription)
    resources = ResourceManagementClient(credential, subscription, **options)
    batch_mgmt = BatchManagementClient(credential, subscription, **options)
    resources.providers.register("Microsoft.Batch")  # once per subscription; harmless again
    state = resources.providers.get("Microsoft.Batch").registration_state
    print("Microsoft.Batch:", state)
    assert state in ("Registered", "Registering"), state

    step(f"2. The location's quota: how many Batch accounts this subscription may have in {LOCATION}")
    location_quota = batch_mgmt.location.get_quotas(LOCATION)
    print("accountQuota:", location_quota.account_quota)
    assert isinstance(location_quota.account_quota, int) and location_quota.account_quota >= 1
    mine = [a for a in batch_mgmt.batch_account.list() if a.location.replace(" ", "").lower() == LOCATION]
    print(f"accounts already in {LOCATION}: {len(mine)}")
    assert len(mine) < location_quota.account_quota, "no room for one more account in this location"

    gone = ""
    try:
        run_lesson(resources, batch_mgmt)
    finally:
        step("9. Clean up: delete the account, then the resource group (long-running operations)")
        with contextlib.suppress(ResourceNotFoundError):  # not created: nothing to delete
            batch_mgmt.batch_account.begin_delete(GROUP, ACCOUNT).result()
        try:
            batch_mgmt.batch_account.get(GROUP, ACCOUNT)
        except ResourceNotFoundError as exc:
            gone = f"{exc.status_code} {exc.error.code if exc.error else ''}"
        if resources.resource_groups.check_existence(GROUP):
            resources.resource_groups.begin_delete(GROUP).result()
    print("the account, read again:", gone)
    assert gone.startswith("404"), "the account is still there after its delete"
    assert not resources.resource_groups.check_existence(GROUP), "the group is still there"
    print("the group: check_existence ->", False)
    print("\nlesson 06: everything as the page says")


def run_lesson(resources: ResourceManagementClient, batch_mgmt: BatchManagementClient) -> None:
    step(f"3. Create resource group {GROUP} and Batch account {ACCOUNT} (a long-running operation)")
    group = resources.resource_groups.create_or_update(GROUP, {"location": LOCATION})
    print("group:", group.name, group.location, group.properties.provisioning_state)
    assert group.name == GROUP and group.properties.provisioning_state == "Succeeded"
    available = batch_mgmt.location.check_name_availability(LOCATION, {"name": ACCOUNT})
    print("name available:", available.name_available)
    assert available.name_available
    started = time.monotonic()
    poller = batch_mgmt.batch_account.begin_create(GROUP, ACCOUNT, {"location": LOCATION})
    account = poller.result()
    state = text(account.properties.provisioning_state)
    print(f"account: {account.name} in {account.location}, {state}, created in {time.monotonic() - started:.1f} s")
    print("  id:", account.id)
    print("  accountEndpoint:", account.properties.account_endpoint)
    assert account.name == ACCOUNT and state == "Succeeded"
    assert account.id.endswith(f"/resourceGroups/{GROUP}/providers/Microsoft.Batch/batchAccounts/{ACCOUNT}")
    assert account.properties.account_endpoint
    names = [a.name for a in batch_mgmt.batch_account.list_by_resource_group(GROUP)]
    print("accounts in the group:", names)
    assert names == [ACCOUNT]

    step("4. The account's quotas")
    props = account.properties
    quotas = {
        "dedicatedCoreQuota": props.dedicated_core_quota,
        "lowPriorityCoreQuota": props.low_priority_core_quota,
        "poolQuota": props.pool_quota,
        "activeJobAndJobScheduleQuota": props.active_job_and_job_schedule_quota,
    }
    for name, value in quotas.items():
        print(f"  {name}: {value}")
        assert isinstance(value, int) and value >= 0, (name, value)
    print("  dedicatedCoreQuotaPerVMFamilyEnforced:", props.dedicated_core_quota_per_vm_family_enforced)
    assert quotas["poolQuota"] >= 1 and quotas["activeJobAndJobScheduleQuota"] >= 1
    if not ON_AZURE:  # Batchite's defaults (its --pool-quota etc. change them)
        print("  (Batchite's defaults: 900, 100, 100, 300)")

    step("5. The keys, and a data-plane call signed with the primary one")
    keys = batch_mgmt.batch_account.get_keys(GROUP, ACCOUNT)
    print("account name:", keys.account_name)
    print("primary:  ", keys.primary[:12] + "...")
    print("secondary:", keys.secondary[:12] + "...")
    assert keys.account_name == ACCOUNT and keys.primary != keys.secondary
    endpoint = f"https://{account.properties.account_endpoint}"

    def data_plane(key: str) -> int:
        """The status of a signed GET /pools with this key: 200, or the error's status."""
        client = BatchClient(endpoint, AzureNamedKeyCredential(ACCOUNT, key), connection_verify=CA)
        try:
            pools = list(client.list_pools())
            return 200 if pools == [] else -1
        except HttpResponseError as exc:
            print(f"    -> {exc.status_code} {exc.error.code if exc.error else exc.reason}")
            return exc.status_code or 0
        finally:
            client.close()

    status = data_plane(keys.primary)
    print(f"GET {endpoint}/pools with the primary key:", status, "(no pools yet)")
    assert status == 200, status

    step("6. Rotate the primary key: the old one stops signing, the new one and the secondary work")
    new_keys = batch_mgmt.batch_account.regenerate_key(GROUP, ACCOUNT, {"keyName": "Primary"})
    print("new primary:", new_keys.primary[:12] + "...")
    assert new_keys.primary != keys.primary and new_keys.secondary == keys.secondary
    old = data_plane(keys.primary)
    for _ in range(60):  # Azure may take a moment to refuse the old key; Batchite refuses it at once
        if old in (401, 403):
            break
        time.sleep(2)
        old = data_plane(keys.primary)
    print("with the old primary:", old)
    assert old in (401, 403), old
    assert data_plane(new_keys.primary) == 200
    print("with the new primary: 200")
    assert data_plane(new_keys.secondary) == 200
    print("with the secondary:   200")

    step(f"7. An application {APP!r} and a package version {VERSION!r}")
    app = batch_mgmt.application.create(GROUP, ACCOUNT, APP, {"properties": {"displayName": "Hello, packages"}})
    print("application:", app.name, repr(app.properties.display_name), "allowUpdates:", app.properties.allow_updates)
    assert app.name == APP and app.properties.display_name == "Hello, packages" and app.properties.allow_updates is True
    assert [a.name for a in batch_mgmt.application.list(GROUP, ACCOUNT)] == [APP]
    try:
        package = batch_mgmt.application_package.create(GROUP, ACCOUNT, APP, VERSION)
    except HttpResponseError as exc:
        code = exc.error.code if exc.error else ""
        print(f"creating the version: {exc.status_code} {code}")
        print(f"  {exc.error.message if exc.error else exc.message}")
        print("  -> packages live in the account's linked (auto-)storage, and this account has none:")
        print("     an application can be made, a version cannot; step 8 is skipped.")
        assert exc.status_code == 409 and code == "AutoStorageNotConfigured", (exc.status_code, code)
        return
    print(
        "version:",
        package.name,
        text(package.properties.state),
        "storageUrl:",
        (package.properties.storage_url or "")[:60] + "...",
    )
    assert package.name == VERSION and package.properties.state == "Pending" and package.properties.storage_url

    step("8. Upload the zip to the package's storageUrl, then activate the version")
    from azure.storage.blob import BlobClient

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hello.sh", "echo hello from an application package\n")
    BlobClient.from_blob_url(package.properties.storage_url).upload_blob(archive.getvalue(), overwrite=True)
    active = batch_mgmt.application_package.activate(GROUP, ACCOUNT, APP, VERSION, {"format": "zip"})
    print(
        "version:",
        active.name,
        text(active.properties.state),
        active.properties.format,
        "activated",
        active.properties.last_activation_time,
    )
    assert active.properties.state == "Active" and active.properties.format == "zip"


if __name__ == "__main__":
    try:
        main()
    except AssertionError as exc:
        print(f"\nlesson 06: not what the page says: {exc!r}", file=sys.stderr)
        raise
