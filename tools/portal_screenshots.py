"""Screenshots of every page of the portal, for docs/portal/.

Starts a Batchite server of its own (a fresh data directory, the management plane on), fills it
with demo data through the official SDK (a pool of 12 nodes with a start task, a job of a few
hundred quick tasks of which some fail, a task that writes to stdout), signs in with the
one-click development button in headless Chromium (Debian's `chromium`, driven by Playwright)
and saves a full-page PNG of each page to docs/portal/<name>.png. A page that answers 404 (not
built yet) is skipped with a note; so is one that fails to load.

    .venv/bin/python tools/portal_screenshots.py [--out docs/portal] [--width 1280]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [  # as in tests/portal/conftest.py
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POOL, JOB, HELLO = "demo-pool", "demo-job", "hello"
VM_SIZE = "standard_d2s_v3"
TASKS = 300  # quick tasks in the demo job
FAILING_EVERY = 17  # one task in this many exits 3
MAX_HEIGHT = 2400  # px: a longer page is cut there (keeps each PNG small)
LIVE_WAIT = 8.0  # s: how long a page's live parts may take to fill


@dataclass
class Shot:
    name: str
    path: str  # under /portal
    prepare: Callable[[Any], None] | None = None  # done on the page before the picture
    error_page: bool = False  # a 4xx is what it shows


def wait_for(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"demo data: {what} did not happen within {timeout:.0f} s")


def image() -> m.VirtualMachineConfiguration:
    return m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(
            publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts", version="latest"
        ),
        node_agent_sku_id="batch.node.ubuntu 22.04",
    )


def fill(client: BatchClient) -> str:
    """The demo data; returns a node id of the pool."""
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=POOL,
            vm_size=VM_SIZE,
            virtual_machine_configuration=image(),
            target_dedicated_nodes=10,
            target_low_priority_nodes=2,
            task_slots_per_node=4,
            start_task=m.BatchStartTask(
                command_line="/bin/sh -c 'echo preparing node $AZ_BATCH_NODE_ID; sleep 1'", wait_for_success=True
            ),
        )
    )
    wait_for(
        lambda: sum(1 for n in client.list_nodes(POOL) if n.state in ("idle", "running")) >= 12, 120, "12 idle nodes"
    )
    client.create_job(m.BatchJobCreateOptions(id=JOB, pool_info=m.BatchPoolInfo(pool_id=POOL), priority=100))
    client.create_task(
        JOB,
        m.BatchTaskCreateOptions(
            id=HELLO,
            command_line="/bin/sh -c 'echo Hello from Batchite on $AZ_BATCH_NODE_ID; "
            "for i in 1 2 3 4 5; do echo line $i; done; echo a warning >&2'",
        ),
    )
    tasks = []
    for i in range(TASKS):
        fails = i % FAILING_EVERY == 5
        command = (
            f"/bin/sh -c 'sleep {1 + i % 4}; exit 3'" if fails else f"/bin/sh -c 'sleep {1 + i % 4}; echo task {i}'"
        )
        tasks.append(m.BatchTaskCreateOptions(id=f"task-{i:04d}", command_line=command))
    for start in range(0, len(tasks), 100):
        client.create_task_collection(JOB, m.BatchTaskGroup(task_values=tasks[start : start + 100]))
    client.create_job(m.BatchJobCreateOptions(id="nightly-render", pool_info=m.BatchPoolInfo(pool_id=POOL)))
    client.create_job_schedule(
        m.BatchJobScheduleCreateOptions(
            id="nightly",
            schedule=m.BatchJobScheduleConfiguration(recurrence_interval=datetime.timedelta(days=1)),
            job_specification=m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=POOL)),
        )
    )
    wait_for(lambda: client.get_task(JOB, HELLO).state == "completed", 60, "the hello task completing")
    return str(next(iter(client.list_nodes(POOL))).id)


def settle(page: Any) -> None:
    """Wait for the live parts (elements filled by server-sent events) to have content."""
    try:
        page.wait_for_function(
            "() => [...document.querySelectorAll('[sse-swap]')].every(e => e.innerHTML.trim() !== '')",
            timeout=LIVE_WAIT * 1000,
        )
    except Exception:
        print("    (some live parts stayed empty)")
    page.wait_for_timeout(700)  # a swap just received is painted


def set_prices(page: Any) -> None:
    """Prices typed in as a user would (the demo's own figures, not Azure's)."""
    if page.get_by_label(f"Dedicated price per hour for {VM_SIZE}").count() == 0:
        return
    page.get_by_label("Currency").fill("USD")
    page.get_by_label(f"Dedicated price per hour for {VM_SIZE}").fill("0.096")
    page.get_by_label(f"Low-priority price per hour for {VM_SIZE}").fill("0.0192")
    page.get_by_role("button", name="Save prices").click()
    page.wait_for_load_state()


def take(page: Any, base: str, shot: Shot, out: Path) -> Path | None:
    response = page.goto(base + shot.path)
    status = response.status if response is not None else 0
    if status == 404 and not shot.error_page:
        print(f"  skip {shot.name}: {shot.path} answers 404 (not built yet)")
        return None
    if status >= 400 and not shot.error_page:
        print(f"  note {shot.name}: {shot.path} answers {status}")
    settle(page)
    if shot.prepare is not None:
        shot.prepare(page)
        settle(page)
    height = int(page.evaluate("() => document.documentElement.scrollHeight"))
    target = out / f"{shot.name}.png"
    if height > MAX_HEIGHT:
        width = int(page.viewport_size["width"])
        page.screenshot(path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": MAX_HEIGHT})
    else:
        page.screenshot(path=str(target), full_page=True)
    print(f"  {shot.name}: {shot.path} ({status}), {target.stat().st_size // 1024} KiB")
    return target


def shots(node: str) -> list[Shot]:
    a = f"/a/{DEV_ACCOUNT_NAME}"
    return [
        Shot("dashboard", f"{a}/"),
        Shot("keys", f"{a}/keys"),
        Shot("quotas", f"{a}/quotas"),
        Shot("account-new", "/accounts/new"),
        Shot("pools", f"{a}/pools"),
        Shot("pool-new", f"{a}/pools/new"),
        Shot("pool", f"{a}/pools/{POOL}"),
        Shot("node", f"{a}/pools/{POOL}/nodes/{node}"),
        Shot("node-files", f"{a}/pools/{POOL}/nodes/{node}/files"),
        Shot("jobs", f"{a}/jobs"),
        Shot("job-new", f"{a}/jobs/new"),
        Shot("job", f"{a}/jobs/{JOB}"),
        Shot("task-new", f"{a}/jobs/{JOB}/tasks/new"),
        Shot("task", f"{a}/jobs/{JOB}/tasks/{HELLO}"),
        Shot("task-files", f"{a}/jobs/{JOB}/tasks/{HELLO}/files"),
        Shot("usage", f"{a}/usage?period=24h", prepare=set_prices),
        Shot("error", f"{a}/pools/no-such-pool", error_page=True),
    ]


def run(out: Path, width: int) -> list[Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed (scripts/system-packages installs it)")
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="batchite-shots-"))
    server: ChildServer = start_child_server(data_dir, mgmt_port=0)
    made: list[Path] = []
    try:
        client = BatchClient(
            endpoint=server.endpoint, credential=AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)
        )
        print(f"server at {server.endpoint}; filling demo data")
        node = fill(client)
        base = f"{server.endpoint}/portal"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
            context = browser.new_context(viewport={"width": width, "height": 800})
            context.set_default_timeout(20_000)
            page = context.new_page()
            page.goto(f"{base}/")
            page.wait_for_load_state()
            target = out / "signin.png"
            page.screenshot(path=str(target), full_page=True)
            made.append(target)
            print(f"  signin: / , {target.stat().st_size // 1024} KiB")
            page.get_by_role("button", name=f"Sign in as {DEV_ACCOUNT_NAME}").click()
            page.wait_for_url(f"{base}/a/{DEV_ACCOUNT_NAME}/")
            # Most of the job's tasks done, so its charts have a history (at most 2 minutes).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                counts = client.get_job_task_counts(JOB).task_counts
                if counts.completed >= TASKS * 0.9:
                    break
                time.sleep(1)
            for shot in shots(node):
                try:
                    target_path = take(page, base, shot, out)
                except Exception as err:  # one broken page does not stop the others
                    print(f"  skip {shot.name}: {type(err).__name__}: {str(err).splitlines()[0]}")
                    continue
                if target_path is not None:
                    made.append(target_path)
            browser.close()
        client.close()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "portal")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    made = run(args.out, args.width)
    total = sum(p.stat().st_size for p in made)
    print(f"{len(made)} screenshots in {args.out}, {total // 1024} KiB in all")
    sys.exit(0 if made else 1)


if __name__ == "__main__":
    main()
