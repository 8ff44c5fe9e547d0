"""Microsoft.Batch/batchAccounts over ARM (the azure-mgmt-batch 19.0.0 paths), on the stored accounts.

Create (PUT) is synchronous: 200 with `provisioningState: Succeeded`, which ARMPolling takes as done.
Delete removes the account at once and answers 202 with `Location` (a subscription-scoped operation
URL that answers 200) and `Retry-After: 1`; the account is 404 from then on. The service's account
methods touch the scheduler and the store's open transaction, so they are called on the event loop,
as the data plane calls them.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any, Protocol

import msgspec
from starlette.responses import Response

from batchite.domain.entities.accounts import BatchAccountRecord
from batchite.mgmt.errors import ArmError
from batchite.mgmt.paging import paged
from batchite.mgmt.providers import ProviderStates, require_registered
from batchite.mgmt.resource_groups import GroupRepository
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.mgmt.subscriptions import check_subscription, location_of, required_location
from batchite.service.batch_accounts import BatchAccountError, BatchAccountService

PROVIDER = "Microsoft.Batch"
ACCOUNT_TYPE = f"{PROVIDER}/batchAccounts"
ACCOUNTS_PATH = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/" + ACCOUNT_TYPE
ACCOUNT_PATH = ACCOUNTS_PATH + "/{accountName}"  # what lives under an account starts here
MAX_OPERATIONS = 1000  # finished delete operations remembered for their Location URLs


class AutoStorageBody(msgspec.Struct, rename="camel"):
    storage_account_id: str | None = None


class AccountProperties(msgspec.Struct, rename="camel"):
    auto_storage: AutoStorageBody | None = None
    pool_allocation_mode: str | None = None


class CreateBody(msgspec.Struct):
    location: str | None = None
    tags: dict[str, str] | None = None
    properties: AccountProperties | None = None


class UpdateBody(msgspec.Struct):
    tags: dict[str, str] | None = None
    properties: AccountProperties | None = None


def auto_storage_of(properties: AccountProperties | None) -> str | None:
    """The autoStorage.storageAccountId asked for ("" to unlink); None: not given. BatchService
    allocation only (Batchite's nodes are its own; UserSubscription would need the user's VMs)."""
    if properties is None:
        return None
    mode = properties.pool_allocation_mode
    if mode is not None and mode.lower() != "batchservice":
        raise ArmError(
            400,
            "InvalidPoolAllocationMode",
            f"The pool allocation mode '{mode}' is not supported: Batchite allocates its nodes itself (BatchService).",
            target="properties.poolAllocationMode",
        )
    if properties.auto_storage is None:
        return None
    storage = properties.auto_storage.storage_account_id or ""
    if storage and not _STORAGE_ID.match(storage):
        raise ArmError(
            400,
            "InvalidStorageAccountId",
            f"The storage account id '{storage}' is not the ARM id of a Microsoft.Storage/storageAccounts resource.",
            target="properties.autoStorage.storageAccountId",
        )
    return storage


_STORAGE_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}$",
    re.IGNORECASE,
)


class RegenerateKeyBody(msgspec.Struct, rename="camel"):
    key_name: str | None = None


class NameBody(msgspec.Struct):
    name: str | None = None
    type: str | None = None


def account_id(record: BatchAccountRecord) -> str:
    return (
        f"/subscriptions/{record.subscription_id}/resourceGroups/{record.resource_group}"
        f"/providers/{ACCOUNT_TYPE}/{record.name}"
    )


def account_body(record: BatchAccountRecord, endpoint: str, linked_storage: str | None = None) -> dict[str, Any]:
    quotas = record.quotas
    return {
        "id": account_id(record),
        "name": record.name,
        "type": ACCOUNT_TYPE,
        "location": record.location,
        "tags": record.tags,
        "identity": {"type": "None"},
        "properties": {
            "accountEndpoint": endpoint,
            "nodeManagementEndpoint": endpoint,
            "provisioningState": str(record.provisioning_state),
            "poolAllocationMode": "BatchService",
            "dedicatedCoreQuota": quotas.dedicated_core_quota,
            "dedicatedCoreQuotaPerVMFamilyEnforced": False,
            "dedicatedCoreQuotaPerVMFamily": [],
            "lowPriorityCoreQuota": quotas.low_priority_core_quota,
            "poolQuota": quotas.pool_quota,
            "activeJobAndJobScheduleQuota": quotas.active_job_and_job_schedule_quota,
            "publicNetworkAccess": "Enabled",
            "allowedAuthenticationModes": ["SharedKey", "AAD", "TaskAuthenticationToken"],
            "encryption": {"keySource": "Microsoft.Batch"},
            "privateEndpointConnections": [],
            **auto_storage_body(record, linked_storage),
        },
    }


def auto_storage_body(record: BatchAccountRecord, linked_storage: str | None = None) -> dict[str, Any]:
    """The storage account the client linked; else, when the service has linked storage (which every
    account's packages and auto-storage containers use), that account, named in the account's group."""
    storage_id = record.auto_storage_account_id
    if not storage_id and linked_storage:
        storage_id = (
            f"/subscriptions/{record.subscription_id}/resourceGroups/{record.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{linked_storage}"
        )
    if not storage_id:
        return {}
    auto = {
        "storageAccountId": storage_id,
        "authenticationMode": "StorageKeys",
        "lastKeySync": record.creation_time.isoformat().replace("+00:00", "Z"),
    }
    return {"autoStorage": auto}


def keys_body(record: BatchAccountRecord) -> Response:
    return json_response({"accountName": record.name, "primary": record.primary_key, "secondary": record.secondary_key})


def arm_error(err: BatchAccountError) -> ArmError:
    return ArmError(err.status, err.code, err.message)


class AccountPlaces(GroupRepository, ProviderStates, Protocol):
    """Where accounts go: the resource groups, and whether the subscription registered Microsoft.Batch."""


class BatchAccounts:
    def __init__(
        self, accounts: BatchAccountService, groups: AccountPlaces, endpoint: str, linked_storage: str | None = None
    ) -> None:
        self.accounts = accounts
        self.groups = groups
        self.endpoint = endpoint  # host:port of the data plane, as accountEndpoint shows it
        self.linked_storage = linked_storage  # the linked storage account's name, shown as autoStorage
        self.deleted: dict[str, None] = {}  # finished delete operation ids (insertion-ordered)

    def _subscription(self, req: ArmRequest) -> str:
        subscription = check_subscription(req.params["subscriptionId"])
        require_registered(self.groups, subscription)
        return subscription

    async def _where(self, req: ArmRequest) -> tuple[str, str]:
        subscription = self._subscription(req)
        group = await asyncio.to_thread(self.groups.get_group, subscription, req.params["resourceGroupName"])
        if group is None or group.provisioning_state == "Deleting":
            name = req.params["resourceGroupName"]
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return subscription, group.name

    async def account_of(self, req: ArmRequest) -> BatchAccountRecord:
        """The account a `{RG}/...` path names (subscriptionId, resourceGroupName, accountName), or the
        ARM 404 (ResourceGroupNotFound, ResourceNotFound). For what lives under an account."""
        subscription, group = await self._where(req)
        try:
            return self.accounts.get(subscription, group, req.params["accountName"])
        except BatchAccountError as err:
            raise arm_error(err) from err

    def _body(self, record: BatchAccountRecord) -> Response:
        return json_response(account_body(record, self.endpoint, self.linked_storage))

    async def create(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        body = await req.body(CreateBody)
        location = required_location(
            body.location, "LocationNotAvailableForResourceType", f"resource type '{ACCOUNT_TYPE}'"
        )
        try:
            record = self.accounts.create(
                subscription, group, req.params["accountName"], location, body.tags, auto_storage_of(body.properties)
            )
        except BatchAccountError as err:
            raise arm_error(err) from err
        return self._body(record)

    async def get(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        try:
            return self._body(self.accounts.get(subscription, group, req.params["accountName"]))
        except BatchAccountError as err:
            raise arm_error(err) from err

    async def update(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        body = await req.body(UpdateBody)
        try:
            record = self.accounts.update(
                subscription,
                group,
                req.params["accountName"],
                tags=body.tags,
                auto_storage_account_id=auto_storage_of(body.properties),
            )
        except BatchAccountError as err:
            raise arm_error(err) from err
        return self._body(record)

    async def delete(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        try:
            record = self.accounts.get(subscription, group, req.params["accountName"])
            await self.accounts.delete(subscription, group, record.name)
        except BatchAccountError as err:
            raise arm_error(err) from err
        operation = str(uuid.uuid4())
        self.deleted[operation] = None
        while len(self.deleted) > MAX_OPERATIONS:
            del self.deleted[next(iter(self.deleted))]
        location = (
            f"{req.base_url}/subscriptions/{subscription}/providers/{PROVIDER}/locations/{record.location}"
            f"/accountOperationResults/{operation}?api-version={req.api_version}"
        )
        return Response(status_code=202, headers={"Location": location, "Retry-After": "1"})

    async def operation_result(self, req: ArmRequest) -> Response:
        check_subscription(req.params["subscriptionId"])
        if req.params["operationId"].lower() not in self.deleted:
            raise ArmError(404, "OperationNotFound", f"The operation '{req.params['operationId']}' was not found.")
        return Response(status_code=200)

    async def list(self, req: ArmRequest) -> Response:
        subscription = self._subscription(req)
        records = self.accounts.list(subscription)
        return json_response(paged(req, records, lambda r: account_body(r, self.endpoint, self.linked_storage)))

    async def list_by_group(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        records = self.accounts.list(subscription, group)
        return json_response(paged(req, records, lambda r: account_body(r, self.endpoint, self.linked_storage)))

    async def list_keys(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        try:
            record = self.accounts.get(subscription, group, req.params["accountName"])
        except BatchAccountError as err:
            raise arm_error(err) from err
        return keys_body(record)

    async def regenerate_key(self, req: ArmRequest) -> Response:
        subscription, group = await self._where(req)
        body = await req.body(RegenerateKeyBody)
        if not body.key_name:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: keyName is required.")
        try:
            record = self.accounts.regenerate_key(subscription, group, req.params["accountName"], body.key_name)
        except BatchAccountError as err:
            raise arm_error(err) from err
        return keys_body(record)

    async def quotas(self, req: ArmRequest) -> Response:
        self._subscription(req)
        location_of(req)
        return json_response({"accountQuota": self.accounts.ctx.scheduler.quotas.accounts_per_location})

    async def check_name(self, req: ArmRequest) -> Response:
        self._subscription(req)
        location_of(req)
        body = await req.body(NameBody)
        if not body.name:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: name is required.")
        if (body.type or ACCOUNT_TYPE).lower() != ACCOUNT_TYPE.lower():
            raise ArmError(
                400, "InvalidResourceType", f"The resource type '{body.type}' is not '{ACCOUNT_TYPE}'.", target="type"
            )
        found = self.accounts.check_name_availability(body.name)
        answer: dict[str, Any] = {"nameAvailable": found.available}
        if not found.available:
            answer["reason"] = found.reason
            answer["message"] = found.message
        return json_response(answer)


def add_batch_account_routes(router: ArmRouter, accounts: BatchAccounts) -> None:
    group, one = ACCOUNTS_PATH, ACCOUNT_PATH
    location = "/subscriptions/{subscriptionId}/providers/Microsoft.Batch/locations/{locationName}"
    router.add("PUT", one, accounts.create)
    router.add("GET", one, accounts.get)
    router.add("PATCH", one, accounts.update)
    router.add("DELETE", one, accounts.delete)
    router.add("GET", group, accounts.list_by_group)
    router.add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Batch/batchAccounts", accounts.list)
    router.add("POST", one + "/listKeys", accounts.list_keys)
    router.add("POST", one + "/regenerateKeys", accounts.regenerate_key)
    router.add("GET", location + "/quotas", accounts.quotas)
    router.add("POST", location + "/checkNameAvailability", accounts.check_name)
    router.add("GET", location + "/accountOperationResults/{operationId}", accounts.operation_result)
