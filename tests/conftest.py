"""Shared fixtures: a Batchite server on a free port, and official SDK clients pointed at it."""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

# The servers the tests start release a deleted pool's nodes after 0.25 s, not the default 10 s
# (tests that need a longer deletion pass --node-release-time themselves).
os.environ.setdefault("BATCHITE_NODE_RELEASE_TIME", "0.25")

T = TypeVar("T")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-data"))
    yield child
    child.stop()


@pytest.fixture(scope="session")
def endpoint(server: ChildServer) -> str:
    return server.endpoint


def make_client(endpoint: str, name: str = DEV_ACCOUNT_NAME, key: str = DEV_ACCOUNT_KEY, ca: Path | None = None) -> Any:
    """An azure-batch client; over HTTPS trusting `ca` (the server's DATA_DIR/tls/ca.pem)."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    verify: dict[str, Any] = {"connection_verify": str(ca)} if ca is not None else {}
    return BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(name, key), retry_total=0, **verify)


@pytest.fixture(scope="session")
def client(endpoint: str) -> Iterator[Any]:
    c = make_client(endpoint)
    yield c
    c.close()


@pytest.fixture
def cleanup(client: Any) -> Iterator[Callable[[str, str], None]]:
    """Register ("pool"|"job", id) to delete after the test, whatever happened (one being deleted
    already, an auto pool whose job ended, is waited for)."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    items: list[tuple[str, str]] = []
    yield lambda kind, ident: items.append((kind, ident))
    for kind, ident in reversed(items):
        get = client.get_job if kind == "job" else client.get_pool
        try:
            if kind == "job":
                client.begin_delete_job(ident, polling_interval=0.05).result()
            else:
                client.begin_delete_pool(ident, polling_interval=0.05).result()
        except ResourceNotFoundError:
            pass
        except HttpResponseError as error:
            if error.error is None or error.error.code not in ("JobBeingDeleted", "PoolBeingDeleted"):
                raise
            wait_for(functools.partial(_gone, get, ident), interval=0.05)


def _gone(get: Callable[[str], Any], ident: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        get(ident)
    except ResourceNotFoundError:
        return True
    return False


@pytest.fixture
def uid() -> Callable[[str], str]:
    """Unique ids per test, so tests sharing one server never collide."""
    suffix = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}-{suffix}"


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.02) -> T:
    """Poll the service (the SDK has no push channel) until probe returns a truthy value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
