"""Load: 32 concurrent SDK clients against a running job, then the same beyond capacity.

Phase 1 (default limits): a pool of 2 nodes (4 slots each) and a job with 50 finished tasks;
then 32 client threads (one BatchClient each, the SDK's retries on) for `--seconds` mix task
creates (single, and collections of 50), list pages, gets, task counts and downloads of
stdout.txt. Reported: requests per second and p50/p99 latency per kind, 5xx answers (must be 0),
503 ServerBusy, transport errors and timeouts, tasks dropped (created but not listed at the end:
must be 0), and the service's RSS before, at its peak and after (read from /proc). Phase 1
runs `--rounds` (2) times on the same service: the RSS after the last round must stay within
15% of the RSS after the first (the first warms SQLite's cache and the allocator).

Phase 2: a service started with `--max-concurrent-requests` set to `--busy-limit` (4) and 32
clients for `--busy-seconds`, half with the SDK's retries on (it retries a 503 three times,
honouring `Retry-After`; what is still 503 after that is counted) and half with `retry_total=0`
(they see the 503 ServerBusy themselves and wait as `Retry-After` says). Every 503 must carry
`Retry-After`, and nothing may time out or answer another 5xx.

    python bench/load.py [--seconds 60] [--clients 32] [--rounds 2] [--busy-seconds 15] [--busy-limit 4]

Exits 1 if anything that must hold does not.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError, HttpResponseError
from bench_pool import ubuntu_pool

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

POOL, JOB = "load-pool", "load-job"
SEEDED = 50
KINDS = ("create", "collection", "list", "get", "counts", "download")
WEIGHTS = (20, 3, 15, 30, 7, 25)


@dataclass
class Tally:
    """What the clients saw: latencies per kind, and every status and error."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    busy_without_retry_after: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    created: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, response: Any) -> None:
        """Called by the SDK for every attempt, the retried ones included."""
        http = response.http_response
        with self.lock:
            self.statuses[http.status_code] += 1
            if http.status_code == 503 and not http.headers.get("Retry-After"):
                self.busy_without_retry_after += 1

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500 and code != 503)

    @property
    def busy(self) -> int:
        return self.statuses.get(503, 0)


def client_for(endpoint: str, retries: bool = True) -> BatchClient:
    credential = AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)
    extra: dict[str, Any] = {} if retries else {"retry_total": 0}
    return BatchClient(endpoint=endpoint, credential=credential, connection_timeout=10, read_timeout=30, **extra)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssWatch:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def setup(endpoint: str) -> None:
    client = client_for(endpoint)
    client.create_pool(ubuntu_pool(POOL, dedicated=2, slots=4))
    client.create_job(m.BatchJobCreateOptions(id=JOB, pool_info=m.BatchPoolInfo(pool_id=POOL)))
    seeded = [m.BatchTaskCreateOptions(id=f"seed-{i}", command_line=f"/bin/echo seed {i}") for i in range(SEEDED)]
    client.create_task_collection(JOB, m.BatchTaskGroup(task_values=seeded))
    while client.get_job_task_counts(JOB).task_counts.completed < SEEDED:
        time.sleep(0.1)
    client.close()


def one_call(client: BatchClient, kind: str, name: str, n: int, rng: random.Random, tally: Tally) -> None:
    hook = tally.hook
    if kind == "create":
        task_id = f"{name}-{n}"
        client.create_task(JOB, m.BatchTaskCreateOptions(id=task_id, command_line="/bin/true"), raw_response_hook=hook)
        with tally.lock:
            tally.created.add(task_id)
    elif kind == "collection":
        ids = [f"{name}-{n}-{k}" for k in range(50)]
        group = m.BatchTaskGroup(task_values=[m.BatchTaskCreateOptions(id=i, command_line="/bin/true") for i in ids])
        result = client.create_task_collection(JOB, group, raw_response_hook=hook)
        added = {r.task_id for r in result.result_values or [] if r.status == "success"}
        with tally.lock:
            tally.created.update(added)
            if len(added) != len(ids):
                tally.errors["collection: tasks not added"] += len(ids) - len(added)
    elif kind == "list":
        pages = client.list_tasks(JOB, max_results=100, select=["id", "state"], raw_response_hook=hook).by_page()
        sum(1 for _ in next(iter(pages)))
    elif kind == "get":
        client.get_task(JOB, f"seed-{rng.randrange(SEEDED)}", raw_response_hook=hook)
    elif kind == "counts":
        client.get_job_task_counts(JOB, raw_response_hook=hook)
    else:
        data = b"".join(
            client.download_task_file(JOB, f"seed-{rng.randrange(SEEDED)}", "stdout.txt", raw_response_hook=hook)
        )
        if not data.startswith(b"seed "):
            with tally.lock:
                tally.errors["download: wrong content"] += 1


def worker(endpoint: str, name: str, seconds: float, retries: bool, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    client = client_for(endpoint, retries)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        n += 1
        start = time.perf_counter()
        try:
            one_call(client, kind, name, n, rng, tally)
        except HttpResponseError as exc:
            # a streamed download's error body is not read by the SDK: its code is unknown
            code = exc.error.code if exc.error else "ServerBusy" if exc.status_code == 503 else None
            with tally.lock:
                tally.errors[f"{kind}: {exc.status_code} {code}"] += 1
            if exc.status_code == 503 and not retries:  # a well-behaved client waits as it is told
                headers = getattr(exc.response, "headers", {})
                retry_after = headers.get("Retry-After")
                time.sleep(float(retry_after or 1))
            continue
        except AzureError as exc:  # transport errors and timeouts
            with tally.lock:
                tally.errors[f"{kind}: {type(exc).__name__}"] += 1
            continue
        with tally.lock:
            tally.latencies[kind].append(time.perf_counter() - start)
    client.close()


def drive(
    endpoint: str, clients: int, seconds: float, flavour: Callable[[int], tuple[bool, Tally]], prefix: str = ""
) -> float:
    """`clients` threads for `seconds`; flavour(i): whether client i retries, and where it counts;
    `prefix` keeps the task ids of one round apart from another's."""
    threads = []
    for i in range(clients):
        retries, tally = flavour(i)
        threads.append(
            threading.Thread(target=worker, args=(endpoint, f"{prefix}c{i}", seconds, retries, 1000 + i, tally))
        )
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - start


def print_table(tally: Tally, elapsed: float) -> None:
    print(f"{'kind':<11} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    total = 0
    for kind in KINDS:
        values = sorted(tally.latencies.get(kind, []))
        total += len(values)
        if not values:
            print(f"{kind:<11} {0:>8}")
            continue
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        print(f"{kind:<11} {len(values):>8} {len(values) / elapsed:>8.1f} {p50:>8.1f} {p99:>8.1f}")
    print(f"{'all':<11} {total:>8} {total / elapsed:>8.1f}")


def _retrying(tally: Tally, client_index: int) -> tuple[bool, Tally]:
    return True, tally


def phase_one(clients: int, seconds: float, rounds: int, failures: list[str]) -> None:
    """`rounds` rounds of load on one service: what a round leaves in memory must not grow with the
    rounds (the first one warms caches and the allocator; the next ones must not add to it)."""
    server = start_child_server(Path(tempfile.mkdtemp(prefix="batchite-load-")), ["--isolation", "none"])
    try:
        setup(server.endpoint)
        pid = server.process.pid
        before = rss_kib(pid)
        afters: list[int] = []
        for round_number in range(1, rounds + 1):
            tally = Tally()
            with RssWatch(pid) as watch:
                elapsed = drive(server.endpoint, clients, seconds, partial(_retrying, tally), prefix=f"r{round_number}")
                client = client_for(server.endpoint)
                listed = {t.id for t in client.list_tasks(JOB, select=["id"])}
                deadline = time.monotonic() + 120
                while (
                    client.get_job_task_counts(JOB).task_counts.completed < len(listed) and time.monotonic() < deadline
                ):
                    time.sleep(0.2)
                time.sleep(2.0)  # what the last requests left behind is let go
                afters.append(rss_kib(pid))
                client.close()
            dropped = len(tally.created - listed)
            print(f"== phase 1, round {round_number}/{rounds}: {clients} clients for {elapsed:.0f} s, default limits")
            print_table(tally, elapsed)
            print(f"5xx (other than 503): {tally.server_errors}, 503 ServerBusy: {tally.busy}")
            print(f"errors: {dict(tally.errors) or 0}")
            print(f"tasks created {len(tally.created)}, listed in all {len(listed) - SEEDED} (+{SEEDED} seeded)")
            print(
                f"service RSS: before {before / 1024:.0f} MiB, peak {watch.peak / 1024:.0f} MiB, "
                f"after this round {afters[-1] / 1024:.0f} MiB"
            )
            if tally.server_errors or tally.errors or dropped:
                failures.append(f"phase 1: {tally.server_errors} 5xx, errors {dict(tally.errors)}, {dropped} dropped")
        if len(afters) > 1:
            growth = (afters[-1] - afters[0]) / 1024
            print(
                f"RSS after round 1 {afters[0] / 1024:.0f} MiB, after round {rounds} {afters[-1] / 1024:.0f} MiB "
                f"(growth over the later rounds: {growth:+.1f} MiB)"
            )
            if afters[-1] > afters[0] * 1.15:
                failures.append(f"phase 1: memory grew by {growth:.1f} MiB after the first round")
    finally:
        server.stop()


def phase_two(clients: int, seconds: float, limit: int, failures: list[str]) -> None:
    args = ["--isolation", "none", "--max-concurrent-requests", str(limit)]
    server = start_child_server(Path(tempfile.mkdtemp(prefix="batchite-busy-")), args)
    try:
        setup(server.endpoint)
        with_retries, without = Tally(), Tally()
        elapsed = drive(
            server.endpoint, clients, seconds, lambda i: (True, with_retries) if i % 2 == 0 else (False, without)
        )
        seen = without.errors
        busy_raised = sum(n for k, n in seen.items() if " 503 ServerBusy" in k)
        other = {k: n for k, n in seen.items() if " 503 ServerBusy" not in k}
        print(f"== phase 2: {clients} clients for {elapsed:.0f} s, --max-concurrent-requests {limit}")
        print("-- clients with the SDK's retries on")
        print_table(with_retries, elapsed)
        print(f"503 ServerBusy answered (and retried): {with_retries.busy}")
        print("-- clients with retry_total=0")
        print_table(without, elapsed)
        print(f"503 ServerBusy raised to the caller: {busy_raised}, other errors: {other or 0}")
        missing = with_retries.busy_without_retry_after + without.busy_without_retry_after
        other_5xx = with_retries.server_errors + without.server_errors
        print(f"503 without Retry-After: {missing}; 5xx other than 503: {other_5xx}")
        exhausted = sum(n for k, n in with_retries.errors.items() if " 503 ServerBusy" in k)
        unexpected = {k: n for k, n in with_retries.errors.items() if " 503 ServerBusy" not in k}
        print(f"calls still 503 after the SDK's retries (3 on a status by default): {exhausted}")
        if unexpected or other or missing or other_5xx:
            failures.append(f"phase 2: errors {unexpected} / {other}, {missing} without Retry-After")
        if not busy_raised:
            failures.append("phase 2: no client saw 503 ServerBusy")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of phase 1 on the same service")
    parser.add_argument("--busy-seconds", type=float, default=15.0)
    parser.add_argument("--busy-limit", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger("azure").setLevel(logging.ERROR)  # the SDK warns of every error body it cannot parse
    failures: list[str] = []
    phase_one(args.clients, args.seconds, args.rounds, failures)
    phase_two(args.clients, args.busy_seconds, args.busy_limit, failures)
    for failure in failures:
        print(f"FAIL {failure}")
    print("OK" if not failures else f"{len(failures)} FAILURES")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
