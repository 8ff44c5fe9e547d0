"""Beyond its limit of requests in flight, the service answers 503 ServerBusy with Retry-After.

A server with `--max-concurrent-requests 2` has both places held by downloads of a large task
file whose responses are not read (a request keeps its place until its response is sent). Then
every other request, after the short wait, is `503 ServerBusy` in the Batch error body with
`Retry-After`; the health probe still answers; and SDK clients with their retries on, sent
meanwhile, all succeed once the downloads are read to the end, having seen nothing but 503s
and then their answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential

from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Raw, error_of, wait_nodes, wait_task
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e

BIG = 48 * 1024 * 1024  # more than the socket buffers between the service and a client hold


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path / "data", ["--max-concurrent-requests", "2"])
    yield child
    child.stop()


def retrying_client(endpoint: str) -> BatchClient:
    credential = AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)
    return BatchClient(endpoint=endpoint, credential=credential, retry_total=10, retry_backoff_factor=0.1)


def test_requests_beyond_the_limit_are_server_busy_and_the_sdk_retries_them(busy_server: ChildServer) -> None:
    endpoint = busy_server.endpoint
    client = make_client(endpoint)
    client.create_pool(pool_options("bpool", dedicated=1))
    wait_nodes(client, "bpool", 1)
    client.create_job(job_options("bjob", "bpool"))
    client.create_task("bjob", task_options("big", f"head -c {BIG} /dev/zero"))
    assert wait_task(client, "bjob", "big").execution_info.exit_code == 0

    # Both places held: each download has sent its first chunk and waits for its reader.
    holders = [make_client(endpoint) for _ in range(2)]
    streams: list[Iterator[bytes]] = [h.download_task_file("bjob", "big", "stdout.txt") for h in holders]
    first = [len(next(s)) for s in streams]
    assert all(first)

    raw = Raw(endpoint)
    try:
        busy = [raw.request("GET", "/jobs/bjob") for _ in range(3)]
        for response in busy:
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "1"
            assert response.headers["request-id"]
            assert response.headers["content-type"].startswith("application/json")
            code, values = error_of(response)
            assert code == "ServerBusy" and values == {}
            assert response.json()["message"]["value"].startswith(
                "The server is currently unable to receive requests. Please retry your request.\nRequestId:"
            )
        assert httpx.get(f"{endpoint}/_batchite/health", timeout=5).status_code == 200

        # SDK clients with their retries on, sent while the places are held.
        statuses: list[int] = []
        results: list[Any] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def record(response: Any) -> None:
            with lock:
                statuses.append(response.http_response.status_code)

        def work(index: int) -> None:
            with retrying_client(endpoint) as sdk:
                try:
                    if index % 2:
                        results.append(sdk.get_job("bjob", raw_response_hook=record).id)
                    else:
                        results.append(len(list(sdk.list_tasks("bjob", raw_response_hook=record))))
                except BaseException as exc:  # reported below
                    errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        wait_for(lambda: statuses.count(503) >= 3, timeout=30)
        for s in streams:
            assert sum(len(chunk) for chunk in s) + first.pop(0) == BIG
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert sorted(map(str, results)) == sorted(["1", "1", "1", "bjob", "bjob", "bjob"])
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(200) == 6

        # With the places free again, a request is answered at once.
        assert raw.request("GET", "/jobs/bjob").status_code == 200
    finally:
        raw.close()
        for h in holders:
            h.close()
        client.close()
