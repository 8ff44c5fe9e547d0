"""The portal's pool page at 2,000 nodes: the page and its heatmap fragment beside the data plane.

Starts a Batchite (node agents hosting `--nodes-per-agent` nodes each, a core quota that fits),
creates one pool of `--nodes` dedicated Standard_A1_v2 nodes with the SDK and waits until all are
idle, signs in to the portal (one-click development sign-in, as a browser does), then times,
sequentially over `--runs` requests each:
- GET /portal/a/<account>/pools/<pool> (the whole page: properties, overview, heatmap);
- GET /portal/a/<account>/pools/<pool>/heatmap (the fragment the live stream sends);
- the first event of the live stream (/live): what a browser waits for once the page is open;
- reference: the data plane's list_nodes of the same nodes through the azure-batch SDK.

    python bench/portal_heatmap.py [--nodes 2000] [--runs 20] [--nodes-per-agent 250]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from azure.batch import models as m

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_NAME

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the clients as the tests build them
from tests.conftest import make_client

POOL = "heatmap"


def pool_of(nodes: int) -> m.BatchPoolCreateOptions:
    return m.BatchPoolCreateOptions(
        id=POOL,
        vm_size="standard_a1_v2",
        target_dedicated_nodes=nodes,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(
                publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"
            ),
            node_agent_sku_id="batch.node.ubuntu 22.04",
        ),
    )


def p50(call: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(p50 ms, max ms) of `runs` sequential calls, after one warm-up call."""
    call()
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return took[len(took) // 2], took[-1]


def signed_in(portal: str) -> httpx.Client:
    http = httpx.Client(base_url=portal, timeout=60)
    page = http.get("/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, "no CSRF token on the sign-in page"
    answer = http.post("/sign-in/dev", data={"csrf": token.group(1)})
    assert answer.status_code in (200, 303), answer.status_code
    return http


def first_event(http: httpx.Client, path: str) -> None:
    with http.stream("GET", path) as events:
        for line in events.iter_lines():
            if line.startswith("event: heatmap"):
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--nodes-per-agent", type=int, default=250)
    args = parser.parse_args()
    extra = ["--nodes-per-agent", str(args.nodes_per_agent), "--dedicated-core-quota", str(args.nodes + 100)]
    server = start_child_server(Path(tempfile.mkdtemp(prefix="batchite-bench-heatmap-")), extra_args=extra)
    try:
        client = make_client(server.endpoint)
        started = time.perf_counter()
        client.create_pool(pool_of(args.nodes))
        while True:
            counts = next(c for c in client.list_pool_node_counts() if c.pool_id == POOL).dedicated
            if counts.idle == args.nodes:
                break
            if time.perf_counter() - started > 900:
                print(f"only {counts.idle} of {args.nodes} nodes idle after 900 s; measuring what there is")
                break
            time.sleep(1)
        print(f"{args.nodes} nodes idle in {time.perf_counter() - started:.1f} s ({args.nodes_per_agent} per agent)")
        http = signed_in(f"{server.endpoint}/portal")
        base = f"/a/{DEV_ACCOUNT_NAME}/pools/{POOL}"
        fragment = http.get(f"{base}/heatmap")
        page = http.get(base)
        assert fragment.status_code == 200 and page.status_code == 200, (fragment.status_code, page.status_code)
        cells = fragment.text.count("<a ")
        rows = [
            ("portal pool page", p50(lambda: http.get(base).raise_for_status(), args.runs)),
            ("portal heatmap fragment", p50(lambda: http.get(f"{base}/heatmap").raise_for_status(), args.runs)),
            ("portal live stream, first heatmap event", p50(lambda: first_event(http, f"{base}/live"), args.runs)),
            ("reference: SDK list_nodes (all pages)", p50(lambda: list(client.list_nodes(POOL)), args.runs)),
        ]
        print(f"{'request':42} {'p50 ms':>8} {'max ms':>8}")
        for label, (median, worst) in rows:
            print(f"{label:42} {median:8.1f} {worst:8.1f}")
        print(
            f"heatmap fragment: {len(fragment.content):,} bytes for {cells} cells "
            f"({len(fragment.content) / max(1, cells):.0f} B a cell); pool page: {len(page.content):,} bytes"
        )
        http.close()
        client.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
