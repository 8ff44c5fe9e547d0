"""Dependency latency: a chain of N tasks, each depending on the one before (t1 on t0, ...).

Prints the latency from a dependency's completion (its executionInfo.endTime) to its dependent's
start (executionInfo.startTime): p50, p99 and max, over the whole chain.

    python bench/dependency_latency.py --tasks 1000 [--endpoint URL]
"""

from __future__ import annotations

import argparse
import statistics

from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from rowkit import chain

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME


def run(endpoint: str, n: int) -> list[float]:
    client = BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY))
    pool_id, job_id, latencies = chain(client, n)
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
