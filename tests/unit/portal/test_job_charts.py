"""The job page's charts: states counted at each instant from the tasks' times, the stacked layers'
geometry, the timeline's rows, lanes and bars, and what the SVG says besides colour."""

from __future__ import annotations

from batchite.portal.charts import (
    Box,
    StateSample,
    lanes,
    sample_times,
    short_node,
    stack_layers,
    state_chart_svg,
    state_series,
    timeline,
    timeline_svg,
)
from batchite.store.base import TaskTimes


def task(
    ident: str,
    created: float,
    started: float | None = None,
    ended: float | None = None,
    state: str = "completed",
    result: str | None = "success",
    node: str | None = "n1",
) -> TaskTimes:
    return TaskTimes(ident, state, result, node, created, started, ended)


def test_sample_times_include_both_ends() -> None:
    assert sample_times(0.0, 10.0, 6) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert sample_times(5.0, 5.0, 60) == [5.0]  # an empty span: one instant


def test_states_at_each_instant() -> None:
    times = [
        task("a", 0, 1, 3, result="success"),
        task("b", 0, 2, 4, result="failure"),
        task("c", 1, None, None, state="active", result=None, node=None),
        task("d", 0, None, 2, result="failure", node=None),  # terminated before it ran
        task("e", 0, 1, None, state="running", result=None),
    ]
    at = {s.at: s for s in state_series(times, 0.0, 4.0, samples=5)}
    assert at[0.0] == StateSample(0.0, active=4, running=0, succeeded=0, failed=0, completed=0)
    assert at[1.0] == StateSample(1.0, active=3, running=2, succeeded=0, failed=0, completed=0)
    assert at[2.0] == StateSample(2.0, active=1, running=3, succeeded=0, failed=1, completed=0)
    assert at[3.0] == StateSample(3.0, active=1, running=2, succeeded=1, failed=1, completed=0)
    assert at[4.0] == StateSample(4.0, active=1, running=1, succeeded=1, failed=2, completed=0)


def test_the_current_state_wins_over_stale_times() -> None:
    # requeued: active again, with the times of its last run still on it
    times = [task("r", 0, 1, 2, state="active", result=None)]
    assert [s.active for s in state_series(times, 0.0, 3.0, samples=4)] == [1, 1, 1, 1]
    # completed without a result: its own layer
    assert state_series([task("x", 0, None, 1, result=None)], 0.0, 2.0, 3)[-1].completed == 1


def test_each_sample_accounts_for_every_created_task() -> None:
    times = [task(f"t{i}", i * 0.1, i * 0.1 + 1, i * 0.1 + 2 + i % 3) for i in range(100)]
    for s in state_series(times, 0.0, 20.0, samples=41):
        created = sum(1 for t in times if t.created <= s.at)
        assert s.active + s.running + s.succeeded + s.failed + s.completed == created


def test_stacked_layers_fill_the_box_at_the_peak() -> None:
    samples = [
        StateSample(0.0, active=2, running=0, succeeded=0, failed=0, completed=0),
        StateSample(1.0, active=0, running=1, succeeded=1, failed=0, completed=0),
    ]
    box = Box(10, 0, 100, 50)
    layers, peak = stack_layers(samples, box)
    assert peak == 2
    assert [layer.name for layer in layers] == ["succeeded", "running", "active"]  # never-zero only
    succeeded, running, active = layers
    # succeeded at the bottom: 0 at x=10, 1 (half the height) at x=110; back along the baseline
    assert succeeded.points == [(10.0, 50.0), (110.0, 25.0), (110.0, 50.0), (10.0, 50.0)]
    assert running.points == [(10.0, 50.0), (110.0, 0.0), (110.0, 25.0), (10.0, 50.0)]
    assert active.points[0] == (10.0, 0.0)  # 2 of 2 at the first instant: the top
    assert (succeeded.latest, running.latest, active.latest) == (1, 1, 0)


def test_the_state_chart_names_itself_and_its_layers() -> None:
    samples = [StateSample(0.0, 1, 0, 0, 0, 0), StateSample(60.0, 0, 0, 3, 2, 0)]
    svg = state_chart_svg(samples)
    assert 'role="img"' in svg and "now: 3 succeeded, 2 failed" in svg
    assert "<title>failed: 2 now</title>" in svg
    assert 'fill="url(#states-failure)"' in svg and 'id="states-failure"' in svg  # hatched, not only red
    assert ">00:00:00<" in svg and ">00:01:00<" in svg  # the time axis, UTC


def test_lanes_keep_overlapping_runs_apart() -> None:
    assert lanes([(0, 2), (1, 3), (2, 4), (3, 5)]) == [0, 1, 0, 1]
    # past the cap, a run goes to the lane that frees first
    assert lanes([(0, 9), (0, 8), (0, 7), (0, 6), (1, 9), (2, 9)], most=4) == [3, 2, 1, 0, 0, 1]


def test_timeline_rows_and_bars() -> None:
    runs = [
        task("b-1", 0, 10, 20, node="node-b"),
        task("a-1", 0, 0, 10, result="failure", node="Node-a"),
        task("a-2", 0, 5, None, state="running", result=None, node="Node-a"),
    ]
    line = timeline(runs, now=40.0, width=500, label_width=100)
    assert [row.node for row in line.rows] == ["Node-a", "node-b"]  # by id, case-insensitively
    assert (line.start, line.end) == (0.0, 40.0)  # to now: a run is still running
    assert line.rows[0].height == 32.0 and line.rows[1].height == 16.0  # two lanes where two overlap
    by_title = {bar.title: bar for bar in line.bars}
    assert set(by_title) == {"b-1: success", "a-1: failure", "a-2: running"}
    scale = (500 - 100 - 10) / 40.0
    assert by_title["b-1: success"].x == 100 + 10 * scale and by_title["b-1: success"].width == 10 * scale
    assert by_title["a-2: running"].width == 35 * scale  # from its start to now
    assert by_title["a-1: failure"].y < by_title["a-2: running"].y < by_title["b-1: success"].y


def test_timeline_svg_titles_patterns_and_count() -> None:
    node = "tvmps_" + "ab" * 32 + "_d"
    line = timeline([task("t1", 0, 1, 2, result="failure", node=node)], now=5.0)
    svg = timeline_svg(line, shown=1, total=3)
    assert "<title>t1: failure</title>" in svg
    assert 'fill="url(#runs-failure)"' in svg
    assert "1 of 3 runs on 1 nodes" in svg
    assert f"<title>{node}</title>" in svg and f">{short_node(node)}</text>" in svg
    assert len(short_node(node)) <= 26 and short_node("small") == "small"


def test_no_runs_no_rows() -> None:
    line = timeline([task("a", 0, None, None, state="active", result=None, node=None)], now=1.0)
    assert line.rows == [] and line.bars == []
