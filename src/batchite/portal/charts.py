"""The job page's charts, drawn on the server as SVG: task states over time, and a node x time
timeline of task runs.

Geometry is pure functions of the tasks' times (seconds since 1970), tested on their own; the SVG
is text built from it. Colour is never the only signal: failures are hatched, running runs dotted,
every bar and layer has a `<title>`, each chart an accessible name and a written legend.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from batchite.service.task_table import TaskTimes

RUNNING_STATES = frozenset({"running", "preparing"})
LAYERS = ("succeeded", "failed", "completed", "running", "active")  # stacked from the bottom
LAYER_FILL = {
    "succeeded": "#1e7d32",
    "failed": "url(#{p}-failure)",
    "completed": "#7a7a7a",
    "running": "url(#{p}-running)",
    "active": "#9fc3e7",
}
RESULT_FILL = {"success": "#1e7d32", "failure": "url(#{p}-failure)", "running": "url(#{p}-running)"}


def _defs(p: str) -> str:
    """Hatching for failures, dots for running: patterns named after the chart (ids are unique)."""
    return (
        "<defs>"
        f'<pattern id="{p}-failure" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#b3261e"/><rect width="2" height="6" fill="#f4c7c3"/></pattern>'
        f'<pattern id="{p}-running" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<rect width="6" height="6" fill="#0a5fb4"/><circle cx="3" cy="3" r="1.3" fill="#cfe3f7"/></pattern>'
        "</defs>"
    )


# -- task states over time ---------------------------------------------------------------------
@dataclass(frozen=True)
class StateSample:
    """How many tasks were in each state at one instant."""

    at: float
    active: int
    running: int
    succeeded: int
    failed: int
    completed: int  # completed without a result (terminated before it ran)

    def value(self, layer: str) -> int:
        count: int = getattr(self, layer)
        return count


def sample_times(start: float, end: float, samples: int) -> list[float]:
    """`samples` instants from start to end, both included (one when the span is empty)."""
    if samples < 2 or end <= start:
        return [end]
    step = (end - start) / (samples - 1)
    return [start + i * step for i in range(samples)]


def state_series(times: Sequence[TaskTimes], start: float, end: float, samples: int = 60) -> list[StateSample]:
    """The tasks' states at each sample instant, from each task's creation, start and end.

    A task is active from its creation until it starts (or ends without starting), running until it
    ends, then completed with its result. What its current state says wins over stale times: an
    active task (requeued, reactivated) counts as active since its creation."""
    created: list[float] = []
    left_active: list[float] = []
    started: list[float] = []
    ended_after_start: list[float] = []
    ended: dict[str, list[float]] = {"succeeded": [], "failed": [], "completed": []}
    for t in times:
        created.append(t.created)
        s = t.started if t.state != "active" else None
        e = t.ended if t.state == "completed" else None
        leave = s if s is not None else e
        if leave is not None:
            left_active.append(leave)
        if s is not None:
            started.append(s)
            if e is not None:
                ended_after_start.append(e)
        if e is not None:
            bucket = {"success": "succeeded", "failure": "failed"}.get(t.result or "", "completed")
            ended[bucket].append(e)
    for values in (created, left_active, started, ended_after_start, *ended.values()):
        values.sort()
    out = []
    for at in sample_times(start, end, samples):
        out.append(
            StateSample(
                at,
                active=bisect_right(created, at) - bisect_right(left_active, at),
                running=bisect_right(started, at) - bisect_right(ended_after_start, at),
                succeeded=bisect_right(ended["succeeded"], at),
                failed=bisect_right(ended["failed"], at),
                completed=bisect_right(ended["completed"], at),
            )
        )
    return out


@dataclass(frozen=True)
class Box:
    """The plotting area inside the SVG: left, top, width, height (px of the viewBox)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Layer:
    name: str
    points: list[tuple[float, float]]  # the polygon: along the top, then back along the bottom
    latest: int  # its count at the last sample


def stack_layers(samples: Sequence[StateSample], box: Box) -> tuple[list[Layer], int]:
    """The stacked layers' polygons (only layers ever non-zero) and the y scale's maximum."""
    if not samples:
        return [], 0
    totals = [sum(s.value(name) for name in LAYERS) for s in samples]
    peak = max(max(totals), 1)
    n = len(samples)

    def x(i: int) -> float:
        return box.x + (box.width * i / (n - 1) if n > 1 else box.width)

    def y(count: int) -> float:
        return box.y + box.height - box.height * count / peak

    below = [0] * n
    layers = []
    for name in LAYERS:
        values = [s.value(name) for s in samples]
        above = [b + v for b, v in zip(below, values, strict=True)]
        if any(values):
            top = [(round(x(i), 1), round(y(above[i]), 1)) for i in range(n)]
            bottom = [(round(x(i), 1), round(y(below[i]), 1)) for i in reversed(range(n))]
            if n == 1:  # one instant: a bar of the box's width
                top = [(box.x, top[0][1]), (box.x + box.width, top[0][1])]
                bottom = [(box.x + box.width, bottom[0][1]), (box.x, bottom[0][1])]
            layers.append(Layer(name, top + bottom, values[-1]))
        below = above
    return layers, max(totals)


def short_node(node: str, keep: int = 26) -> str:
    """A long node id (tvmps_<64 hex>_d) shortened for a label: its start and its end."""
    if len(node) <= keep:
        return node
    return node[: keep - 9] + "\u2026" + node[-8:]


def clock_text(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def _axis(box: Box, start: float, end: float, ticks: int = 5) -> str:
    parts = [
        f'<line x1="{box.x}" y1="{box.y + box.height}" x2="{box.x + box.width}" '
        f'y2="{box.y + box.height}" stroke="#5b6572"/>'
    ]
    instants = sample_times(start, end, ticks)
    for i, at in enumerate(instants):
        px = box.x + (box.width * (at - start) / (end - start) if end > start else box.width)
        anchor = "start" if i == 0 and len(instants) > 1 else "end" if i == len(instants) - 1 else "middle"
        parts.append(
            f'<text x="{px:.1f}" y="{box.y + box.height + 14}" font-size="11" text-anchor="{anchor}" '
            f'fill="#5b6572">{clock_text(at)}</text>'
        )
    return "".join(parts)


def state_chart_svg(samples: Sequence[StateSample], width: int = 1100, height: int = 240) -> str:
    box = Box(44, 10, width - 60, height - 40)
    layers, peak = stack_layers(samples, box)
    latest = samples[-1] if samples else None
    summary = (
        ", ".join(f"{latest.value(name)} {name}" for name in LAYERS if latest.value(name)) if latest else "no tasks"
    ) or "no tasks"
    label = f"Task states over time (UTC); now: {summary}"
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        _defs("states"),
    ]
    for layer in layers:
        points = " ".join(f"{px},{py}" for px, py in layer.points)
        fill = LAYER_FILL[layer.name].format(p="states")
        out.append(
            f'<polygon class="layer layer-{layer.name}" points="{points}" fill="{fill}" '
            f'stroke="#fff" stroke-width="0.5"><title>{layer.name}: {layer.latest} now</title></polygon>'
        )
    out.append(
        f'<text x="{box.x - 6}" y="{box.y + 10}" font-size="11" text-anchor="end" fill="#5b6572">{peak}</text>'
        f'<text x="{box.x - 6}" y="{box.y + box.height}" font-size="11" text-anchor="end" fill="#5b6572">0</text>'
    )
    if samples:
        out.append(_axis(box, samples[0].at, samples[-1].at))
    out.append("</svg>")
    return "".join(out)


# -- node x time timeline -------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    """One task run on its node: where it is drawn and what it says."""

    x: float
    y: float
    width: float
    height: float
    result: str  # success, failure, running, or completed (ended without a result)
    title: str


@dataclass(frozen=True)
class Row:
    """A node's row: its top and height (one lane per task running there at once, up to MAX_LANES)."""

    node: str
    y: float
    height: float


@dataclass(frozen=True)
class Timeline:
    rows: list[Row]  # top to bottom, by node id
    bars: list[Bar]
    start: float
    end: float
    box: Box


MAX_LANES = 4  # runs overlapping beyond this share the lane that frees first


def run_result(run: TaskTimes) -> str:
    if run.state in RUNNING_STATES:
        return "running"
    return run.result if run.result in ("success", "failure") else "completed"


def lanes(spans: Sequence[tuple[float, float]], most: int = MAX_LANES) -> list[int]:
    """A lane for each (start, end) span so that spans in one lane do not overlap (greedy by start;
    past `most` lanes, the lane that frees first)."""
    order = sorted(range(len(spans)), key=lambda i: spans[i])
    ends: list[float] = []
    lane = [0] * len(spans)
    for i in order:
        begin, finish = spans[i]
        free = next((k for k, e in enumerate(ends) if e <= begin), None)
        if free is None and len(ends) < most:
            free = len(ends)
            ends.append(finish)
        elif free is None:
            free = min(range(len(ends)), key=ends.__getitem__)
        ends[free] = max(ends[free], finish)
        lane[i] = free
    return lane


def timeline(runs: Sequence[TaskTimes], now: float, width: int = 1100, label_width: int = 200) -> Timeline:
    """Rows of nodes (sorted by id), each run a bar from its start to its end (or now, running)."""
    shown = [r for r in runs if r.node and r.started is not None]
    if not shown:
        return Timeline([], [], now, now, Box(label_width, 4, width - label_width - 10, 0))

    def end_of(r: TaskTimes) -> float:
        return now if r.state in RUNNING_STATES or r.ended is None else r.ended

    by_node: dict[str, list[TaskTimes]] = {}
    for r in shown:
        by_node.setdefault(r.node or "", []).append(r)
    nodes = sorted(by_node, key=str.lower)
    lane_of: dict[int, int] = {}
    lane_count: dict[str, int] = {}
    for node in nodes:
        node_runs = by_node[node]
        assigned = lanes([(r.started or 0.0, end_of(r)) for r in node_runs])
        lane_count[node] = max(assigned) + 1
        lane_of.update({id(r): k for r, k in zip(node_runs, assigned, strict=True)})
    total_lanes = sum(lane_count.values())
    lane_height = 16.0 if total_lanes <= 45 else max(3.0, 720.0 / total_lanes)
    rows, y = [], 4.0
    for node in nodes:
        height = max(lane_height * lane_count[node], 14.0 if lane_height >= 8 else lane_height)
        rows.append(Row(node, y, height))
        y += height
    box = Box(label_width, 4, width - label_width - 10, y - 4)
    start = min(r.started for r in shown if r.started is not None)
    end = max(max(end_of(r) for r in shown), start + 1.0)
    scale = box.width / (end - start)
    row_of = {row.node: row for row in rows}
    bars = []
    for r in shown:
        assert r.started is not None and r.node is not None
        row = row_of[r.node]
        lane_h = row.height / lane_count[r.node]
        x = box.x + (r.started - start) * scale
        w = max(1.0, (end_of(r) - r.started) * scale)
        top = row.y + lane_of[id(r)] * lane_h + 0.5
        result = run_result(r)
        bars.append(
            Bar(round(x, 2), round(top, 2), round(w, 2), round(max(lane_h - 1, 1.0), 2), result, f"{r.id}: {result}")
        )
    return Timeline(rows, bars, start, end, box)


def timeline_svg(line: Timeline, shown: int, total: int, width: int = 1100) -> str:
    height = int(line.box.y + line.box.height + 24)
    label = f"Task runs by node over time (UTC): {shown} of {total} runs on {len(line.rows)} nodes"
    out = [
        f'<svg class="chart timeline" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        _defs("runs"),
    ]
    for i, row in enumerate(line.rows):
        if i % 2:
            out.append(
                f'<rect x="{line.box.x}" y="{row.y}" width="{line.box.width}" height="{row.height}" fill="#f1f3f5"/>'
            )
        font = min(12.0, row.height - 3)
        if font >= 6:
            out.append(
                f'<g class="node-row"><title>{escape(row.node)}</title><text class="node-label" x="{line.box.x - 6}" '
                f'y="{row.y + row.height / 2 + font / 3:.1f}" font-size="{font:.0f}" text-anchor="end">'
                f"{escape(short_node(row.node))}</text></g>"
            )
    for bar in line.bars:
        fill = RESULT_FILL.get(bar.result, "#7a7a7a").format(p="runs")
        out.append(
            f'<rect class="run run-{bar.result}" x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}" '
            f'fill="{fill}"><title>{escape(bar.title)}</title></rect>'
        )
    if line.rows:
        out.append(_axis(line.box, line.start, line.end))
    out.append("</svg>")
    return "".join(out)
