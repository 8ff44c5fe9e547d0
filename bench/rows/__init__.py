"""The benchmark's rows, one module each (`bench/rows/<module>.py`), run in this order.

A row module has `NAME` (the row's stable name, as the table prints it) and
`run(context: Context) -> list[Figure]`: its figures, each measured beside its reference in the
same run. Row names and figure names never change, so results compare over time.
"""

from __future__ import annotations

ROWS: dict[str, str] = {  # row name -> module under bench.rows
    "start": "start",
    "throughput": "throughput",
    "throughput-wide": "throughput_wide",
    "latency": "latency",
    "handoff": "handoff",
    "reads": "reads",
    "scale": "scale",
    "ray": "ray",
}
