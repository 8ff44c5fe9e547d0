"""scale: one job of 1,000,000 tasks (100,000 with --quick).

On a server of its own: a pool of one node with 2 slots, its node idle and then disabled for
scheduling, so that every task stays queued while they are added; a job on it. Then:
- "add": the tasks (/bin/true) are added through the official SDK by ADDERS processes of THREADS
  threads each, every thread sending `create_task_collection` requests of 100 tasks (built just
  before each request) for its share of the ids; tasks per second from the earliest first request
  to the latest last answer (wall clock, across the processes). Target >= 10,000 tasks/s.
- "rss": the server process's VmRSS (/proc/<pid>/status; its node agents are other processes)
  once all are added and counted active. Target < 1 GB (1,024 MiB); the peak while adding is in
  the notes.
- "page": `list_tasks` with $filter "state eq 'active'" and maxresults 100, the first page,
  timed in the client around the SDK call; median of 20. Target < 50 ms.
- "counts": `get_job_task_counts`, timed the same way; median of 20. Target < 50 ms.
- "running": the node's scheduling is enabled, and `get_job_task_counts` is polled every 50 ms
  until 10,000 tasks (2,000 with --quick) have completed: completed tasks over the time since
  enable_node_scheduling was called. Reference: this run's `throughput` row measurement (10,000
  tasks on 2 slots, first add to last completion; bench/rows/throughput.py `reference_rate`,
  which measures it first on a fresh server when that row did not run). Target: at least 0.8x.
Then the job is terminated (not deleted) and the server stopped.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.synchronize import Event
from typing import Any

from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported by azure-batch 15.1.0
from load import RssWatch, client_for, rss_kib
from rowkit import idle_pool

from batchite.cli.server import start_child_server
from bench.rows import throughput
from bench.runner import Context, Figure

NAME = "scale"
TASKS, QUICK_TASKS = 1_000_000, 100_000
RUNNING, QUICK_RUNNING = 10_000, 2_000
ADDERS, THREADS = 2, 2
CHUNK = 100
CALLS = 20
POLL = 0.05


def _add_share(endpoint: str, job_id: str, ids: range, threads: int, go: Event, out: Any) -> None:
    """One adding process: `threads` threads sending collections of CHUNK tasks for `ids`;
    puts (first request's time, last answer's time, tasks not added) on `out`."""
    import logging

    logging.getLogger("azure").setLevel(logging.ERROR)
    clients = [client_for(endpoint) for _ in range(threads)]
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    failed = [0] * threads

    def send(k: int) -> None:
        client = clients[k]
        for chunk in chunks[k::threads]:
            group = m.BatchTaskGroup(
                task_values=[m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in chunk]
            )
            result = client.create_task_collection(job_id, group)
            failed[k] += sum(1 for r in result.result_values or [] if r.status != "success")

    workers = [threading.Thread(target=send, args=(k,)) for k in range(threads)]
    go.wait()
    start = time.time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((start, time.time(), sum(failed)))
    for client in clients:
        client.close()


def add_all(endpoint: str, job_id: str, n: int) -> tuple[float, int]:
    """The n tasks added by ADDERS processes; (seconds, tasks not added)."""
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    share = -(-n // ADDERS)
    processes = [
        context.Process(
            target=_add_share, args=(endpoint, job_id, range(k * share, min(n, (k + 1) * share)), THREADS, go, out)
        )
        for k in range(ADDERS)
    ]
    for process in processes:
        process.start()
    time.sleep(2.0)  # the processes imported the SDK and wait for `go`
    go.set()
    results = [out.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"an adding process ended with {process.exitcode}")
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    return end - start, sum(r[2] for r in results)


def median_ms(call: Callable[[], object], times: int = CALLS) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run(context: Context) -> list[Figure]:
    n = QUICK_TASKS if context.quick else TASKS
    running = QUICK_RUNNING if context.quick else RUNNING
    reference = throughput.reference_rate(context)  # before this row's server: nothing else runs beside it
    child = start_child_server(data_dir=context.directory(NAME))
    try:
        client = client_for(child.endpoint)
        suffix = uuid.uuid4().hex[:6]
        pool_id, job_id = f"scale-pool-{suffix}", f"scale-job-{suffix}"
        node_id = idle_pool(client, pool_id, slots=2)
        client.disable_node_scheduling(
            pool_id, node_id, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="taskcompletion")
        )
        client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
        pid = child.process.pid
        with RssWatch(pid) as watch:
            add_seconds, not_added = add_all(child.endpoint, job_id, n)
            counts = client.get_job_task_counts(job_id).task_counts
        rss_mib = rss_kib(pid) / 1024
        peak_mib = watch.peak / 1024
        queued = f"{counts.active:,} active, {counts.running:,} running, {counts.completed:,} completed"
        print(f"   added {n:,} in {add_seconds:.1f} s ({queued}); RSS {rss_mib:.0f} MiB", flush=True)

        def page() -> None:
            pages = client.list_tasks(job_id, filter="state eq 'active'", max_results=CHUNK).by_page()
            if sum(1 for _ in next(iter(pages))) != CHUNK:
                raise RuntimeError("a page of active tasks is not full")

        page_ms = median_ms(page)
        counts_ms = median_ms(lambda: client.get_job_task_counts(job_id))

        enabled = time.perf_counter()
        client.enable_node_scheduling(pool_id, node_id)
        while True:
            done = client.get_job_task_counts(job_id).task_counts
            elapsed = time.perf_counter() - enabled
            if done.completed >= running:
                break
            if elapsed > max(300.0, running / 10):
                raise RuntimeError(f"{done.completed:,} of {running:,} tasks completed in {elapsed:.0f} s")
            time.sleep(POLL)
        run_rate = done.completed / elapsed
        started = time.perf_counter()
        client.begin_terminate_job(
            job_id, BatchJobTerminateOptions(termination_reason="scale row done"), polling_interval=1
        ).result()
        terminate_s = time.perf_counter() - started
        client.close()
    finally:
        child.stop()
    add_rate = n / add_seconds
    all_queued = counts.active == n and not_added == 0
    ratio = run_rate / reference.rate
    return [
        Figure(
            NAME,
            "add",
            add_rate,
            "tasks/s",
            ">= 10,000 tasks/s",
            all_queued and add_rate >= 10_000,
            notes=f"{n:,} tasks in {add_seconds:.1f} s by {ADDERS} processes x {THREADS} threads of "
            f"create_task_collection({CHUNK}); {not_added} not added; then {queued}",
        ),
        Figure(
            NAME,
            "rss",
            rss_mib,
            "MiB",
            "< 1 GB with all queued",
            all_queued and rss_mib < 1024,
            notes=f"VmRSS of the server process with {counts.active:,} queued; peak while adding {peak_mib:.0f} MiB",
        ),
        Figure(NAME, "page", page_ms, "ms", "< 50 ms", page_ms < 50, notes=f"median of {CALLS}, maxresults {CHUNK}"),
        Figure(NAME, "counts", counts_ms, "ms", "< 50 ms", counts_ms < 50, notes=f"median of {CALLS}"),
        Figure(
            NAME,
            "running",
            run_rate,
            "tasks/s",
            "within 20% of throughput",
            done.failed == 0 and ratio >= 0.8,
            reference=reference.rate,
            reference_name="throughput row",
            ratio=ratio,
            notes=f"{done.completed:,} completed in {elapsed:.2f} s from enable_node_scheduling with "
            f"{n:,} queued ({done.failed} failed); terminate_job took {terminate_s:.1f} s; "
            f"reference: {reference.describe()}",
        ),
    ]
