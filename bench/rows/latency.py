"""latency: add-to-running on an idle pool, one task at a time.

A pool of one node with 2 slots, its node idle, and a job. 1,000 times (100 with --quick): the
client notes the wall-clock time just before `create_task` (the official SDK) of a /bin/true
task, then polls `get_job_task_counts` every 5 ms until that task has completed, so the pool is
idle again before the next add. Once all have run, each task's `executionInfo.startTime` (the
service's clock: the same machine's) less the time noted before its create_task is a sample.
Figures: p50 (target < 5 ms) and p99 (target < 50 ms) of the samples, in ms.
Reference, in the same run: the same number of /bin/true processes spawned directly with
os.posix_spawn, one at a time: from just before the call to its return.
"""

from __future__ import annotations

import time
import uuid

from azure.batch import models as m
from load import client_for
from rowkit import idle_pool, percentile_figures, run_times, spawn_times

from batchite.cli.server import start_child_server
from bench.runner import Context, Figure

NAME = "latency"
POLL = 0.005
TARGETS_MS = {"p50": 5.0, "p99": 50.0}


def add_to_running(endpoint: str, n: int) -> list[float]:
    client = client_for(endpoint)
    suffix = uuid.uuid4().hex[:6]
    pool_id, job_id = f"latency-pool-{suffix}", f"latency-job-{suffix}"
    idle_pool(client, pool_id, slots=2)
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    added: dict[str, float] = {}
    for i in range(n):
        task_id = f"t{i}"
        added[task_id] = time.time()
        client.create_task(job_id, m.BatchTaskCreateOptions(id=task_id, command_line="/bin/true"))
        while client.get_job_task_counts(job_id).task_counts.completed <= i:
            time.sleep(POLL)
    samples = []
    for task in client.list_tasks(job_id, select=["id", "executionInfo"]):
        started, _ = run_times(task)
        samples.append((started.timestamp() - added[str(task.id)]) * 1000)
    client.close()
    if len(samples) != n:
        raise RuntimeError(f"{len(samples)} tasks listed of {n}")
    return samples


def run(context: Context) -> list[Figure]:
    n = 100 if context.quick else 1_000
    direct = spawn_times(n)
    child = start_child_server(data_dir=context.directory(NAME))
    try:
        samples = add_to_running(child.endpoint, n)
    finally:
        child.stop()
    return percentile_figures(
        NAME,
        samples,
        direct,
        TARGETS_MS,
        "posix_spawn of /bin/true",
        f"{n} samples, max {max(samples):.2f} ms; posix_spawn max {max(direct):.2f} ms",
    )
