"""Storage end-to-end fixtures: Azurite started by the tests (installed from the npm registry when
missing; a clear failure, never a skip, without node/npm), a Batchite linked to it, a pool."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batchite.cli.azurite import AzuriteServer, AzuriteUnavailable, start_azurite
from batchite.cli.server import ChildServer, start_child_server
from batchite.storage.linked import LinkedStorage
from tests.conftest import make_client
from tests.e2e.helpers import POLL, wait_nodes
from tests.sdk import job_options, pool_options

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    try:
        server = start_azurite(tmp_path_factory.mktemp("azurite"))
    except AzuriteUnavailable as exc:
        pytest.fail(f"the storage tests need Azurite: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def linked(azurite: AzuriteServer) -> LinkedStorage:
    return LinkedStorage.parse(azurite.connection_string)


def linked_server(factory: pytest.TempPathFactory, azurite: AzuriteServer, name: str) -> Iterator[ChildServer]:
    """A Batchite of its own linked to Azurite, with its management plane (application packages
    are made through it); for a fixture to yield from."""
    child = start_child_server(
        factory.mktemp(name), mgmt_port=0, extra_args=["--storage-connection-string", azurite.connection_string]
    )
    yield child
    child.stop()


@pytest.fixture(scope="session")
def storage_server(tmp_path_factory: pytest.TempPathFactory, azurite: AzuriteServer) -> Iterator[ChildServer]:
    yield from linked_server(tmp_path_factory, azurite, "batchite-storage")


@pytest.fixture(scope="session")
def sclient(storage_server: ChildServer) -> Iterator[Any]:
    client = make_client(storage_server.endpoint)
    yield client
    client.close()


@pytest.fixture(scope="session")
def spool(sclient: Any) -> Iterator[str]:
    """One pool for the storage tests: 2 nodes with 4 slots each."""
    pool_id = f"storage-{uuid.uuid4().hex[:6]}"
    sclient.create_pool(pool_options(pool_id, dedicated=2, slots=4))
    wait_nodes(sclient, pool_id, 2)
    yield pool_id
    sclient.begin_delete_pool(pool_id, polling_interval=POLL).result()


@pytest.fixture
def sjob(sclient: Any, spool: str, uid: Callable[[str], str]) -> Iterator[str]:
    job_id = uid("sjob")
    sclient.create_job(job_options(job_id, spool))
    yield job_id
    with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
        sclient.begin_delete_job(job_id, polling_interval=POLL).result()


@pytest.fixture
def containers(linked: LinkedStorage) -> Iterator[Callable[[str], str]]:
    """Makes containers (named after the prefix given) and deletes them after the test."""
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        linked.create_container(name)
        made.append(name)
        return name

    yield make
    for name in made:
        linked.delete_container(name)
