"""The node heatmap of a pool page: one cell per node, built in Python (one string, no per-node
template call), so a pool of thousands of nodes renders in a few milliseconds.

Each cell is a link to the node's page, coloured by state (`s-<state>`) and carrying a glyph of its
state (colour is never the only signal), named "<node id>: <state>" for assistive technology. The
links are relative to the pool page (`<pool>/nodes/<node>`), which keeps the fragment small.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import quote

from batchite.domain.states import NodeState
from batchite.service.node_map import NodeCell, state_counts

N = NodeState
GLYPHS: dict[NodeState, str] = {
    N.IDLE: "○",
    N.RUNNING: "▶",
    N.CREATING: "+",
    N.STARTING: "◔",
    N.WAITING_FOR_START_TASK: "…",
    N.START_TASK_FAILED: "✕",
    N.UNUSABLE: "!",
    N.REBOOTING: "↻",
    N.REIMAGING: "⟲",
    N.LEAVING_POOL: "←",
    N.OFFLINE: "-",
    N.PREEMPTED: "↓",
    N.UNKNOWN: "?",
    N.UPGRADING_OS: "↑",
    N.DEALLOCATED: "■",
    N.DEALLOCATING: "□",
}


_PLAIN = re.compile(r"[A-Za-z0-9_.-]*")  # ids that need neither escaping nor quoting (the service's own)


def _attr(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else escape(value, quote=True)


def _path(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else escape(quote(value, safe=""), quote=True)


def glyph(state: NodeState) -> str:
    return GLYPHS.get(state, "?")


def cells_html(pool_id: str, cells: list[NodeCell]) -> str:
    """The cells: one `<a>` per node, laid out by the CSS grid of `.heatmap`."""
    prefix = _path(pool_id) + "/nodes/"
    parts = []
    for cell in cells:
        state = cell.state.value
        kind = "" if cell.dedicated else " lp"
        parts.append(
            f'<a href="{prefix}{_path(cell.id)}" class="c s-{state}{kind}" '
            f'aria-label="{_attr(cell.id)}: {state}">{GLYPHS.get(cell.state, "?")}</a>'
        )
    return "".join(parts)


def legend_html(cells: list[NodeCell]) -> str:
    """The states present and how many nodes are in each, with the cell's colour and glyph."""
    items = [
        f'<li><span class="c s-{state}" aria-hidden="true">{glyph(state)}</span> '
        f'<span class="legend-state">{state}</span> <span class="legend-count">{count}</span></li>'
        for state, count in state_counts(cells).items()
    ]
    low = sum(1 for cell in cells if not cell.dedicated)
    if low:
        items.append(f'<li class="legend-kind">round cells: low-priority <span class="legend-count">{low}</span></li>')
    total = f'<li class="legend-total">total <span class="legend-count">{len(cells)}</span></li>'
    return f'<ul class="legend" aria-label="Nodes by state">{"".join(items)}{total}</ul>'


def heatmap_html(pool_id: str, cells: list[NodeCell]) -> str:
    """The whole live fragment: the legend and the grid (or a line saying there are no nodes)."""
    legend = legend_html(cells)
    if not cells:
        return f'{legend}<p class="muted heatmap-empty">This pool has no nodes.</p>'
    grid = cells_html(pool_id, cells)
    return f'{legend}<nav class="heatmap" aria-label="Nodes of {escape(pool_id, quote=True)}">{grid}</nav>'
