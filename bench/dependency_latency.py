"""Dependency latency: a chain of N tasks, each depending on the one before (t1 on t0, ...).

Prints the latency from a dependency's completion (its executionInfo.endTime) to its dependent's
start (executionInfo.startTime): p50, p99 and max, over the whole chain.

    python bench/dependency_latency.py --tasks 1000 [--endpoint URL]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from bench_pool import ubuntu_pool

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME


def run(endpoint: str, n: int) -> list[float]:
    client = BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY))
    suffix = uuid.uuid4().hex[:6]
    pool_id, job_id = f"deps-pool-{suffix}", f"deps-job-{suffix}"
    client.create_pool(ubuntu_pool(pool_id, dedicated=1, slots=2))
    client.create_job(
        m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id), uses_task_dependencies=True)
    )
    tasks = [
        m.BatchTaskCreateOptions(
            id=f"t{i}",
            command_line="/bin/true",
            depends_on=m.BatchTaskDependencies(task_ids=[f"t{i - 1}"]) if i else None,
        )
        for i in range(n)
    ]
    client.create_tasks(job_id, tasks)
    while client.get_job_task_counts(job_id).task_counts.completed < n:
        time.sleep(0.2)
    done = {t.id: t for t in client.list_tasks(job_id)}
    latencies = []
    for i in range(1, n):
        before, after = done[f"t{i - 1}"].execution_info, done[f"t{i}"].execution_info
        latencies.append((after.start_time - before.end_time).total_seconds() * 1000)
    client.begin_delete_job(job_id, polling_interval=0).result()
    client.begin_delete_pool(pool_id, polling_interval=0).result()
    client.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--endpoint", default="", help="a running Batchite (default: start one)")
    args = parser.parse_args()
    child = None if args.endpoint else start_child_server()
    try:
        latencies = run(args.endpoint or (child.endpoint if child else ""), args.tasks)
    finally:
        if child is not None:
            child.stop()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"chained tasks        {args.tasks}")
    print(f"dependency -> start  p50 {statistics.median(ordered):.2f} ms   p99 {p99:.2f} ms   max {ordered[-1]:.2f} ms")


if __name__ == "__main__":
    main()
