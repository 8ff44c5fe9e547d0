"""Resource groups: create or update (PUT), patch, get, check existence (HEAD), list, delete.

Delete is long-running as ARM answers it: 202 with `Location` and `Retry-After: 1`; the group
shows `provisioningState: Deleting` until what it holds is gone (the hooks: Batch accounts), then
the operation URL answers 200 and the group 404.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec
from starlette.responses import Response

from batchite.domain.resource_groups import ResourceGroup
from batchite.mgmt.errors import ArmError
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.mgmt.subscriptions import check_subscription, required_location

log = logging.getLogger("batchite.mgmt")

# Letters (any script), digits, underscores, hyphens, periods and parentheses; 1-90; no final period.
_NAME = re.compile(r"^[-\w.()]{1,90}$")

GroupDeleteHook = Callable[[str, str], Awaitable[object]]  # (subscription id, group name): delete what it holds
GroupLock = Callable[[str, str], bool]  # (subscription id, group name): whether it cannot be deleted


class GroupRepository(Protocol):
    def get_group(self, subscription_id: str, name: str) -> ResourceGroup | None: ...
    def list_groups(self, subscription_id: str) -> list[ResourceGroup]: ...
    def put_group(self, group: ResourceGroup) -> None: ...
    def delete_group(self, subscription_id: str, name: str) -> bool: ...


class ResourceGroupBody(msgspec.Struct, rename="camel"):
    location: str | None = None
    tags: dict[str, str] | None = None
    managed_by: str | None = None


class ResourceGroupPatch(msgspec.Struct, rename="camel"):
    tags: dict[str, str] | None = None
    managed_by: str | None = None


def group_body(group: ResourceGroup) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"/subscriptions/{group.subscription_id}/resourceGroups/{group.name}",
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
        "properties": {"provisioningState": group.provisioning_state},
    }
    if group.tags:
        body["tags"] = group.tags
    if group.managed_by:
        body["managedBy"] = group.managed_by
    return body


def check_name(name: str) -> None:
    if not _NAME.match(name) or name.endswith("."):
        raise ArmError(
            400,
            "InvalidResourceGroup",
            f"The provided resource group name '{name}' has these invalid characters: it must be 1-90 letters, "
            "digits, underscores, hyphens, periods (not at the end) or parentheses.",
            target="resourceGroupName",
        )


def not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


class ResourceGroups:
    def __init__(
        self, repository: GroupRepository, hooks: list[GroupDeleteHook], locked: GroupLock | None = None
    ) -> None:
        self.repository = repository
        self.hooks = hooks
        self.locked = locked
        self.operations: dict[str, asyncio.Task[None]] = {}  # delete operation id -> its work

    async def _get(self, subscription: str, name: str) -> ResourceGroup | None:
        return await asyncio.to_thread(self.repository.get_group, subscription, name)

    async def put(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        name = req.params["resourceGroupName"]
        check_name(name)
        body = await req.body(ResourceGroupBody)
        location = required_location(body.location, "LocationNotAvailableForResourceGroup", "resource group")
        current = await self._get(subscription, name)
        if current is not None and current.provisioning_state == "Deleting":
            raise ArmError(
                409,
                "ResourceGroupBeingDeleted",
                f"The resource group '{current.name}' is in deprovisioning state and cannot perform this operation.",
            )
        if current is not None and current.location != location:
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{body.location}'. The Resource group already exists in location "
                f"'{current.location}'.",
            )
        group = ResourceGroup(
            subscription, current.name if current else name, location, body.tags or {}, body.managed_by
        )
        await asyncio.to_thread(self.repository.put_group, group)
        return json_response(group_body(group), 200 if current else 201)

    async def patch(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        name = req.params["resourceGroupName"]
        current = await self._get(subscription, name)
        if current is None:
            raise not_found(name)
        body = await req.body(ResourceGroupPatch)
        group = msgspec.structs.replace(
            current,
            tags=current.tags if body.tags is None else body.tags,
            managed_by=current.managed_by if body.managed_by is None else body.managed_by,
        )
        await asyncio.to_thread(self.repository.put_group, group)
        return json_response(group_body(group))

    async def get(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        group = await self._get(subscription, req.params["resourceGroupName"])
        if group is None:
            raise not_found(req.params["resourceGroupName"])
        return json_response(group_body(group))

    async def exists(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        group = await self._get(subscription, req.params["resourceGroupName"])
        return Response(status_code=204 if group is not None else 404)

    async def list(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        groups = await asyncio.to_thread(self.repository.list_groups, subscription)
        return json_response({"value": [group_body(g) for g in groups]})

    async def delete(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        current = await self._get(subscription, req.params["resourceGroupName"])
        if current is None:
            raise not_found(req.params["resourceGroupName"])
        if self.locked is not None and self.locked(subscription, current.name):
            raise ArmError(
                409,
                "ScopeLocked",
                f"The resource group '{current.name}' holds Batchite's configured accounts and cannot be deleted.",
            )
        operation = f"RESOURCEGROUPDELETIONJOB-{uuid.uuid4().hex.upper()}"
        if current.provisioning_state != "Deleting":
            deleting = msgspec.structs.replace(current, provisioning_state="Deleting")
            await asyncio.to_thread(self.repository.put_group, deleting)
        self.operations[operation] = asyncio.create_task(self._delete(current))
        location = (
            f"{req.base_url}/subscriptions/{subscription}/operationresults/{operation}?api-version={req.api_version}"
        )
        return Response(status_code=202, headers={"Location": location, "Retry-After": "1"})

    async def _delete(self, group: ResourceGroup) -> None:
        for hook in self.hooks:
            await hook(group.subscription_id, group.name)
        await asyncio.to_thread(self.repository.delete_group, group.subscription_id, group.name)

    async def operation_result(self, req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        task = self.operations.get(req.params["operationId"].upper())
        if task is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{req.params['operationId']}' was not found.")
        if not task.done():
            location = f"{req.base_url}{req.request.url.path}?{req.request.url.query}"
            return Response(status_code=202, headers={"Location": location, "Retry-After": "1"})
        if task.cancelled() or task.exception() is not None:
            log.error("resource group deletion failed", exc_info=None if task.cancelled() else task.exception())
            raise ArmError(500, "ResourceGroupDeletionFailed", f"Deleting a resource group of '{subscription}' failed.")
        return Response(status_code=200)


def add_group_routes(router: ArmRouter, groups: ResourceGroups) -> None:
    one = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"
    router.add("PUT", one, groups.put)
    router.add("PATCH", one, groups.patch)
    router.add("GET", one, groups.get)
    router.add("HEAD", one, groups.exists)
    router.add("DELETE", one, groups.delete)
    router.add("GET", "/subscriptions/{subscriptionId}/resourcegroups", groups.list)
    router.add("GET", "/subscriptions/{subscriptionId}/operationresults/{operationId}", groups.operation_result)
