"""The one development subscription (published, like the development account), its tenant and locations."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from batchite.domain.entities.accounts import DEV_SUBSCRIPTION_ID as DEV_SUBSCRIPTION_ID
from batchite.mgmt.errors import ArmError
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response

DEV_SUBSCRIPTION_NAME = "Batchite development subscription"

# (name, display name, region group): where resources may be placed. Batchite runs everything
# locally, so the location only labels a resource.
LOCATIONS: tuple[tuple[str, str], ...] = (
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("westus", "West US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    ("centralus", "Central US"),
    ("northeurope", "North Europe"),
    ("westeurope", "West Europe"),
    ("uksouth", "UK South"),
    ("japaneast", "Japan East"),
    ("australiaeast", "Australia East"),
    ("southeastasia", "Southeast Asia"),
)


def normalize_location(location: str) -> str | None:
    """`West Europe` or `westeurope` -> `westeurope`; None when the location is unknown."""
    wanted = location.replace(" ", "").lower()
    return next((name for name, _ in LOCATIONS if name == wanted), None)


def location_of(req: ArmRequest) -> str:
    """The path's `locationName`, normalized, or ARM's 404 LocationNotFound (as Location_GetQuotas answers)."""
    location = normalize_location(req.params["locationName"])
    if location is None:
        name = req.params["locationName"]
        raise ArmError(404, "LocationNotFound", f"The location '{name}' is not available for Microsoft.Batch.")
    return location


def required_location(location: str | None, code: str, where: str) -> str:
    """A body's `location`, normalized: 400 LocationRequired when absent, `code` when unknown."""
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    found = normalize_location(location)
    if found is None:
        message = f"The provided location '{location}' is not available for {where}."
        raise ArmError(400, code, message, target="location")
    return found


def check_subscription(subscription_id: str) -> str:
    if subscription_id.lower() != DEV_SUBSCRIPTION_ID:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")
    return DEV_SUBSCRIPTION_ID


def subscription_body(tenant_id: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{DEV_SUBSCRIPTION_ID}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": DEV_SUBSCRIPTION_ID,
        "tenantId": tenant_id,
        "displayName": DEV_SUBSCRIPTION_NAME,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def add_subscription_routes(router: ArmRouter) -> None:
    tenant_id = router.issuer.tenant_id

    async def list_subscriptions(req: ArmRequest) -> Response:
        return json_response({"value": [subscription_body(tenant_id)], "count": {"type": "Total", "value": 1}})

    async def get_subscription(req: ArmRequest) -> Response:
        check_subscription(req.params["subscriptionId"])
        return json_response(subscription_body(tenant_id))

    async def list_locations(req: ArmRequest) -> Response:
        check_subscription(req.params["subscriptionId"])
        value = [
            {
                "id": f"/subscriptions/{DEV_SUBSCRIPTION_ID}/locations/{name}",
                "name": name,
                "type": "Region",
                "displayName": display,
                "regionalDisplayName": display,
                "metadata": {"regionType": "Physical", "regionCategory": "Recommended"},
            }
            for name, display in LOCATIONS
        ]
        return json_response({"value": value})

    async def list_tenants(req: ArmRequest) -> Response:
        tenant = {
            "id": f"/tenants/{tenant_id}",
            "tenantId": tenant_id,
            "tenantCategory": "Home",
            "displayName": "Batchite development tenant",
            "defaultDomain": "batchite.local",
        }
        return json_response({"value": [tenant]})

    router.add("GET", "/subscriptions", list_subscriptions)
    router.add("GET", "/subscriptions/{subscriptionId}", get_subscription)
    router.add("GET", "/subscriptions/{subscriptionId}/locations", list_locations)
    router.add("GET", "/tenants", list_tenants)
