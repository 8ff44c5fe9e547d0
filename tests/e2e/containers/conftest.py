"""Container task fixtures: the tests' containers.conf, the test image built in root's podman
storage (the one Batchite's engine uses), a local registry with a login, and a Batchite of its own
without a container engine. Without podman or runc (or a static busybox) the tests skip, saying why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client
from tests.e2e.containers.images import (
    Registry,
    Unavailable,
    build_test_image,
    missing_engine,
    write_conf,
)


@pytest.fixture(scope="session")
def containers_conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = missing_engine()
    if reason:
        pytest.skip(reason)
    return write_conf(tmp_path_factory.mktemp("containers-conf"))


@pytest.fixture(scope="session")
def test_image(containers_conf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """localhost/batchite-test:1, built for the session (and left: a session running beside this one
    may be using it; building it again is a no-op)."""
    try:
        tag = build_test_image(containers_conf, tmp_path_factory.mktemp("container-image"))
    except Unavailable as exc:
        pytest.skip(str(exc))
    yield tag


@pytest.fixture(scope="session")
def registry(containers_conf: Path, test_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    try:
        reg = Registry(tmp_path_factory.mktemp("container-registry"), containers_conf)
    except Unavailable as exc:
        pytest.skip(str(exc))
    yield reg
    reg.stop()


@pytest.fixture
def registry_image(registry: Registry, test_image: str) -> str:
    """The test image under a new name in the registry, absent from local storage: it must be pulled."""
    return registry.push(test_image)


@pytest.fixture(scope="session")
def no_engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-no-engine"), extra_args=["--container-engine", "none"])
    yield child
    child.stop()


@pytest.fixture(scope="session")
def no_engine_client(no_engine_server: ChildServer) -> Iterator[Any]:
    client = make_client(no_engine_server.endpoint)
    yield client
    client.close()
