"""Fixtures for the old-client scenarios: a Batchite server in a child process, azure-batch 14.2.0 pointed at it.

This suite runs in its own virtual environment (`.venv-legacy`, see scripts/test-legacy) because azure-batch
14.2.0 and 15.1.0 both install as the package `azure.batch`. Batchite itself is NOT importable here: the server is
started with the interpreter named by BATCHITE_SERVER_PYTHON (default: the project's `.venv/bin/python`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_ACCOUNT_NAME = "devbatchaccount1"
DEV_ACCOUNT_KEY = "YmF0Y2hpdGUtZGV2ZWxvcG1lbnQta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmZ2hpams="
STARTUP_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_batchite/health", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _server_python() -> str:
    configured = os.environ.get("BATCHITE_SERVER_PYTHON")
    python = Path(configured) if configured else REPO_ROOT / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.exit(
            f"no interpreter to run the Batchite server: {python} does not exist "
            "(set BATCHITE_SERVER_PYTHON to a Python that has batchite installed)",
            returncode=2,
        )
    return str(python)


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Batchite server on a free port, run by the project's interpreter, for the whole session."""
    data_dir = tmp_path_factory.mktemp("batchite-data")
    log_path = data_dir.parent / "batchite-server.log"
    port = _free_port()
    cmd = [_server_python(), "-m", "batchite.cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if k != "BATCHITE_ACCOUNTS"}  # the dev account, nothing else
    env.setdefault("BATCHITE_NODE_RELEASE_TIME", "0.25")  # deleted pools go in 0.25 s, not the default 10 s
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.exit(f"Batchite did not start on {url} (exit code {proc.poll()}):\n{tail}", returncode=2)
            time.sleep(0.05)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def make_legacy_client(endpoint: str, name: str = DEV_ACCOUNT_NAME, key: str = DEV_ACCOUNT_KEY) -> Any:
    from azure.batch import BatchServiceClient
    from azure.batch.batch_auth import SharedKeyCredentials

    client = BatchServiceClient(SharedKeyCredentials(name, key), batch_url=endpoint)
    client.config.retry_policy.retries = 0  # an error must show as the error, not as a retry storm
    return client


@pytest.fixture(scope="session")
def client(endpoint: str) -> Any:
    """azure-batch 14.2.0 (msrest) `BatchServiceClient` with the development account's shared key."""
    import azure.batch

    assert azure.batch.__version__ == "14.2.0", f"this suite needs azure-batch 14.2.0, found {azure.batch.__version__}"
    return make_legacy_client(endpoint)


@pytest.fixture
def uid() -> Callable[[str], str]:
    """Unique ids per test, so tests sharing one server never collide."""
    suffix = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}-{suffix}"


def _wait_for(probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """Poll (the SDK has no push channel) until probe() is truthy; returns its value."""
    return _wait_for


@pytest.fixture
def cleanup(client: Any) -> Iterator[Callable[[str, str], None]]:
    """Register ("pool"|"job", id) to delete after the test, whatever happened; already-gone is fine."""
    from azure.batch.models import BatchErrorException

    items: list[tuple[str, str]] = []
    yield lambda kind, ident: items.append((kind, ident))
    for kind, ident in reversed(items):
        try:
            if kind == "job":
                client.job.delete(ident)
            else:
                client.pool.delete(ident)
        except BatchErrorException as exc:
            if exc.response is None or exc.response.status_code not in (404, 409):
                raise
