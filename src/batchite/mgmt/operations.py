"""Operations_List (GET /providers/Microsoft.Batch/operations): the Microsoft.Batch operations Batchite
serves, under Azure's names (`Microsoft.Batch/batchAccounts/read`, ...), paged.

Names follow Azure's own list (RBAC action names: lower-case `listkeys` and `regeneratekeys`,
`/action` for POSTs); the display texts are Batchite's.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from batchite.mgmt.paging import paged
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response

PROVIDER = "Microsoft.Batch"
PROVIDER_DISPLAY = "Microsoft Batch"
USER_SYSTEM = "user,system"

ACCOUNTS, APPLICATIONS, PACKAGES, POOLS = "Batch Accounts", "Applications", "Application Packages", "Pools"

# (name under Microsoft.Batch/, the resource it acts on, what it does)
OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ("batchAccounts/read", ACCOUNTS, "List or get Batch accounts"),
    ("batchAccounts/write", ACCOUNTS, "Create or update a Batch account"),
    ("batchAccounts/delete", ACCOUNTS, "Delete a Batch account"),
    ("batchAccounts/listkeys/action", ACCOUNTS, "List the access keys of a Batch account"),
    ("batchAccounts/regeneratekeys/action", ACCOUNTS, "Regenerate an access key of a Batch account"),
    ("batchAccounts/syncAutoStorageKeys/action", ACCOUNTS, "Synchronize the auto-storage account's keys"),
    (
        "batchAccounts/outboundNetworkDependenciesEndpoints/read",
        "Outbound Network Dependencies Endpoints",
        "List the endpoints a Batch account's nodes reach",
    ),
    ("batchAccounts/detectors/read", "Detectors", "List or get a Batch account's detectors"),
    ("batchAccounts/applications/read", APPLICATIONS, "List or get applications"),
    ("batchAccounts/applications/write", APPLICATIONS, "Create or update an application"),
    ("batchAccounts/applications/delete", APPLICATIONS, "Delete an application"),
    ("batchAccounts/applications/versions/read", PACKAGES, "List or get application packages"),
    ("batchAccounts/applications/versions/write", PACKAGES, "Create an application package"),
    ("batchAccounts/applications/versions/delete", PACKAGES, "Delete an application package"),
    ("batchAccounts/applications/versions/activate/action", PACKAGES, "Activate an application package"),
    ("batchAccounts/pools/read", POOLS, "List or get pools"),
    ("batchAccounts/pools/write", POOLS, "Create or update a pool"),
    ("batchAccounts/pools/delete", POOLS, "Delete a pool"),
    ("batchAccounts/pools/stopResize/action", POOLS, "Stop a pool's resize"),
    ("batchAccounts/pools/disableAutoscale/action", POOLS, "Disable a pool's autoscale"),
    ("batchAccounts/privateLinkResources/read", "PrivateLinkResources", "List or get private link resources"),
    (
        "batchAccounts/privateEndpointConnections/read",
        "PrivateEndpointConnections",
        "List or get private endpoint connections",
    ),
    (
        "batchAccounts/privateEndpointConnections/write",
        "PrivateEndpointConnections",
        "Update a private endpoint connection",
    ),
    (
        "batchAccounts/privateEndpointConnections/delete",
        "PrivateEndpointConnections",
        "Delete a private endpoint connection",
    ),
    (
        "batchAccounts/networkSecurityPerimeterConfigurations/read",
        "NetworkSecurityPerimeterConfigurations",
        "List or get network security perimeter configurations",
    ),
    (
        "batchAccounts/networkSecurityPerimeterConfigurations/reconcile/action",
        "NetworkSecurityPerimeterConfigurations",
        "Reconcile a network security perimeter configuration",
    ),
    ("locations/quotas/read", "Batch Quotas", "Get the Batch quotas of a location"),
    ("locations/checkNameAvailability/action", "Name Availability", "Check whether a Batch account name is free"),
    ("locations/virtualMachineSkus/read", "Batch Supported Skus", "List the VM sizes Batch supports in a location"),
    ("locations/accountOperationResults/read", "Batch Resource Provider", "Get a Batch account operation's result"),
    ("register/action", "Batch Resource Provider", "Register the subscription for Microsoft.Batch"),
    ("unregister/action", "Batch Resource Provider", "Unregister the subscription from Microsoft.Batch"),
    ("operations/read", "Operations", "List the operations of Microsoft.Batch"),
)


class OperationDisplay(msgspec.Struct):
    provider: str
    resource: str
    operation: str
    description: str


class Operation(msgspec.Struct, rename="camel"):
    name: str
    is_data_action: bool
    display: OperationDisplay
    origin: str


def operation(entry: tuple[str, str, str]) -> dict[str, Any]:
    name, resource, text = entry
    display = OperationDisplay(PROVIDER_DISPLAY, resource, text, f"{text}.")
    return msgspec.to_builtins(Operation(f"{PROVIDER}/{name}", False, display, USER_SYSTEM))


async def list_operations(req: ArmRequest) -> Response:
    return json_response(paged(req, OPERATIONS, operation))


def add_operation_routes(router: ArmRouter) -> None:
    router.add("GET", "/providers/Microsoft.Batch/operations", list_operations)
