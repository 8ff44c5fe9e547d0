"""Row `start`: the service's start, and a 10-node pool's.

Each repetition (5; 2 with --quick) launches `batchite serve` (the console script beside this
Python, with its default planes: the data plane over HTTP, the same over HTTPS, and the management
plane, each on a free port; a fresh data directory, so its TLS certificate is made too) and:

- "service start": seconds from just before the process's launch (nothing subtracted) to the
  first successful answer of the SDK's `list_pools`, retried every 5 ms (the client is made before
  the launch, with the SDK's own retries off). Reference: the same for a bare Starlette app that
  answers one route, served by uvicorn the way `batchite serve` serves its data plane
  (bench/references.py), polled with a GET of that route on a new connection every 5 ms; the
  notes also give a bare `python -c pass`. Target: under 1 s.
- "pool idle": on that new server, seconds from just before `create_pool`
  (target_dedicated_nodes=10, standard_d2s_v3, 1 slot) to the first `list_nodes` (polled every
  10 ms) that lists 10 nodes, all idle. No reference. Target: under 1 s.

Medians of the repetitions; the server is then stopped (its pool and data directory stay).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from batchite.cli.server import free_port
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from bench.references import bare_answers, bare_command, first_answer, python_start, stop
from bench.runner import Context, Figure

NAME = "start"
REPEAT, QUICK_REPEAT = 5, 2
NODES = 10


def batchite_command() -> list[str]:
    script = Path(sys.executable).parent / "batchite"
    return [str(script)] if script.exists() else [sys.executable, "-m", "batchite.cli.main"]


def ports(count: int) -> list[int]:
    found: list[int] = []
    while len(found) < count:
        port = free_port()
        if port not in found:
            found.append(port)
    return found


def answers_list_pools(client: BatchClient) -> bool:
    list(client.list_pools())
    return True


def pool_idle(client: BatchClient) -> float:
    """Seconds from create_pool (10 nodes) to all 10 listed idle."""
    from bench_pool import ubuntu_pool

    deadline = time.monotonic() + 60
    start = time.perf_counter()
    client.create_pool(ubuntu_pool("start-pool", dedicated=NODES, slots=1))
    while True:
        states = [node.state for node in client.list_nodes("start-pool")]
        if len(states) == NODES and all(state == m.BatchNodeState.IDLE for state in states):
            return time.perf_counter() - start
        if time.monotonic() > deadline:
            raise RuntimeError(f"pool not idle after 60 s: {states}")
        time.sleep(0.01)


def batchite_start(context: Context) -> tuple[float, float]:
    """One fresh `batchite serve`: seconds to its first answer, then seconds to a 10-node pool idle."""
    data_dir = context.directory(NAME)
    port, mgmt_port, https_port = ports(3)
    command = [*batchite_command(), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    command += ["--mgmt-port", str(mgmt_port), "--https-port", str(https_port), "--stop-agents"]
    endpoint = f"http://127.0.0.1:{port}"
    client = BatchClient(
        endpoint=endpoint, credential=AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY), retry_total=0
    )
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115  (closed below, after the process)
    try:
        seconds, process = first_answer(
            lambda: subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log),
            lambda: answers_list_pools(client),
        )
        try:
            return seconds, pool_idle(client)
        finally:
            stop(process)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}: {(data_dir / 'server.log').read_text(errors='replace')[-2000:]}") from exc
    finally:
        client.close()
        log.close()


def bare_start() -> float:
    port = free_port()
    seconds, process = first_answer(
        lambda: subprocess.Popen(bare_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        lambda: bare_answers(port),
    )
    stop(process)
    return seconds


def run(context: Context) -> list[Figure]:
    repeat = QUICK_REPEAT if context.quick else REPEAT
    starts, pools, bares = [], [], []
    for _ in range(repeat):  # interleaved, so that both see the same moments of a busy machine
        bares.append(bare_start())
        start, pool = batchite_start(context)
        starts.append(start)
        pools.append(pool)
    python = python_start() * 1000
    service, bare, pool = statistics.median(starts), statistics.median(bares), statistics.median(pools)

    def listed(samples: list[float]) -> str:
        return ", ".join(f"{s:.2f}" for s in samples)

    return [
        Figure(
            NAME,
            "service start",
            service,
            "s",
            "< 1 s",
            service < 1.0,
            reference=bare,
            reference_name="bare Starlette+uvicorn app",
            notes=f"median of {repeat}: {listed(starts)} s; bare app {listed(bares)} s; python -c pass {python:.0f} ms",
        ),
        Figure(
            NAME,
            "pool idle",
            pool,
            "s",
            "< 1 s",
            pool < 1.0,
            notes=f"{NODES} nodes, create_pool to all idle; median of {repeat}: {listed(pools)} s",
        ),
    ]
