"""An account's side endpoints over ARM: auto-storage key sync, outbound network dependencies,
detectors, private link resources, private endpoint connections and network security perimeter
configurations (the azure-mgmt-batch 19.0.0 paths under `{RG}`, a Batch account).

Batchite has no private networking: the private link, private endpoint connection and perimeter
lists are empty and a named one is ARM's 404 (ResourceNotFound), for the long-running update, delete
and reconcile too, so that the SDK's poller raises ResourceNotFoundError at once. The linked storage
is the service's (`--storage-connection-string`): syncAutoStorageKeys answers 204 when there is one
and 409 AutoStorageNotConfigured (as the data plane's package operations do) when there is none.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import msgspec
from starlette.responses import Response

from batchite.domain.entities.accounts import BatchAccountRecord
from batchite.mgmt.batch_accounts import ACCOUNT_PATH, BatchAccounts, account_id
from batchite.mgmt.detectors import DETECTORS, Detector
from batchite.mgmt.errors import ArmError
from batchite.mgmt.locations import add_location_routes
from batchite.mgmt.operations import add_operation_routes
from batchite.mgmt.paging import paged
from batchite.mgmt.routing import ArmRequest, ArmRouter, Handler, json_response
from batchite.service.batch import BatchService

PRIVATE_LINK = "privateLinkResources"
PRIVATE_ENDPOINT = "privateEndpointConnections"
PERIMETER = "networkSecurityPerimeterConfigurations"


class EndpointDetail(msgspec.Struct):
    port: int


class EndpointDependency(msgspec.Struct, rename="camel"):
    domain_name: str
    description: str
    endpoint_details: list[EndpointDetail]


class OutboundEnvironmentEndpoint(msgspec.Struct):
    category: str
    endpoints: list[EndpointDependency]


class ConnectionState(msgspec.Struct, rename="camel"):
    status: str | None = None
    description: str | None = None
    actions_required: str | None = None


class ConnectionProperties(msgspec.Struct, rename="camel"):
    private_link_service_connection_state: ConnectionState | None = None


class ConnectionUpdate(msgspec.Struct):
    """PrivateEndpointConnection_Update's body (what a client may send; read-only fields ignored)."""

    properties: ConnectionProperties | None = None


def host_port(url: str) -> tuple[str, int]:
    """`https://h:1/x` or `h:1` -> ("h", 1); the scheme's port when none is given."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    default = 80 if parts.scheme == "http" else 443
    return parts.hostname or "", parts.port or default


def outbound_endpoints(batch_endpoint: str, storage_blob_endpoint: str | None) -> list[OutboundEnvironmentEndpoint]:
    """What a Batchite node reaches: the Batch service (tasks calling Batch) and the linked storage."""
    host, port = host_port(batch_endpoint)
    found = [
        OutboundEnvironmentEndpoint(
            "Azure Batch",
            [
                EndpointDependency(
                    host,
                    "The Batch account's endpoint: reached by tasks that call Batch (job manager tasks, "
                    "task authentication tokens).",
                    [EndpointDetail(port)],
                )
            ],
        )
    ]
    if storage_blob_endpoint:
        host, port = host_port(storage_blob_endpoint)
        found.append(
            OutboundEnvironmentEndpoint(
                "Azure Storage",
                [
                    EndpointDependency(
                        host,
                        "The linked (auto-)storage account's blob endpoint: resource files by container name, "
                        "application packages, output files.",
                        [EndpointDetail(port)],
                    )
                ],
            )
        )
    return found


def detector_body(record: BatchAccountRecord, detector: Detector, value: bytes) -> dict[str, Any]:
    return {
        "id": f"{account_id(record)}/detectors/{detector.id}",
        "name": detector.id,
        "type": "Microsoft.Batch/batchAccounts/detectors",
        "properties": {"value": base64.b64encode(value).decode()},
    }


def not_found(record: BatchAccountRecord, kind: str, name: str) -> ArmError:
    resource = f"Microsoft.Batch/batchAccounts/{record.name}/{kind}/{name}"
    group = record.resource_group
    return ArmError(404, "ResourceNotFound", f"The Resource '{resource}' under resource group '{group}' was not found.")


class AccountExtras:
    def __init__(self, accounts: BatchAccounts, batch: BatchService) -> None:
        self.accounts = accounts
        self.batch = batch

    async def sync_storage_keys(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        if self.batch.ctx.storage is None:
            raise ArmError(
                409,
                "AutoStorageNotConfigured",
                f"The Batch account '{record.name}' has no auto-storage account; start batchite serve with "
                "--storage-connection-string (or BATCHITE_STORAGE_CONNECTION_STRING).",
            )
        return Response(status_code=204)

    async def outbound(self, req: ArmRequest) -> Response:
        await self.accounts.account_of(req)
        storage = self.batch.ctx.storage
        found = outbound_endpoints(self.accounts.endpoint, storage.blob_endpoint if storage else None)
        return json_response(paged(req, found, msgspec.to_builtins))

    async def list_detectors(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        items = [(d, d.run(self.batch, record.name)) for d in DETECTORS]
        return json_response(paged(req, items, lambda item: detector_body(record, item[0], item[1])))

    async def get_detector(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        wanted = req.params["detectorId"].lower()
        detector = next((d for d in DETECTORS if d.id.lower() == wanted), None)
        if detector is None:
            raise not_found(record, "detectors", req.params["detectorId"])
        return json_response(detector_body(record, detector, detector.run(self.batch, record.name)))

    async def empty_list(self, req: ArmRequest) -> Response:
        await self.accounts.account_of(req)
        nothing: list[str] = []
        return json_response(paged(req, nothing, str))

    def absent(self, kind: str, param: str) -> Handler:
        """A handler for one named resource of a kind Batchite never has: the account's 404, else ARM's."""

        async def handler(req: ArmRequest) -> Response:
            record = await self.accounts.account_of(req)
            raise not_found(record, kind, req.params[param])

        return handler

    async def update_connection(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        await req.body(ConnectionUpdate)  # a malformed body is 400 before the 404
        raise not_found(record, PRIVATE_ENDPOINT, req.params["connectionName"])


def add_account_extra_routes(router: ArmRouter, accounts: BatchAccounts, batch: BatchService) -> None:
    """The account's side endpoints, and with them the rest of Microsoft.Batch's read-only surface:
    the locations' VM SKUs (locations.py) and the operations list (operations.py)."""
    add_location_routes(router)
    add_operation_routes(router)
    extras = AccountExtras(accounts, batch)
    one = ACCOUNT_PATH
    router.add("POST", one + "/syncAutoStorageKeys", extras.sync_storage_keys)
    router.add("GET", one + "/outboundNetworkDependenciesEndpoints", extras.outbound)
    router.add("GET", one + "/detectors", extras.list_detectors)
    router.add("GET", one + "/detectors/{detectorId}", extras.get_detector)
    router.add("GET", one + f"/{PRIVATE_LINK}", extras.empty_list)
    router.add("GET", one + f"/{PRIVATE_LINK}/{{name}}", extras.absent(PRIVATE_LINK, "name"))
    router.add("GET", one + f"/{PRIVATE_ENDPOINT}", extras.empty_list)
    connection = one + f"/{PRIVATE_ENDPOINT}/{{connectionName}}"
    router.add("GET", connection, extras.absent(PRIVATE_ENDPOINT, "connectionName"))
    router.add("PATCH", connection, extras.update_connection)
    router.add("DELETE", connection, extras.absent(PRIVATE_ENDPOINT, "connectionName"))
    router.add("GET", one + f"/{PERIMETER}", extras.empty_list)
    perimeter = one + f"/{PERIMETER}/{{configurationName}}"
    router.add("GET", perimeter, extras.absent(PERIMETER, "configurationName"))
    router.add("POST", perimeter + "/reconcile", extras.absent(PERIMETER, "configurationName"))
