"""Crash: `kill -9` of the service at random moments during a job with dependencies, retries and
task collections in flight, restarted on the same data directory and port each time.

A pool of 2 nodes (4 slots each) and a job of N tasks (ids 1..N, added in order as collections
of 100; a range covers only the tasks that exist when it is evaluated, so blocks are not sent
out of order): the first task of each block of 100 depends on the whole block before (a range),
every 7th task on the task 100 before it (an id), every 10th task fails its first try
(maxTaskRetryCount 2). Each task appends `ok` and the time (or `fail`) to a file of its own
outside the service, so runs are counted by what really ran. A kill lands after a random uptime
(seeded), the first one while a collection is being sent; the clients re-send whatever was cut
off: a collection whose response never came is first checked to be all there or absent, then
sent again (tasks already there answer TaskExists). The node agents outlive each kill and are
reattached.

At the end: every accepted task completed once as success (one `ok`, as many `fail`s as its
retries), none lost or extra, Job_GetTaskCounts equal to the listing, no task's ETag or state
going back in any sample, dependencies honoured, and `PRAGMA integrity_check` ok after every kill.

    python bench/crash.py [--tasks 5000] [--kills 20] [--seed 1] [--uptime 0.5:2.5] [--data-dir DIR]

Prints the figures and exits 1 if anything does not hold.
"""

from __future__ import annotations

import argparse
import random
import shlex
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from bench_pool import ubuntu_pool
from crash_checks import JOB, Report, print_report, verify

from batchite.cli.server import ChildServer, free_port, start_child_server, wait_healthy
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

T = TypeVar("T")
BLOCK = 100
POOL = "crash-pool"
CUT_OFF = (ServiceRequestError, ServiceResponseError, ConnectionError)
STATE_RANK = {"active": 0, "preparing": 1, "running": 1, "completed": 2}


class Service:
    """The service as a child process on a fixed port and data directory, killed and restarted."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.child: ChildServer | None = None
        self.up = threading.Event()
        self.sending = threading.Event()  # a collection is on its way

    def start(self, keep_agents: bool = True) -> None:
        args = ["--isolation", "none"] + (["--keep-agents"] if keep_agents else [])
        self.child = start_child_server(self.data_dir, args, port=self.port)
        self.up.set()

    def kill(self) -> None:
        assert self.child is not None
        self.up.clear()
        self.child.process.send_signal(signal.SIGKILL)
        self.child.process.wait()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


def client_for(endpoint: str) -> BatchClient:
    credential = AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)
    return BatchClient(endpoint=endpoint, credential=credential, connection_timeout=5, read_timeout=60)


class Clients:
    """What every client thread shares: the service, the report, retries of what was cut off."""

    def __init__(self, service: Service, report: Report) -> None:
        self.service = service
        self.report = report
        self.lock = threading.Lock()

    def wait_up(self) -> None:
        self.service.up.wait(timeout=120)
        wait_healthy(self.service.endpoint, timeout=60)

    def call(self, fn: Callable[[], T]) -> T:
        """fn() until it is answered; a cut-off connection waits for the service and tries again."""
        while True:
            try:
                return fn()
            except CUT_OFF:
                self.wait_up()
            except HttpResponseError as exc:
                if exc.status_code is not None and exc.status_code >= 500:
                    with self.lock:
                        self.report.server_errors += 1
                    self.wait_up()
                    continue
                raise


def runs_dir_command(runs: Path, i: int) -> str:
    out = shlex.quote(str(runs / str(i)))
    if i % 10 == 3:  # fails its first try
        marker = shlex.quote(str(runs / f"{i}.tried"))
        ok, fail = f"echo ok $(date +%s.%N) >> {out}", f": > {marker}; echo fail >> {out}; exit 1"
        script = f"if [ -e {marker} ]; then {ok}; else {fail}; fi"
    else:
        script = f"echo ok $(date +%s.%N) >> {out}"
    return f"/bin/sh -c {shlex.quote(script)}"


def task_for(runs: Path, i: int) -> m.BatchTaskCreateOptions:
    depends: m.BatchTaskDependencies | None = None
    if i > BLOCK and i % BLOCK == 1:
        depends = m.BatchTaskDependencies(task_id_ranges=[m.BatchTaskIdRange(start=i - BLOCK, end=i - 1)])
    elif i > BLOCK and i % 7 == 0:
        depends = m.BatchTaskDependencies(task_ids=[str(i - BLOCK)])
    return m.BatchTaskCreateOptions(
        id=str(i),
        command_line=runs_dir_command(runs, i),
        depends_on=depends,
        constraints=m.BatchTaskConstraints(max_task_retry_count=2),
    )


def submitter(clients: Clients, runs: Path, blocks: list[list[int]], accepted: set[str], stop: threading.Event) -> None:
    client = client_for(clients.service.endpoint)
    report = clients.report
    while not stop.is_set():
        with clients.lock:
            if not blocks:
                return
            ids = blocks.pop(0)
        group = m.BatchTaskGroup(task_values=[task_for(runs, i) for i in ids])
        resent = False
        while True:
            clients.service.sending.set()
            try:
                result = client.create_task_collection(JOB, group)
                break
            except CUT_OFF:
                clients.wait_up()
                present = clients.call(lambda: {t.id for t in client.list_tasks(JOB, select=["id"])})
                there = sum(str(i) in present for i in ids)
                with clients.lock:
                    report.cut_off_collections += 1
                    report.cut_off_present += there == len(ids)
                    if 0 < there < len(ids):
                        report.partial_collections += 1
                        report.failures.append(f"collection {ids[0]}..{ids[-1]}: {there} of {len(ids)} there")
                resent = True
            finally:
                clients.service.sending.clear()
        for r in result.result_values or []:
            code = r.error.code if r.error else None
            if r.status == "success" or (resent and code == "TaskExists"):
                with clients.lock:
                    accepted.add(r.task_id)
                    report.task_exists_on_resend += code == "TaskExists"
            else:
                with clients.lock:
                    report.failures.append(f"task {r.task_id}: {r.status} {code}")


def sampler(clients: Clients, stop: threading.Event) -> None:
    """Lists the tasks again and again: no task's ETag or state may ever go back."""
    client = client_for(clients.service.endpoint)
    seen: dict[str, tuple[int, str]] = {}
    report = clients.report
    while not stop.is_set():
        try:
            rows = [(t.id, int(t.etag, 16), t.state) for t in client.list_tasks(JOB, select=["id", "eTag", "state"])]
        except CUT_OFF:
            clients.wait_up()
            continue  # again at once: just after a restart is when something would have gone back
        stop.wait(0.5)
        with clients.lock:
            report.samples += 1
            for task_id, etag, state in rows:
                before = seen.get(task_id)
                if before is not None:
                    if etag < before[0]:
                        report.etag_regressions += 1
                        report.failures.append(f"task {task_id}: ETag went back from {before[0]:X} to {etag:X}")
                    if before[1] == "completed" and state != "completed":
                        report.state_regressions += 1
                        report.failures.append(f"task {task_id}: {before[1]} -> {state}")
                seen[task_id] = (etag, state)


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def kill_moments(rng: random.Random, kills: int, uptime: tuple[float, float]) -> list[float]:
    return [rng.uniform(*uptime) for _ in range(kills)]


def run(
    tasks: int = 5000,
    kills: int = 20,
    seed: int = 1,
    uptime: tuple[float, float] = (0.5, 2.5),
    data_dir: Path | None = None,
    finish_timeout: float = 600.0,
    log: Callable[[str], None] = print,
) -> Report:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="batchite-crash-"))
    runs = data_dir.parent / f"{data_dir.name}-runs"
    runs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    report = Report(tasks=tasks)
    service = Service(data_dir)
    clients = Clients(service, report)
    started = time.monotonic()
    service.start()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def guarded(target: Callable[..., None], *args: Any) -> threading.Thread:
        def body() -> None:
            try:
                target(*args)
            except BaseException as exc:  # reported as a failure
                errors.append(exc)

        return threading.Thread(target=body, daemon=True)

    try:
        client = client_for(service.endpoint)
        client.create_pool(ubuntu_pool(POOL, dedicated=2, slots=4))
        client.create_job(
            m.BatchJobCreateOptions(id=JOB, pool_info=m.BatchPoolInfo(pool_id=POOL), uses_task_dependencies=True)
        )
        ids = list(range(1, tasks + 1))
        blocks = [ids[k : k + BLOCK] for k in range(0, tasks, BLOCK)]
        accepted: set[str] = set()
        threads = [guarded(submitter, clients, runs, blocks, accepted, stop)]  # in order: see the docstring
        threads.append(guarded(sampler, clients, stop))
        for t in threads:
            t.start()

        for k, moment in enumerate(kill_moments(rng, kills, uptime)):
            up_since = time.monotonic()
            if k == 0:  # the first kill while a collection is on its way
                service.sending.wait(timeout=30)
                time.sleep(moment / 1000)
            else:
                time.sleep(moment)
            moment = time.monotonic() - up_since
            service.kill()
            report.kills += 1
            check = integrity(data_dir / "batchite.db")
            report.integrity.append(check)
            if check != "ok":
                report.failures.append(f"integrity after kill {k + 1}: {check}")
            service.start(keep_agents=k < kills - 1)  # the last server stops the agents with it
            log(f"kill {k + 1}/{kills} after {moment:.2f}s: integrity {check}, restarted")

        threads[0].join(timeout=finish_timeout)
        deadline = time.monotonic() + finish_timeout
        while time.monotonic() < deadline:
            counts = clients.call(lambda: client.get_job_task_counts(JOB).task_counts)
            if counts.completed >= len(accepted) and not counts.active and not counts.running:
                break
            time.sleep(0.2)
        stop.set()
        threads[1].join(timeout=30)
        report.seconds = time.monotonic() - started
        verify(client, runs, accepted, report)
        client.close()
    finally:
        stop.set()
        report.failures.extend(f"client thread: {exc!r}" for exc in errors)
        service.stop()
    report.integrity.append(integrity(data_dir / "batchite.db"))
    if report.integrity[-1] != "ok":
        report.failures.append(f"integrity at the end: {report.integrity[-1]}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--uptime", default="0.5:2.5", help="Seconds of uptime before each kill: LOW:HIGH.")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    low, high = (float(x) for x in args.uptime.split(":"))
    report = run(args.tasks, args.kills, args.seed, (low, high), args.data_dir)
    print_report(report)
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
