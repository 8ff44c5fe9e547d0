"""Resource provider registration and details: `Microsoft.Batch` and what it offers where.

The development subscription starts with Microsoft.Batch registered (so a client that never
registers works); register and unregister change it, and the state survives a restart.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from starlette.responses import Response

from batchite.mgmt.errors import ArmError
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID, LOCATIONS, check_subscription

BATCH_NAMESPACE = "Microsoft.Batch"
BATCH_API_VERSIONS = ("2025-06-01", "2024-07-01", "2024-02-01", "2023-11-01", "2023-05-01", "2022-10-01")
BATCH_RESOURCE_TYPES = (
    "batchAccounts",
    "batchAccounts/pools",
    "batchAccounts/applications",
    "batchAccounts/applications/versions",
    "batchAccounts/detectors",
    "batchAccounts/privateEndpointConnections",
    "batchAccounts/privateLinkResources",
    "batchAccounts/networkSecurityPerimeterConfigurations",
    "operations",
    "locations",
    "locations/quotas",
    "locations/checkNameAvailability",
    "locations/virtualMachineSkus",
)
REGISTERED, NOT_REGISTERED = "Registered", "NotRegistered"


class ProviderStates(Protocol):
    def provider_state(self, subscription_id: str, namespace: str) -> str | None: ...
    def set_provider_state(self, subscription_id: str, namespace: str, state: str) -> None: ...


def provider_body(subscription_id: str | None, state: str) -> dict[str, Any]:
    locations = [display for _, display in LOCATIONS]
    types = [
        {
            "resourceType": t,
            "locations": [] if t == "operations" else locations,
            "apiVersions": list(BATCH_API_VERSIONS),
        }
        for t in BATCH_RESOURCE_TYPES
    ]
    body: dict[str, Any] = {
        "id": f"/subscriptions/{subscription_id}/providers/{BATCH_NAMESPACE}"
        if subscription_id
        else f"/providers/{BATCH_NAMESPACE}",
        "namespace": BATCH_NAMESPACE,
        "resourceTypes": types,
    }
    if subscription_id:
        body["registrationState"] = state
        body["registrationPolicy"] = "RegistrationRequired"
    return body


def require_registered(states: ProviderStates, subscription_id: str) -> None:
    """409 MissingSubscriptionRegistration unless the subscription has Microsoft.Batch registered
    (azure-mgmt-core's pipeline then registers it and retries). The state is held in memory."""
    if (states.provider_state(subscription_id, BATCH_NAMESPACE) or REGISTERED) != REGISTERED:
        raise ArmError(
            409,
            "MissingSubscriptionRegistration",
            f"The subscription is not registered to use namespace '{BATCH_NAMESPACE}'.",
            target=BATCH_NAMESPACE,
        )


def add_provider_routes(router: ArmRouter, states: ProviderStates) -> None:
    async def state_of(subscription_id: str) -> str:
        return await asyncio.to_thread(states.provider_state, subscription_id, BATCH_NAMESPACE) or REGISTERED

    def check_namespace(namespace: str) -> None:
        if namespace.lower() != BATCH_NAMESPACE.lower():
            raise ArmError(
                404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.", target=namespace
            )

    async def get(req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        check_namespace(req.params["namespace"])
        return json_response(provider_body(subscription, await state_of(subscription)))

    async def list_providers(req: ArmRequest) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        return json_response({"value": [provider_body(subscription, await state_of(subscription))]})

    async def set_state(req: ArmRequest, state: str) -> Response:
        subscription = check_subscription(req.params["subscriptionId"])
        check_namespace(req.params["namespace"])
        await asyncio.to_thread(states.set_provider_state, subscription, BATCH_NAMESPACE, state)
        return json_response(provider_body(subscription, state))

    async def register(req: ArmRequest) -> Response:
        return await set_state(req, REGISTERED)

    async def unregister(req: ArmRequest) -> Response:
        return await set_state(req, NOT_REGISTERED)

    async def tenant_provider(req: ArmRequest) -> Response:
        check_namespace(req.params["namespace"])
        return json_response(provider_body(None, REGISTERED))

    base = "/subscriptions/{subscriptionId}/providers"
    router.add("GET", base, list_providers)
    router.add("GET", base + "/{namespace}", get)
    router.add("POST", base + "/{namespace}/register", register)
    router.add("POST", base + "/{namespace}/unregister", unregister)
    router.add("GET", "/providers/{namespace}", tenant_provider)


__all__ = ["BATCH_NAMESPACE", "DEV_SUBSCRIPTION_ID", "add_provider_routes", "require_registered"]
