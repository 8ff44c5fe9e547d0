"""Throughput: N trivial tasks (/bin/true) through create_tasks on a pool with 2 slots in total.

Prints tasks per second from the first add to the last completion, beside the same N processes
spawned directly by two threads with subprocess (the machine's ceiling), and the ratio.

    python bench/throughput.py --tasks 2000 [--endpoint URL] [--isolation none,users,sandbox]
                               [--backend local,ray]

With several --isolation levels (a server started for each), it also prints what each level costs
per task against the first one: (1/rate - 1/first rate) in milliseconds.

--backend (comma-separated, default `local`) runs the measurement once per compute backend, each
on a server of its own. For `ray` it starts a Ray cluster on this machine (ray.cluster_utils:
2 Ray nodes, each with the cores and memory of the pool's VM size, so the pool's node fits on
either; Ray authentication off for it), then a server with `--backend ray` on it. On the same
cluster, once the pool is gone, it also times plain Ray: N `@ray.remote` tasks each running
/bin/true with subprocess, as many at once as the pool has slots: `num_cpus` is the share of the
cluster's cores that fits exactly that many and all are submitted at once from a driver (when no
share does, e.g. 3 slots on 2 Ray nodes, the driver keeps that many in flight), after a warm-up;
first submit to last completion. A table at the end puts every backend beside the references
(the ceiling, plain Ray) with the ratios.
--endpoint applies to the local backend only.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from bench_pool import VM_SIZE, ubuntu_pool

from batchite.cli.server import ChildServer, start_child_server
from batchite.domain import vmsizes
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

BACKENDS = ("local", "ray")
RAY_NODES = 2
# Ray's single-machine mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0): the cluster and its agents on 127.0.0.1.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@dataclass
class Run:
    """One measurement: a backend (and isolation level) and its rates in tasks per second."""

    label: str
    end_to_end: float
    add_rate: float
    plain_ray: float | None = None  # plain Ray tasks on the same cluster (ray backend only)


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


def ray_cluster() -> Any:
    """RAY_NODES Ray nodes on this machine, each with the cores and memory of the pool's VM size."""
    from ray.cluster_utils import Cluster

    size = vmsizes.lookup(VM_SIZE)
    memory = size.memory_mb * 2**20
    node: dict[str, Any] = {
        "num_cpus": size.cores,
        "memory": memory,
        "object_store_memory": 256 * 2**20,
    }
    os.environ.update(RAY_ENV)  # the cluster's processes start from this one's environment
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    for _ in range(RAY_NODES - 1):
        cluster.add_node(**node)
    cluster.wait_for_nodes()
    return cluster


def start_server(backend: str, level: str, cluster: Any) -> ChildServer:
    extra = ["--isolation", level] if level else []
    if backend != "ray":
        return start_child_server(extra_args=extra or None)
    node_dir = tempfile.mkdtemp(prefix="batchite-bench-ray-", dir="/tmp")
    os.chmod(node_dir, 0o711)  # the pools' users pass through it
    extra += ["--backend", "ray", "--ray-address", cluster.address, "--ray-node-dir", node_dir]
    child = start_child_server(extra_args=extra, env=RAY_ENV)
    child.ray_node_dir = node_dir  # type: ignore[attr-defined]
    return child


def stop_server(child: ChildServer) -> None:
    child.stop()
    shutil.rmtree(child.data_dir, ignore_errors=True)
    node_dir = getattr(child, "ray_node_dir", "")
    if node_dir:
        shutil.rmtree(node_dir, ignore_errors=True)


def run_true() -> int:
    return subprocess.run(["/bin/true"], check=False).returncode


def plain_ray(address: str, n: int, slots: int) -> float:
    """Tasks per second of N Ray tasks running /bin/true, `slots` at a time, on the cluster at
    `address` once it is idle: each reserves the share of the cluster's cores that lets exactly
    `slots` run at once, and all are submitted together; when no share does (e.g. an odd number
    of slots on two Ray nodes), each reserves a slot's share of a Ray node and the driver keeps
    `slots` in flight."""
    import ray

    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    try:
        per_node = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
        total = sum(per_node)
        deadline = time.monotonic() + 60
        while ray.available_resources().get("CPU", 0.0) < total:  # the pool's node actor releasing its cores
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray cluster not idle: {ray.available_resources()} of {total} CPUs")
            time.sleep(0.1)
        share = total / slots
        capped = sum(math.floor(cpus / share + 1e-9) for cpus in per_node) == slots
        if not capped:
            share = max(per_node) / slots
        task = ray.remote(num_cpus=share)(run_true)
        ray.get([task.remote() for _ in range(2 * slots)])  # warm-up: the workers started
        start = time.perf_counter()
        if capped:
            codes = ray.get([task.remote() for _ in range(n)])
        else:
            pending: list[Any] = []
            codes, submitted = [], 0
            while submitted < n or pending:
                while submitted < n and len(pending) < slots:
                    pending.append(task.remote())
                    submitted += 1
                done, pending = ray.wait(pending, num_returns=1)
                codes += ray.get(done)
        end = time.perf_counter()
        assert codes == [0] * n, "a plain Ray task failed"
        return n / (end - start)
    finally:
        ray.shutdown()


def measure(backend: str, levels: list[str], args: argparse.Namespace) -> list[Run]:
    cluster = ray_cluster() if backend == "ray" else None
    runs: list[Run] = []
    try:
        for level in levels:
            child = None
            endpoint = args.endpoint if backend == "local" else ""
            if not endpoint or level:
                child = start_server(backend, level, cluster)
                endpoint = child.endpoint
            try:
                end_to_end, add_rate = batchite(endpoint, args.tasks, args.slots)
            finally:
                if child is not None:
                    stop_server(child)
            runs.append(Run(f"{backend} [{level}]" if level else backend, end_to_end, add_rate))
        if cluster is not None:
            reference = plain_ray(cluster.address, args.tasks, args.slots)
            for run in runs:
                run.plain_ray = reference
    finally:
        if cluster is not None:
            cluster.shutdown()
    return runs


def report(runs: list[Run], direct: float, levels: list[str]) -> None:
    print(f"{'backend':20} {'tasks/s':>8} {'add/s':>8} {'ceiling':>8} {'ratio':>6} {'plain Ray':>10} {'ratio':>6}")
    for run in runs:
        ray_cols = f"{'-':>10} {'-':>6}"
        if run.plain_ray:
            ray_cols = f"{run.plain_ray:10.0f} {run.end_to_end / run.plain_ray:6.2f}"
        print(
            f"{run.label:20} {run.end_to_end:8.0f} {run.add_rate:8.0f} {direct:8.0f} "
            f"{run.end_to_end / direct:6.2f} {ray_cols}"
        )
    refs = {run.plain_ray for run in runs if run.plain_ray}
    for ref in refs:
        print(f"plain Ray tasks against the ceiling: {ref:.0f} / {direct:.0f} = {ref / direct:.2f}")
    if len(levels) > 1:
        for backend in dict.fromkeys(run.label.split(" ")[0] for run in runs):
            mine = [run for run in runs if run.label.split(" ")[0] == backend]
            for run in mine[1:]:
                cost = 1000 / run.end_to_end - 1000 / mine[0].end_to_end
                print(f"{run.label}: {cost:.2f} ms per task against {levels[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--endpoint", default="", help="a running Batchite for the local backend (default: start one)")
    parser.add_argument("--slots", type=int, default=2, help="task slots in the pool (one node, up to 8)")
    parser.add_argument("--isolation", default="", help="comma-separated levels to compare (servers started here)")
    parser.add_argument("--backend", default="local", help="comma-separated compute backends: local, ray")
    args = parser.parse_args()
    levels = [level for level in args.isolation.split(",") if level] or [""]
    backends = [backend for backend in args.backend.split(",") if backend] or ["local"]
    unknown = [backend for backend in backends if backend not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose among {', '.join(BACKENDS)}")
    direct = ceiling(args.tasks)
    print(f"tasks     {args.tasks} on {args.slots} slots (one {VM_SIZE} node)")
    print(f"ceiling   {direct:.0f} tasks/s: direct subprocess, 2 threads")
    runs: list[Run] = []
    for backend in backends:
        mine = measure(backend, levels, args)
        for run in mine:
            print(f"{run.label:20} {run.end_to_end:8.0f} tasks/s end to end, create_tasks alone {run.add_rate:.0f}/s")
        if mine and mine[0].plain_ray:
            print(f"{'plain Ray tasks':20} {mine[0].plain_ray:8.0f} tasks/s, {args.slots} at a time, same cluster")
        runs += mine
    print()
    report(runs, direct, levels)


if __name__ == "__main__":
    main()
