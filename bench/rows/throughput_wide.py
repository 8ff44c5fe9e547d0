"""Row `throughput-wide`: the `throughput` row's tasks on 8 nodes of 4 task slots (32 slots).

The figure: tasks per second, measured as `throughput` measures it (bench/rows/throughput.py
`measure`: create_tasks with 4 client threads from the first add, get_job_task_counts every 50 ms
to the last completion, every task succeeded; the 8 nodes idle before the clock starts) on a
server of its own with the default options (8 nodes per node agent: one agent hosts them all).
The reference: this run's `throughput` figure (2 slots on one node), or, when that row did not
run in this run, the same measurement made here first. Target: at least the reference (ratio >= 1).
"""

from __future__ import annotations

from bench.rows import throughput
from bench.runner import Context, Figure

NAME = "throughput-wide"
NODES, SLOTS = 8, 4


def run(context: Context) -> list[Figure]:
    narrow = throughput.reference_rate(context)
    wide = throughput.measure_on_new_server(context, NAME, throughput.task_count(context), nodes=NODES, slots=SLOTS)
    return [
        Figure(
            NAME,
            "",
            wide.rate,
            "tasks/s",
            ">= throughput",
            wide.ok and narrow.ok and wide.rate >= narrow.rate,
            reference=narrow.rate,
            reference_name="throughput row, 1 node x 2 slots",
            ratio=wide.rate / narrow.rate,
            notes=f"{wide.describe()}; reference: {narrow.describe()}",
        )
    ]
