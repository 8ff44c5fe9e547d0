"""Row `ray`: the `throughput` row on Batchite's Ray backend, beside plain Ray tasks on the same cluster.

A local Ray cluster (bench/throughput.py `ray_cluster`: 2 Ray nodes of 2 CPUs and 8 GiB, Ray's
single-machine mode, authentication off). The reference first, while the cluster is idle: plain Ray
tasks each running /bin/true, 2 at a time (bench/throughput.py `plain_ray`: each task reserves
2 CPUs, after a warm-up; first submit to last completion). Then `batchite serve --backend ray` on
that cluster, a pool of one standard_d2s_v3 node with 2 task slots (one Ray actor, 2 CPUs), and the
same tasks measured as `throughput` measures them (bench/rows/throughput.py `measure`). Target:
at least 0.8x plain Ray. Without Ray installed the row is reported failing with a note.
"""

from __future__ import annotations

from bench.references import SETUP_HINT, ray_available, start_ray_backend
from bench.rows import throughput
from bench.runner import Context, Figure

NAME = "ray"
TARGET = ">= 0.8x plain Ray"


def run(context: Context) -> list[Figure]:
    if not ray_available():
        return [Figure(NAME, "", float("nan"), "tasks/s", TARGET, False, notes=f"skipped: {SETUP_HINT}")]
    import throughput as legacy  # bench/throughput.py

    tasks = throughput.task_count(context)
    cluster = legacy.ray_cluster()
    try:
        reference = float(legacy.plain_ray(cluster.address, tasks, 2))
        child = start_ray_backend(cluster, context.directory(NAME), context.directory("ray-nodes"), legacy.RAY_ENV)
        try:
            mine = throughput.measure(child.endpoint, tasks, nodes=1, slots=2)
        finally:
            child.stop()
    finally:
        cluster.shutdown()
    return [
        Figure(
            NAME,
            "",
            mine.rate,
            "tasks/s",
            TARGET,
            mine.ok and mine.rate >= 0.8 * reference,
            reference=reference,
            reference_name="plain Ray tasks, 2 at a time, same cluster",
            ratio=mine.rate / reference,
            notes=mine.describe(),
        )
    ]
