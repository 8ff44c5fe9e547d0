"""The portal's task table and charts at 100,000 tasks in one job.

    python bench/portal_tasks.py [--tasks 100000] [--runs 7] [--data-dir DIR]

1. A server on a fresh data directory; a pool without nodes and a job, made with the SDK; N tasks
   added with the SDK's create_tasks (add_collection in chunks of 100, 4 at once).
2. The server stopped, the tasks are given runs in-process through the store (90% completed on one
   of 50 nodes, a tenth of those failed with exit code 1, the rest still active), as if they had
   run: the sorts and filters read real values. The server is started again on the same directory.
3. Timed (p50 of --runs, after one warm-up), over HTTP on a signed-in portal session:
   the task table (the htmx fragment: count + one page of 100 rows rendered) sorted by each column
   both ways, filtered, a deep page; the whole job page (properties, counts, both charts, table),
   first (charts drawn) and again (charts reused while the counts stay); in-process on the same
   database, the chart data (every task's times, one read; the latest 2,000 runs picked from
   them; both charts drawn); and as the reference, the data plane's list tasks with the same
   $filter through the SDK (its first page).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from bench_pool import ubuntu_pool

from batchite.cli.server import ChildServer, start_child_server
from batchite.domain.states import TaskState
from batchite.portal import charts
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from batchite.service.task_table import latest_runs
from batchite.store.sqlite import SqliteStore
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.models import BatchNodeInfo, BatchTaskExecutionInfo

POOL, JOB = "bench-portal-pool", "bench-portal-job"
FILTERS = ["startswith(id,'t-0999')", "id eq 't-09999'", "executionInfo/exitCode eq 1", "state eq 'active'"]
SORTS = ["id", "state", "exitCode", "node", "created", "started", "ended"]


def client_of(server: ChildServer) -> BatchClient:
    return BatchClient(server.endpoint, AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY))


def p50(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def add_tasks(server: ChildServer, n: int) -> float:
    client = client_of(server)
    client.create_pool(ubuntu_pool(POOL, dedicated=0, slots=1))
    client.create_job(m.BatchJobCreateOptions(id=JOB, pool_info=m.BatchPoolInfo(pool_id=POOL)))
    start = time.perf_counter()
    chunk = 10_000
    for first in range(0, n, chunk):
        tasks = [
            m.BatchTaskCreateOptions(id=f"t-{i:05}", command_line="/bin/true")
            for i in range(first, min(n, first + chunk))
        ]
        result = client.create_tasks(JOB, tasks, max_concurrency=4)
        assert all(r.status == "success" for r in result.result_values or [])
    client.close()
    return time.perf_counter() - start


def give_runs(data_dir: Path) -> None:
    """As if the tasks had run: most completed on one of 50 nodes, some failed, the rest active."""
    store = SqliteStore(data_dir / "batchite.db")
    rng = random.Random(7)
    nodes = [f"tvmps_{rng.getrandbits(256):064x}_d" for _ in range(50)]
    job = store.jobs.get(DEV_ACCOUNT_NAME, "", JOB)
    assert job is not None
    for task in store.tasks.list(DEV_ACCOUNT_NAME, job.key):
        if rng.random() < 0.1:
            continue  # still active
        w = task.wire
        start = w.creation_time + timedelta(seconds=rng.uniform(0.1, 600))
        end = start + timedelta(seconds=rng.uniform(0.2, 30))
        failed = rng.random() < 0.1
        w.state, w.state_transition_time = TaskState.COMPLETED, end
        w.execution_info = BatchTaskExecutionInfo(
            start_time=start,
            end_time=end,
            exit_code=1 if failed else 0,
            retry_count=0,
            requeue_count=0,
            result=BatchTaskExecutionResult.FAILURE if failed else BatchTaskExecutionResult.SUCCESS,
        )
        w.node_info = BatchNodeInfo(node_id=rng.choice(nodes), pool_id=POOL)
        store.tasks.update(task)
    store.flush()
    store.close()


def signed_in(server: ChildServer) -> httpx.Client:
    http = httpx.Client(base_url=f"{server.endpoint}/portal", timeout=60)
    home = http.get("/")
    token = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert token, "no CSRF token on the sign-in page"
    answer = http.post("/sign-in/dev", data={"csrf": token.group(1)})
    assert answer.status_code in (200, 303), answer.status_code
    return http


def measure(server: ChildServer, data_dir: Path, n: int, runs: int) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    http = signed_in(server)
    page = f"/a/{DEV_ACCOUNT_NAME}/jobs/{JOB}"
    fragment = {"HX-Request": "true", "HX-Target": "task-table"}

    def table(**params: str) -> Callable[[], str]:
        def get() -> str:
            answer = http.get(page, params={"size": "100", **params}, headers=fragment)
            assert answer.status_code == 200, (answer.status_code, answer.text[:300])
            found = re.search(r"rows [\d]+\u2013[\d]+ of (\d+)|No task matches", answer.text)
            assert found, answer.text[:300]
            return found.group(0)

        return get

    for sort in SORTS:
        for order in ("asc", "desc"):
            check = table(sort=sort, order=order)
            rows.append((f"table sorted by {sort} {order}", p50(check, runs), check()))
    deep = table(sort="started", order="asc", page=str(max(1, n // 100)))
    rows.append(("table sorted by started, last page", p50(deep, runs), deep()))
    for text in FILTERS:
        check = table(filter=text)
        rows.append((f"table $filter {text}", p50(check, runs), check()))

    def full() -> None:
        http.get(page).raise_for_status()

    start = time.perf_counter()
    full()  # the first view of the job draws its charts; the next ones reuse them (counts unchanged)
    rows.append(("job page, first view (charts drawn)", (time.perf_counter() - start) * 1000, ""))
    rows.append(("job page, again (charts reused)", p50(full, runs), ""))

    store = SqliteStore(data_dir / "batchite.db")  # a reader beside the server (WAL)
    job = store.jobs.get(DEV_ACCOUNT_NAME, "", JOB)
    assert job is not None
    key = job.key
    times = store.tasks.times(DEV_ACCOUNT_NAME, key)
    every = p50(lambda: store.tasks.times(DEV_ACCOUNT_NAME, key), runs)
    rows.append(("chart data: every task's times (one read)", every, f"{len(times)} tasks"))
    latest = latest_runs(times)
    picked = p50(lambda: latest_runs(times), runs)
    rows.append(("chart data: the latest 2,000 runs picked", picked, f"of {latest.total} runs"))
    runs_now = latest.runs
    now = time.time()

    def draw() -> None:
        charts.state_chart_svg(charts.state_series(times, times[0].created, now))
        line = charts.timeline(runs_now, now)
        charts.timeline_svg(line, len(runs_now), len(runs_now))

    rows.append(("charts drawn (series + SVG)", p50(draw, runs), ""))
    store.close()

    client = client_of(server)
    for text in FILTERS:

        def first_page(text: str = text) -> int:
            pages = client.list_tasks(JOB, filter=text, max_results=100).by_page()
            return len(list(next(pages)))

        rows.append((f"SDK list tasks $filter {text} (first page)", p50(first_page, runs), f"{first_page()} items"))
    client.close()
    http.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="batchite-portal-bench-"))
    server = start_child_server(data_dir)
    try:
        took = add_tasks(server, args.tasks)
    finally:
        server.stop()
    print(f"{args.tasks} tasks added with the SDK in {took:.1f} s ({args.tasks / took:.0f}/s)", flush=True)
    start = time.perf_counter()
    give_runs(data_dir)
    print(f"runs given in-process in {time.perf_counter() - start:.1f} s", flush=True)
    server = start_child_server(data_dir)
    try:
        rows = measure(server, data_dir, args.tasks, args.runs)
    finally:
        server.stop()
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what (p50 of ' + str(args.runs) + ')':<{width}}  {'ms':>8}  shows")
    for label, ms, shows in rows:
        print(f"{label:<{width}}  {ms:8.1f}  {shows}")


if __name__ == "__main__":
    main()
