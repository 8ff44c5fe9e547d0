"""reads: `get_task` and a filtered `list_tasks` page from 32 concurrent clients, beside a bare endpoint.

A job of 10,000 completed /bin/true tasks (1,000 with --quick) on an idle pool. The load
(bench/loadgen.py: one process, 32 keep-alive HTTP/1.1 connections, every request
SharedKey-signed) runs 10 s (2 s with --quick) after a 1 s warm-up against, in turn:
- the reference: a bare Starlette endpoint answering a small JSON body, served by uvicorn as
  `batchite serve` serves (GET /jobs/j/tasks/<id>, the same paths as get_task's);
- `get_task`: GET /jobs/{job}/tasks/{id} of a task picked at random among the job's;
- `list_tasks`: GET /jobs/{job}/tasks?$filter=state eq 'completed'&maxresults=100, the first
  page of a portal's list of finished tasks (100 full tasks).
Figures: requests per second against the bare endpoint's (target >= 0.6x), and p99 latency from
writing a request to reading its answer (target < 20 ms), one pair each for get_task and
list_tasks.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

from azure.batch import models as m
from bench_pool import ubuntu_pool
from load import client_for
from loadgen import BareServer, Result, Spec, load

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from bench.runner import Context, Figure

NAME = "reads"
API = "api-version=2025-06-01"
CONNECTIONS = 32
RATIO_TARGET = 0.6
P99_TARGET_MS = 20.0


def completed_job(endpoint: str, n: int) -> str:
    """A pool (one node, 2 slots) and a job of `n` /bin/true tasks, all completed; the job's id."""
    client = client_for(endpoint)
    suffix = uuid.uuid4().hex[:6]
    pool_id, job_id = f"reads-pool-{suffix}", f"reads-job-{suffix}"
    client.create_pool(ubuntu_pool(pool_id, dedicated=1, slots=2))
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    client.create_tasks(
        job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(n)], max_concurrency=4
    )
    while client.get_job_task_counts(job_id).task_counts.completed < n:
        time.sleep(0.2)
    client.close()
    return job_id


def figures(kind: str, mine: Result, bare: Result) -> list[Figure]:
    ratio = mine.rate / bare.rate if bare.rate else 0.0
    notes = f"{mine.summary()}; bare: {bare.summary()}"
    sound = mine.not_ok == 0 and not mine.errors
    return [
        Figure(
            NAME,
            kind,
            mine.rate,
            "req/s",
            f">= {RATIO_TARGET}x bare Starlette",
            sound and ratio >= RATIO_TARGET,
            reference=bare.rate,
            reference_name="bare Starlette",
            ratio=ratio,
            notes=notes,
        ),
        Figure(
            NAME,
            f"{kind} p99",
            mine.p99,
            "ms",
            f"< {P99_TARGET_MS:.0f} ms",
            sound and mine.p99 < P99_TARGET_MS,
            reference=bare.p99,
            reference_name="bare Starlette",
            notes=f"p50 {mine.p50:.2f} ms",
        ),
    ]


def run(context: Context) -> list[Figure]:
    n = 1_000 if context.quick else 10_000
    seconds = 2.0 if context.quick else 10.0
    child = start_child_server(data_dir=context.directory(NAME))
    bare = BareServer()
    try:
        job_id = completed_job(child.endpoint, n)
        get_paths = [f"/jobs/{job_id}/tasks/t{i}?{API}" for i in range(n)]
        completed = quote("state eq 'completed'")
        list_paths = [f"/jobs/{job_id}/tasks?{API}&maxresults=100&$filter={completed}"]

        def spec(endpoint: str, paths: list[str]) -> Spec:
            return Spec(endpoint, paths, CONNECTIONS, seconds, 1.0, DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)

        reference = load(spec(bare.endpoint, get_paths))
        got = load(spec(child.endpoint, get_paths))
        listed = load(spec(child.endpoint, list_paths))
    finally:
        bare.stop()
        child.stop()
    for label, result in (("bare", reference), ("get_task", got), ("list_tasks", listed)):
        print(f"   {label}: {result.summary()}", flush=True)
    return figures("get_task", got, reference) + figures("list_tasks", listed, reference)
