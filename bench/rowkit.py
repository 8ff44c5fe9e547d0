"""What the latency, handoff and scale rows (and bench/dependency_latency.py) share.

- `idle_pool`: a pool of one node whose node is idle (ready for tasks);
- `chain`: a job of N tasks each depending on the one before, run to completion, and the gaps
  from each dependency's end to its dependent's start as the service reports them;
- `spawn_times` and `spawn_chain_gaps`: the same costs when this process spawns /bin/true
  directly with os.posix_spawn (the references: what a process start costs on this machine);
- `percentile`.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import datetime

from azure.batch import BatchClient
from azure.batch import models as m
from bench_pool import ubuntu_pool

from bench.runner import Figure

TRUE = "/bin/true"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if fraction == 0.5:
        return statistics.median(ordered)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def idle_pool(client: BatchClient, pool_id: str, slots: int = 2, timeout: float = 60.0) -> str:
    """Create a pool of one node with `slots` slots and wait until its node is idle; the node's id."""
    client.create_pool(ubuntu_pool(pool_id, dedicated=1, slots=slots))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = list(client.list_nodes(pool_id))
        if nodes and nodes[0].state == "idle":
            return str(nodes[0].id)
        time.sleep(0.05)
    raise RuntimeError(f"pool {pool_id}: no idle node after {timeout:.0f} s")


def chain(client: BatchClient, n: int, slots: int = 2) -> tuple[str, str, list[float]]:
    """A pool and a job of `n` /bin/true tasks, t1 depending on t0 and so on, added in one
    create_tasks call, run to completion; (pool id, job id, the n - 1 gaps in ms from a task's
    executionInfo.endTime to its dependent's startTime). The pool and the job are left as they are."""
    suffix = uuid.uuid4().hex[:6]
    pool_id, job_id = f"deps-pool-{suffix}", f"deps-job-{suffix}"
    client.create_pool(ubuntu_pool(pool_id, dedicated=1, slots=slots))
    client.create_job(
        m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id), uses_task_dependencies=True)
    )
    tasks = [
        m.BatchTaskCreateOptions(
            id=f"t{i}",
            command_line=TRUE,
            depends_on=m.BatchTaskDependencies(task_ids=[f"t{i - 1}"]) if i else None,
        )
        for i in range(n)
    ]
    client.create_tasks(job_id, tasks)
    while client.get_job_task_counts(job_id).task_counts.completed < n:
        time.sleep(0.2)
    done = {t.id: t for t in client.list_tasks(job_id, select=["id", "executionInfo"])}
    gaps = []
    for i in range(1, n):
        _, ended = run_times(done[f"t{i - 1}"])
        started, _ = run_times(done[f"t{i}"])
        gaps.append((started - ended).total_seconds() * 1000)
    return pool_id, job_id, gaps


def run_times(task: m.BatchTask) -> tuple[datetime, datetime]:
    """A completed task's executionInfo (startTime, endTime)."""
    info = task.execution_info
    if info is None or info.start_time is None or info.end_time is None:
        raise RuntimeError(f"task {task.id}: no start or end time in {info}")
    return info.start_time, info.end_time


def spawn_times(n: int) -> list[float]:
    """`n` spawns of /bin/true, one at a time: ms from just before os.posix_spawn to its return
    (each child is waited for before the next spawn, outside the time)."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        pid = os.posix_spawn(TRUE, [TRUE], os.environ)
        samples.append((time.perf_counter() - start) * 1000)
        os.waitpid(pid, 0)
    return samples


def spawn_chain_gaps(n: int) -> list[float]:
    """A chain of `n` spawns of /bin/true, each after the one before has exited: the n - 1 gaps in
    ms from waitpid's return (the child seen ended) to the next os.posix_spawn's return."""
    gaps = []
    pid = os.posix_spawn(TRUE, [TRUE], os.environ)
    for _ in range(n - 1):
        os.waitpid(pid, 0)
        ended = time.perf_counter()
        pid = os.posix_spawn(TRUE, [TRUE], os.environ)
        gaps.append((time.perf_counter() - ended) * 1000)
    os.waitpid(pid, 0)
    return gaps


def percentile_figures(
    row: str, samples: list[float], direct: list[float], targets_ms: dict[str, float], reference_name: str, notes: str
) -> list[Figure]:
    """p50 and p99 of `samples` (ms) against their targets, beside the same percentiles of `direct`."""
    figures = []
    for name, target in targets_ms.items():
        fraction = 0.5 if name == "p50" else 0.99
        value = percentile(samples, fraction)
        figures.append(
            Figure(
                row,
                name,
                value,
                "ms",
                f"< {target:.0f} ms",
                value < target,
                reference=percentile(direct, fraction),
                reference_name=reference_name,
                notes=notes,
            )
        )
    return figures
