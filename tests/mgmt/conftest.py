"""A Batchite with its management plane on a free HTTPS port, and management clients pointed at it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from batchite.cli.server import ChildServer, start_child_server
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tokens import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_TENANT_ID, MANAGEMENT_SCOPE

RESOURCE_API = "2025-04-01"


@pytest.fixture(scope="session")
def mgmt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-mgmt"), mgmt_port=0)
    yield child
    child.stop()


def credential_for(server: ChildServer, secret: str = DEV_CLIENT_SECRET, client_id: str = DEV_CLIENT_ID) -> Any:
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        DEV_TENANT_ID,
        client_id,
        secret,
        authority=server.mgmt_endpoint,
        disable_instance_discovery=True,
        connection_verify=str(server.ca_path),
    )


def resource_client(server: ChildServer) -> Any:
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(
        credential_for(server),
        DEV_SUBSCRIPTION_ID,
        base_url=server.mgmt_endpoint,
        credential_scopes=[MANAGEMENT_SCOPE],
        connection_verify=str(server.ca_path),
        retry_total=0,
    )


def batch_client_for(server: ChildServer, credential: Any | None = None) -> Any:
    """azure-mgmt-batch's client for the server (with the development credential by default)."""
    from azure.mgmt.batch import BatchManagementClient

    return BatchManagementClient(
        credential or credential_for(server),
        DEV_SUBSCRIPTION_ID,
        base_url=server.mgmt_endpoint,
        credential_scopes=[MANAGEMENT_SCOPE],
        connection_verify=str(server.ca_path),
        retry_total=0,
    )


@pytest.fixture(scope="session")
def credential(mgmt_server: ChildServer) -> Any:
    return credential_for(mgmt_server)


@pytest.fixture(scope="session")
def resources(mgmt_server: ChildServer) -> Iterator[Any]:
    client = resource_client(mgmt_server)
    yield client
    client.close()


@pytest.fixture(scope="session")
def subscriptions(mgmt_server: ChildServer, credential: Any) -> Iterator[Any]:
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    client = SubscriptionClient(
        credential,
        base_url=mgmt_server.mgmt_endpoint,
        credential_scopes=[MANAGEMENT_SCOPE],
        connection_verify=str(mgmt_server.ca_path),
        retry_total=0,
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def https(mgmt_server: ChildServer) -> Iterator[httpx.Client]:
    """Plain HTTPS to the management plane, trusting only the generated CA (for what no client sends)."""
    with httpx.Client(base_url=mgmt_server.mgmt_endpoint or "", verify=trusting(mgmt_server), timeout=10) as c:
        yield c


def trusting(server: ChildServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_path))
