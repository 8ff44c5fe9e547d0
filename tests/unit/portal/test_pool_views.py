"""Pure logic of the pool pages: the heatmap's HTML (escaping, names, glyphs, legend), the create
form's image choices and field parsing, an autoscale run's results as pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batchite.domain.errors import BatchError
from batchite.domain.states import NodeState
from batchite.portal.views.heatmap import GLYPHS, cells_html, heatmap_html, legend_html
from batchite.portal.views.pool_actions import results_of
from batchite.portal.views.pool_forms import PoolForm, count, image_choices, interval_of, node_agent_of
from batchite.service.node_map import NodeCell, state_counts
from batchite.wire.models import AutoScaleRun


def test_every_node_state_has_its_own_glyph() -> None:
    assert set(GLYPHS) == set(NodeState)
    assert len(set(GLYPHS.values())) == len(GLYPHS)


def test_a_cell_is_a_relative_link_named_by_node_and_state() -> None:
    html = cells_html("p1", [NodeCell("tvmps_a_d", NodeState.IDLE, True), NodeCell("n2", NodeState.RUNNING, False)])
    assert html == (
        '<a href="p1/nodes/tvmps_a_d" class="c s-idle" aria-label="tvmps_a_d: idle">○</a>'
        '<a href="p1/nodes/n2" class="c s-running lp" aria-label="n2: running">▶</a>'
    )


def test_cells_escape_what_they_are_given() -> None:
    html = cells_html('p"<', [NodeCell('x"><script>', NodeState.IDLE, True)])
    assert "<script>" not in html and 'x"' not in html
    assert 'aria-label="x&quot;&gt;&lt;script&gt;: idle"' in html
    assert 'href="p%22%3C/nodes/x%22%3E%3Cscript%3E"' in html


def test_the_legend_counts_each_state_present() -> None:
    cells = [NodeCell(f"n{i}", NodeState.IDLE if i % 3 else NodeState.RUNNING, True) for i in range(7)]
    assert state_counts(cells) == {NodeState.IDLE: 4, NodeState.RUNNING: 3}
    legend = legend_html(cells)
    assert '<span class="legend-state">idle</span> <span class="legend-count">4</span>' in legend
    assert '<span class="legend-state">running</span> <span class="legend-count">3</span>' in legend
    assert 'total <span class="legend-count">7</span>' in legend
    assert "low-priority" not in legend
    assert 'round cells: low-priority <span class="legend-count">1</span>' in legend_html(
        [*cells, NodeCell("spot", NodeState.IDLE, False)]
    )


def test_a_pool_without_nodes_says_so() -> None:
    assert "This pool has no nodes." in heatmap_html("p", [])


def test_two_thousand_cells_stay_compact() -> None:
    cells = [NodeCell(f"tvmps_{i:064x}_d", NodeState.IDLE, True) for i in range(2000)]
    html = heatmap_html("pool-1", cells)
    assert html.count("<a ") == 2000
    assert len(html.encode()) < 2000 * 220  # the 72-character node id twice (link and name) dominates


def test_image_choices_narrow_to_what_fits() -> None:
    first = image_choices()
    assert first.publisher == first.publishers[0] and len(first.publishers) == len(set(first.publishers))
    canonical = image_choices("canonical", "0001-com-ubuntu-server-jammy")
    assert canonical.offers == ["ubuntu-24_04-lts", "0001-com-ubuntu-server-jammy", "0001-com-ubuntu-server-focal"]
    assert canonical.skus == ["22_04-lts"] and canonical.sku == "22_04-lts"
    other = image_choices("debian", "0001-com-ubuntu-server-jammy")  # an offer of another publisher
    assert other.offer == "debian-12"


def test_the_node_agent_follows_from_the_image() -> None:
    assert node_agent_of("Canonical", "0001-com-ubuntu-server-jammy", "22_04-LTS") == "batch.node.ubuntu 22.04"
    assert node_agent_of("canonical", "nope", "x") == ""


def test_counts_are_whole_numbers_or_the_batch_error() -> None:
    assert count("", "targetDedicatedNodes") is None
    assert count("3", "targetDedicatedNodes") == 3
    with pytest.raises(BatchError) as caught:
        count("two", "targetDedicatedNodes")
    assert caught.value.code == "InvalidPropertyValue"
    assert ("PropertyName", "targetDedicatedNodes") in caught.value.values


def test_the_create_form_is_the_wire_body() -> None:
    form = PoolForm(
        pool_id="p", publisher="debian", offer="debian-12", sku="12", target_dedicated="2", start_task="echo hi"
    )
    body = form.body()
    assert body.virtual_machine_configuration is not None
    assert body.virtual_machine_configuration.node_agent_sku_id == "batch.node.debian 12"
    assert body.target_dedicated_nodes == 2 and body.target_low_priority_nodes == 0
    assert body.start_task is not None and body.start_task.wait_for_success is True
    assert PoolForm(pool_id="p").body().start_task is None


def test_the_evaluation_interval_is_minutes_or_iso_8601() -> None:
    assert interval_of("") is None
    assert interval_of("15") == timedelta(minutes=15)
    assert interval_of("7.5") == timedelta(minutes=7, seconds=30)
    assert interval_of("pt1h") == timedelta(hours=1)
    with pytest.raises(BatchError) as caught:
        interval_of("soon")
    assert ("PropertyName", "autoScaleEvaluationInterval") in caught.value.values


def test_an_autoscale_runs_results_as_pairs() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    run = AutoScaleRun(timestamp=now, results="$TargetDedicatedNodes=2;$NodeDeallocationOption=requeue;")
    assert results_of(run) == [("$TargetDedicatedNodes", "2"), ("$NodeDeallocationOption", "requeue")]
    assert results_of(None) == [] and results_of(AutoScaleRun(timestamp=now)) == []
