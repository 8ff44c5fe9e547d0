"""handoff: task B depends on task A; from A's end to B's start.

A pool of one node with 2 slots and a job with usesTaskDependencies: a chain of 1,000 /bin/true
tasks (100 with --quick), each depending on the one before, all added in one `create_tasks` call
(bench/rowkit.py `chain`, which bench/dependency_latency.py runs too). Each of the 999 samples is
a task's `executionInfo.startTime` less its dependency's `executionInfo.endTime`, both as the
service reports them. Figures: p50 (target < 2 ms) and p99 (target < 10 ms), in ms.
Reference, in the same run: the direct spawn-to-spawn gap, a chain of as many /bin/true processes
spawned with os.posix_spawn, each once the one before has exited: from waitpid's return to the
next posix_spawn's return.
"""

from __future__ import annotations

from load import client_for
from rowkit import chain, percentile_figures, spawn_chain_gaps

from batchite.cli.server import start_child_server
from bench.runner import Context, Figure

NAME = "handoff"
TARGETS_MS = {"p50": 2.0, "p99": 10.0}


def run(context: Context) -> list[Figure]:
    n = 100 if context.quick else 1_000
    direct = spawn_chain_gaps(n)
    child = start_child_server(data_dir=context.directory(NAME))
    try:
        client = client_for(child.endpoint)
        _, _, gaps = chain(client, n)
        client.close()
    finally:
        child.stop()
    return percentile_figures(
        NAME,
        gaps,
        direct,
        TARGETS_MS,
        "direct spawn-to-spawn gap",
        f"{len(gaps)} samples, max {max(gaps):.2f} ms, min {min(gaps):.2f} ms",
    )
