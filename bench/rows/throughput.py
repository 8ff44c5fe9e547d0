"""Row `throughput`: 10,000 /bin/true tasks through the REST API on 2 task slots (one node).

The figure: tasks per second from just before the first `create_tasks` (the SDK splits the list
into requests of 100, 4 client threads) to the first `get_job_task_counts` (polled every 50 ms)
that counts them all completed; every task must have succeeded. The pool (one standard_d2s_v3
node, 2 slots) is idle before the clock starts, so its allocation is not counted.

The references, measured in the same run, once the server has stopped:
- the direct-spawn ceiling: two threads each running `subprocess.Popen(["/bin/true"]).wait()` in a
  loop, the same number of processes in all (bench/throughput.py `ceiling`);
- plain Ray tasks running the same command, 2 at a time, on a local Ray cluster (bench/throughput.py
  `ray_cluster` and `plain_ray`: 2 Ray nodes of 2 CPUs, each task reserving 2 CPUs, after a warm-up;
  first submit to last completion).

Figures "vs ceiling" (target >= 0.6x) and "vs Ray" (target >= 1.5x). The Batchite measurement is
kept in `context.shared["throughput"]` (a `Measurement`): `throughput-wide` and `scale` compare
against it, and call `reference_rate(context)` to get it (measured on the spot when this row did
not run).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from bench.references import SETUP_HINT, ray_available
from bench.runner import Context, Figure

NAME = "throughput"
TASKS, QUICK_TASKS = 10_000, 500
CLIENT_THREADS = 4
POLL = 0.05  # seconds between two get_job_task_counts


@dataclass
class Measurement:
    """One run of N /bin/true tasks through Batchite: its rate and what went with it."""

    tasks: int
    nodes: int
    slots: int  # per node
    seconds: float  # first add to last completion
    add_seconds: float  # create_tasks alone
    succeeded: int

    @property
    def rate(self) -> float:
        """Tasks per second, first add to last completion."""
        return self.tasks / self.seconds

    @property
    def ok(self) -> bool:
        return self.succeeded == self.tasks

    def describe(self) -> str:
        text = (
            f"{self.tasks:,} tasks on {self.nodes} node(s) x {self.slots} slots in {self.seconds:.2f} s "
            f"(create_tasks alone {self.add_seconds:.2f} s, {self.tasks / self.add_seconds:,.0f}/s)"
        )
        if not self.ok:
            text += f"; only {self.succeeded:,} succeeded"
        return text


def task_count(context: Context) -> int:
    return QUICK_TASKS if context.quick else TASKS


def client_for(endpoint: str) -> BatchClient:
    return BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY))


def wait_idle(client: BatchClient, pool_id: str, nodes: int, timeout: float = 120.0) -> None:
    """Until the pool has `nodes` nodes, all idle."""
    deadline = time.monotonic() + timeout
    while True:
        states = [node.state for node in client.list_nodes(pool_id)]
        if len(states) == nodes and all(state == m.BatchNodeState.IDLE for state in states):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"pool {pool_id} not idle after {timeout:.0f} s: {states}")
        time.sleep(0.05)


def measure(endpoint: str, tasks: int, nodes: int, slots: int) -> Measurement:
    """N /bin/true tasks on a new pool of `nodes` x `slots` at `endpoint`, first add to last
    completion. The pool and job stay (the runner removes the data when the run is over)."""
    from bench_pool import ubuntu_pool

    client = client_for(endpoint)
    try:
        suffix = uuid.uuid4().hex[:6]
        pool_id, job_id = f"bench-pool-{suffix}", f"bench-job-{suffix}"
        client.create_pool(ubuntu_pool(pool_id, dedicated=nodes, slots=slots))
        wait_idle(client, pool_id, nodes)
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
        collection = [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(tasks)]
        deadline = time.monotonic() + max(120.0, tasks / 20)
        start = time.perf_counter()
        client.create_tasks(job_id, collection, max_concurrency=CLIENT_THREADS)
        added = time.perf_counter()
        while True:
            counts = client.get_job_task_counts(job_id).task_counts
            if counts.completed >= tasks:
                end = time.perf_counter()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{counts.completed:,} of {tasks:,} tasks completed in time")
            time.sleep(POLL)
        return Measurement(tasks, nodes, slots, end - start, added - start, counts.succeeded)
    finally:
        client.close()


def measure_on_new_server(context: Context, row: str, tasks: int, nodes: int, slots: int) -> Measurement:
    """`measure` on a server of its own (data in a directory of the run's scratch), then stopped."""
    child = start_child_server(data_dir=context.directory(row))
    try:
        return measure(child.endpoint, tasks, nodes, slots)
    finally:
        child.stop()


def reference_rate(context: Context) -> Measurement:
    """This run's `throughput` measurement (2 slots on one node): the one the row made, or, when
    the row did not run in this run, one made now (and kept for the rows after)."""
    found = context.shared.get(NAME)
    if isinstance(found, Measurement):
        return found
    measurement = measure_on_new_server(context, NAME, task_count(context), nodes=1, slots=2)
    context.shared[NAME] = measurement
    return measurement


def plain_ray_rate(tasks: int, slots: int) -> float:
    """Plain Ray tasks per second on a local Ray cluster of its own (started and shut down here)."""
    import throughput as legacy  # bench/throughput.py

    cluster = legacy.ray_cluster()
    try:
        return float(legacy.plain_ray(cluster.address, tasks, slots))
    finally:
        cluster.shutdown()


def run(context: Context) -> list[Figure]:
    import throughput as legacy  # bench/throughput.py

    tasks = task_count(context)
    mine = measure_on_new_server(context, NAME, tasks, nodes=1, slots=2)
    context.shared[NAME] = mine
    ceiling = legacy.ceiling(tasks)
    notes = mine.describe()
    figures = [
        Figure(
            NAME,
            "vs ceiling",
            mine.rate,
            "tasks/s",
            ">= 0.6x direct spawn",
            mine.ok and mine.rate >= 0.6 * ceiling,
            reference=ceiling,
            reference_name="direct spawn, 2 threads",
            ratio=mine.rate / ceiling,
            notes=notes,
        )
    ]
    ray_target = ">= 1.5x plain Ray"
    if not ray_available():
        figures.append(Figure(NAME, "vs Ray", mine.rate, "tasks/s", ray_target, False, notes=SETUP_HINT))
        return figures
    ray_rate = plain_ray_rate(tasks, slots=2)
    figures.append(
        Figure(
            NAME,
            "vs Ray",
            mine.rate,
            "tasks/s",
            ray_target,
            mine.ok and mine.rate >= 1.5 * ray_rate,
            reference=ray_rate,
            reference_name="plain Ray tasks, 2 at a time",
            ratio=mine.rate / ray_rate,
            notes=notes,
        )
    )
    return figures
