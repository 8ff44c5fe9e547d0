"""ARM's cloud metadata (`GET /metadata/endpoints?api-version=...`, no token), as Azure Resource
Manager and Azure Stack serve it: what `az cloud register --endpoint-resource-manager URL` reads to
fill in the rest of a cloud. It names this server as Resource Manager and as the Active Directory
login endpoint (its token issuer), and Azure's public resource ids, which the issuer takes as
audiences."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response

CLOUD_NAME = "Batchite"
MANAGEMENT_RESOURCE = "https://management.core.windows.net/"
BATCH_RESOURCE = "https://batch.core.windows.net/"
STORAGE_SUFFIX = "core.windows.net"


def cloud_metadata(base_url: str) -> dict[str, Any]:
    """One cloud in ARM's metadata shape, `base_url` being this server as the client reached it."""
    base = base_url.rstrip("/")
    return {
        "name": CLOUD_NAME,
        "resourceManager": f"{base}/",
        "batch": BATCH_RESOURCE,
        "authentication": {
            "loginEndpoint": base,
            "audiences": [MANAGEMENT_RESOURCE, "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {"storage": STORAGE_SUFFIX},
    }


def add_metadata_routes(router: ArmRouter) -> None:
    async def endpoints(req: ArmRequest) -> Response:
        return json_response(cloud_metadata(req.base_url))

    router.add("GET", "/metadata/endpoints", endpoints, authenticated=False)
    # az appends `/metadata/endpoints` to the endpoint as typed: `https://host:port/` asks for `//metadata/...`.
    router.add("GET", "//metadata/endpoints", endpoints, authenticated=False)
