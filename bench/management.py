"""Management plane: what ARM calls cost next to the data plane's, in the same run.

Starts a Batchite with its management plane, then with the official clients, sequentially:
- `batch_account.get` through azure-mgmt-batch (HTTPS, a bearer token checked per request),
  beside its references: azure-batch `get_pool` over the data plane's HTTPS port and over plain
  HTTP (SharedKey per request);
- the ARM pool API's `pool.get` of a data-plane pool (the body converted on every call);
- `--cycles` account lifecycles: create (ARM PUT, synchronous), keys and a first data-plane call;
  delete (202, then the client polls the operation URL until done).

    python bench/management.py [--requests 300] [--cycles 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_pool import ubuntu_pool

from batchite.cli.server import start_child_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clients as the tests build them
from tests.conftest import make_client
from tests.mgmt.conftest import batch_client_for, resource_client


def timed(call: Callable[[], Any], count: int) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) of `count` sequential calls."""
    call()  # a connection and a token first
    took = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        took.append(time.perf_counter() - started)
    took.sort()
    return count / sum(took), took[len(took) // 2] * 1000, took[int(len(took) * 0.99) - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    server = start_child_server(Path(tempfile.mkdtemp(prefix="batchite-bench-mgmt-")), mgmt_port=0)
    try:
        mgmt = batch_client_for(server)
        with resource_client(server) as resources:
            resources.resource_groups.create_or_update("bench", {"location": "westus2"})
        name = f"bench{uuid.uuid4().hex[:8]}"
        mgmt.batch_account.begin_create("bench", name, {"location": "westus2"}).result()
        key = mgmt.batch_account.get_keys("bench", name).primary
        assert server.https_endpoint is not None
        https = make_client(server.https_endpoint, name, key, server.ca_path)
        http = make_client(server.endpoint, name, key)
        https.create_pool(ubuntu_pool("p1", dedicated=0, slots=1))
        rows = [
            (
                "ARM batch_account.get (HTTPS, bearer)",
                timed(lambda: mgmt.batch_account.get("bench", name), args.requests),
            ),
            ("ARM pool.get (HTTPS, bearer)", timed(lambda: mgmt.pool.get("bench", name, "p1"), args.requests)),
            ("reference: data plane get_pool (HTTPS)", timed(lambda: https.get_pool("p1"), args.requests)),
            ("reference: data plane get_pool (HTTP)", timed(lambda: http.get_pool("p1"), args.requests)),
        ]
        print(f"{'call':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for label, (rate, p50, p99) in rows:
            print(f"{label:44} {rate:8.0f} {p50:8.2f} {p99:8.2f}")
        creates, deletes = [], []
        for _ in range(args.cycles):
            account = f"cycle{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            mgmt.batch_account.begin_create("bench", account, {"location": "westus2"}).result()
            make_client(server.endpoint, account, mgmt.batch_account.get_keys("bench", account).primary).list_pools()
            creates.append(time.perf_counter() - started)
            started = time.perf_counter()
            mgmt.batch_account.begin_delete("bench", account).result()
            deletes.append(time.perf_counter() - started)
        print(
            f"account create + keys + first data-plane call: median {statistics.median(creates) * 1000:.0f} ms; "
            f"delete until the poller is done: median {statistics.median(deletes) * 1000:.0f} ms"
        )
        for client in (https, http, mgmt):
            client.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
