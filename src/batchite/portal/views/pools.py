"""The portal's pool pages: the list, the create form, a pool's page with its live node heatmap.

The pool's actions (resize, autoscale, delete) are in `pool_actions.py`; the heatmap's HTML in
`heatmap.py`; the forms' fields as wire models in `pool_forms.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.entities import Pool
from batchite.domain.errors import BatchError
from batchite.domain.states import NodeState
from batchite.portal import live
from batchite.portal.context import Signed, account_page
from batchite.portal.views import pool_actions
from batchite.portal.views.heatmap import glyph, heatmap_html
from batchite.portal.views.pool_forms import PoolForm, image_choices, vm_sizes
from batchite.service.node_map import node_cells, state_counts

PAGE = 100  # pools per page of the list


@dataclass(frozen=True)
class PoolRow:
    pool: Pool
    nodes: dict[NodeState, int]


def _after(signed: Signed) -> int:
    try:
        return max(0, int(signed.query("after", "0")))
    except ValueError:
        return 0


@account_page
async def pool_list(signed: Signed) -> Response:
    page = signed.batch.pools.list(signed.account, _after(signed), PAGE)
    rows = [PoolRow(p, state_counts(node_cells(signed.batch, signed.account, p.id))) for p in page.items]
    return signed.render("pools/list.html", rows=rows, next_after=page.next_after, glyph=glyph)


def _form_values(form: PoolForm) -> dict[str, Any]:
    return {"form": form, "choices": image_choices(form.publisher, form.offer, form.sku), "sizes": vm_sizes()}


@account_page
async def new_pool(signed: Signed) -> Response:
    return signed.render("pools/new.html", **_form_values(PoolForm()))


@account_page
async def image_fields(signed: Signed) -> Response:
    """The Publisher, Offer and SKU selects again, narrowed to what fits the choices made (htmx)."""
    choices = image_choices(signed.query("publisher"), signed.query("offer"), signed.query("sku"))
    return signed.render("pools/_image_fields.html", choices=choices)


@account_page
async def create_pool(signed: Signed) -> Response:
    form = PoolForm(
        pool_id=signed.field("id"),
        display_name=signed.field("display_name"),
        publisher=signed.field("publisher"),
        offer=signed.field("offer"),
        sku=signed.field("sku"),
        vm_size=signed.field("vm_size"),
        target_dedicated=signed.field("target_dedicated"),
        target_low_priority=signed.field("target_low_priority"),
        start_task=signed.field("start_task"),
        wait_for_success=signed.field("wait_for_success") == "on",
    )
    if signed.field("refresh"):  # "Update offers and SKUs" without JavaScript: the form again, narrowed
        return signed.render("pools/new.html", **_form_values(form))
    try:
        signed.batch.pools.create(signed.account, form.body())
    except BatchError as err:
        return signed.error(err, "pools/new.html", **_form_values(form))
    await signed.batch.committed()
    return signed.redirect("/pools")


def summary_html(signed: Signed, pool_id: str) -> str:
    """The live part of the pool page above the heatmap: states, node counts, resize errors, autoscale."""
    try:
        pool = signed.batch.pools.get(signed.account, pool_id)
    except BatchError as err:
        return f'<p class="notice" role="status">{Markup.escape(err.message)}</p>'
    template = signed.portal.templates.env.get_template("pools/_summary.html")
    return template.render(pool=pool.wire, base=signed.base)


def live_heatmap(signed: Signed, pool_id: str) -> str:
    try:
        return heatmap_html(pool_id, node_cells(signed.batch, signed.account, pool_id))
    except BatchError as err:
        return f'<p class="notice" role="status">{Markup.escape(err.message)}</p>'


def render_pool(signed: Signed, pool_id: str, status: int = 200, **values: Any) -> Response:
    pool = signed.batch.pools.get(signed.account, pool_id)
    heatmap = Markup(live_heatmap(signed, pool.id))  # built with every value escaped
    summary = Markup(summary_html(signed, pool.id))  # a rendered, autoescaped template
    wire = pool.wire
    values.setdefault("formula", wire.auto_scale_formula or "")
    minutes = wire.auto_scale_evaluation_interval.total_seconds() / 60 if wire.auto_scale_evaluation_interval else 15
    values.setdefault("interval", f"{minutes:g}")
    return signed.render("pools/pool.html", status, pool=wire, heatmap=heatmap, summary=summary, **values)


@account_page
async def pool_page(signed: Signed) -> Response:
    return render_pool(signed, signed.request.path_params["pool"])


@account_page
async def pool_live(signed: Signed) -> Response:
    pool_id = signed.request.path_params["pool"]
    signed.batch.pools.get(signed.account, pool_id)  # 404 for a pool that is not there
    return live.stream(
        signed.request,
        {"summary": lambda: summary_html(signed, pool_id), "heatmap": lambda: live_heatmap(signed, pool_id)},
    )


@account_page
async def heatmap_fragment(signed: Signed) -> Response:
    """The heatmap alone (what the live stream sends), for a page without server-sent events."""
    pool_id = signed.request.path_params["pool"]
    signed.batch.pools.get(signed.account, pool_id)
    return Response(live_heatmap(signed, pool_id), media_type="text/html; charset=utf-8")


routes: list[BaseRoute] = [
    Route("/pools", pool_list, methods=["GET"]),
    Route("/pools/new", new_pool, methods=["GET"]),
    Route("/pools/new", create_pool, methods=["POST"]),
    Route("/pools/new/image", image_fields, methods=["GET"]),
    Route("/pools/{pool}", pool_page, methods=["GET"]),
    Route("/pools/{pool}/live", pool_live, methods=["GET"]),
    Route("/pools/{pool}/heatmap", heatmap_fragment, methods=["GET"]),
    *pool_actions.routes(render_pool),
]
