"""Throughput: N trivial tasks (/bin/true) through create_tasks on a pool with 2 slots in total.

Prints tasks per second from the first add to the last completion, beside the same N processes
spawned directly by two threads with subprocess (the machine's ceiling), and the ratio.

    python bench/throughput.py --tasks 2000 [--endpoint URL] [--isolation none,users,sandbox]

With several --isolation levels (a server started for each), it also prints what each level costs
per task against the first one: (1/rate - 1/first rate) in milliseconds.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
import uuid

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from bench_pool import ubuntu_pool

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME


def ceiling(n: int, threads: int = 2) -> float:
    """Tasks per second when two threads spawn and wait for /bin/true directly."""
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def worker(count: int) -> None:
        for _ in range(count):
            subprocess.Popen(["/bin/true"]).wait()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(c,)) for c in per]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - start)


def batchite(endpoint: str, n: int, slots: int = 2) -> tuple[float, float]:
    client = BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY))
    suffix = uuid.uuid4().hex[:6]
    pool_id, job_id = f"bench-pool-{suffix}", f"bench-job-{suffix}"
    client.create_pool(ubuntu_pool(pool_id, dedicated=1, slots=slots))
    while client.get_pool(pool_id).allocation_state != "steady":
        time.sleep(0.05)
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    tasks = [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(n)]
    start = time.perf_counter()
    client.create_tasks(job_id, tasks, max_concurrency=2)
    added = time.perf_counter()
    while client.get_job_task_counts(job_id).task_counts.completed < n:
        time.sleep(0.1)
    end = time.perf_counter()
    counts = client.get_job_task_counts(job_id).task_counts
    assert counts.succeeded == n, counts
    client.begin_delete_job(job_id, polling_interval=0.2).result()
    client.begin_delete_pool(pool_id, polling_interval=0.2).result()
    client.close()
    return n / (end - start), n / (added - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--endpoint", default="", help="a running Batchite (default: start one)")
    parser.add_argument("--slots", type=int, default=2, help="task slots in the pool (one node, up to 8)")
    parser.add_argument("--isolation", default="", help="comma-separated levels to compare (servers started here)")
    args = parser.parse_args()
    levels = [level for level in args.isolation.split(",") if level] or [""]
    direct = ceiling(args.tasks)
    print(f"tasks                         {args.tasks} on {args.slots} slots")
    print(f"direct subprocess, 2 threads  {direct:8.0f} tasks/s  (the machine's ceiling)")
    first: float | None = None
    for level in levels:
        child = None
        endpoint = args.endpoint
        if not endpoint or level:
            child = start_child_server(extra_args=["--isolation", level] if level else None)
            endpoint = child.endpoint
        try:
            end_to_end, add_rate = batchite(endpoint, args.tasks, args.slots)
        finally:
            if child is not None:
                child.stop()
        label = f" [{level}]" if level else ""
        print(f"batchite end to end{label:10} {end_to_end:8.0f} tasks/s  (first add to last completion)")
        print(f"batchite create_tasks alone   {add_rate:8.0f} tasks/s")
        print(f"ratio                         {end_to_end / direct:8.2f}")
        if first is None:
            first = end_to_end
        else:
            print(f"cost per task against {levels[0]:7} {1000 / end_to_end - 1000 / first:8.2f} ms")


if __name__ == "__main__":
    main()
