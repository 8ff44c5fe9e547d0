"""The benchmark runner: rows, their figures beside their references, one table.

    python -m bench [--rows throughput,latency] [--quick]

Each row (bench/rows/) measures a figure and its reference in the same run, on the same machine,
and says whether it meets its target. The table is printed, and written to
bench/results/latest.md and bench/results/latest.json (neither is committed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.rows import ROWS

RESULTS = Path(__file__).parent / "results"


@dataclass
class Figure:
    """One measured figure of a row: what it is, its value, its reference and whether it meets its target."""

    row: str  # the row's stable name, e.g. "throughput"
    name: str  # the figure's stable name within the row, e.g. "tasks/s" (the row's main figure: "")
    value: float
    unit: str
    target: str  # as the issue states it, e.g. ">= 0.6x ceiling and >= 1.5x Ray"
    passed: bool
    reference: float | None = None
    reference_name: str = ""  # what the reference is, e.g. "direct spawn, 2 threads"
    ratio: float | None = None  # value / reference, when that is what the target is about
    notes: str = ""

    @property
    def label(self) -> str:
        return f"{self.row} {self.name}".strip()


@dataclass
class Context:
    """What every row gets: the run's options and a scratch directory kept until the run ends.

    Data directories stay until the whole run is over: removing a row's task directories frees
    tens of thousands of inodes, and ext4 without a journal searches recently freed inodes on
    every later creation for minutes, which would slow the next row for a reason of its own."""

    quick: bool
    scratch: Path
    args: argparse.Namespace
    shared: dict[str, object] = field(default_factory=dict)  # figures rows share (e.g. throughput's)

    def directory(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch))
        os.chmod(path, 0o711)
        return path


def _format(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(figures: list[Figure], notes: bool = False) -> str:
    """The figures as a Markdown table; with `notes`, a last column with each figure's notes."""
    columns = ["row", "figure", "reference", "ratio", "target", "result"] + (["notes"] if notes else [])
    head = "| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns) + "\n"
    lines = []
    for f in figures:
        reference = f"{_format(f.reference, f.unit)} ({f.reference_name})" if f.reference is not None else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        result = "pass" if f.passed else "FAIL"
        cells = [f.label, _format(f.value, f.unit), reference, ratio, f.target, result]
        if notes:
            cells.append(f.notes.replace("|", "/") or "-")
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


@contextmanager
def scratch_directory(keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="batchite-bench-", dir="/tmp"))
    os.chmod(path, 0o711)  # the pools' users pass through it
    try:
        yield path
    finally:
        if keep:
            print(f"the rows' data directories are kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def run_rows(names: list[str], context: Context) -> list[Figure]:
    figures: list[Figure] = []
    for name in names:
        module = importlib.import_module(f"bench.rows.{ROWS[name]}")
        print(f"-- {name}", flush=True)
        started = time.perf_counter()
        try:
            mine = module.run(context)
        except Exception as exc:  # a row that breaks is reported as failing, and the others still run
            traceback.print_exc()
            mine = [Figure(name, "", float("nan"), "", "runs", False, notes=f"{type(exc).__name__}: {exc}")]
        for figure in mine:
            print(
                f"   {figure.label}: {_format(figure.value, figure.unit)}"
                f"{'' if figure.reference is None else f' against {_format(figure.reference, figure.unit)}'}"
                f" -> {'pass' if figure.passed else 'FAIL'}",
                flush=True,
            )
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        figures += mine
    return figures


def write_results(figures: list[Figure]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (RESULTS / "latest.md").write_text(
        f"# Batchite benchmark, {stamp}\n\n{json.dumps(machine())}\n\n" + table(figures, notes=True)
    )
    document = {"time": stamp, "machine": machine(), "figures": [asdict(f) | {"label": f.label} for f in figures]}
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, among: {', '.join(ROWS)}")
    parser.add_argument("--quick", action="store_true", help="smaller counts, to check that the rows run")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the rows' data directories (removing them slows file creation on ext4 for minutes after)",
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.rows.split(",") if name.strip()]
    unknown = [name for name in names if name not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; choose among {', '.join(ROWS)}")
    sys.path.insert(0, str(Path(__file__).parent))  # the rows import bench_pool and the older scripts
    with scratch_directory(args.keep) as scratch:
        figures = run_rows(names, Context(quick=args.quick, scratch=scratch, args=args))
    print()
    print(table(figures))
    write_results(figures)
    print(f"written to {RESULTS / 'latest.md'} and {RESULTS / 'latest.json'}")
    return 0 if all(f.passed for f in figures) else 1
