"""What the pool page's forms do: resize, stop a resize, evaluate a formula, enable and disable
autoscale, delete. Each posts a plain form; a Batch error shows the pool page again with the error
beside the form that caused it, with the error's status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError
from batchite.portal.context import Signed, account_page
from batchite.portal.views.pool_forms import autoscale_body, resize_body
from batchite.service.autoscale_preview import preview_formula
from batchite.wire.models import AutoScaleRun

RenderPool = Callable[..., Response]


def _pool_id(signed: Signed) -> str:
    return str(signed.request.path_params["pool"])


def results_of(run: AutoScaleRun | None) -> list[tuple[str, str]]:
    """`$TargetDedicatedNodes=2;$NodeDeallocationOption=requeue` as (name, value) pairs."""
    pairs = []
    for part in (run.results or "").split(";") if run is not None else []:
        name, _, value = part.partition("=")
        if name.strip():
            pairs.append((name.strip(), value.strip()))
    return pairs


def routes(render_pool: RenderPool) -> list[BaseRoute]:
    def again(signed: Signed, err: BatchError, **values: Any) -> Response:
        return render_pool(signed, _pool_id(signed), err.status, **values)

    @account_page
    async def resize(signed: Signed) -> Response:
        dedicated, low = signed.field("target_dedicated"), signed.field("target_low_priority")
        try:
            signed.batch.pools.resize(signed.account, _pool_id(signed), resize_body(dedicated, low))
        except BatchError as err:
            return again(signed, err, resize_error=err, resize_values=(dedicated, low))
        await signed.batch.committed()
        return signed.redirect(f"/pools/{_pool_id(signed)}")

    @account_page
    async def stop_resize(signed: Signed) -> Response:
        try:
            signed.batch.pools.stop_resize(signed.account, _pool_id(signed))
        except BatchError as err:
            return again(signed, err, resize_error=err)
        await signed.batch.committed()
        return signed.redirect(f"/pools/{_pool_id(signed)}")

    @account_page
    async def evaluate(signed: Signed) -> Response:
        """The formula evaluated against the pool, changing nothing: its results or its error."""
        formula, interval = signed.field("formula"), signed.field("interval")
        values: dict[str, Any] = {"formula": formula, "interval": interval, "evaluated": True}
        status = 200
        try:
            run = preview_formula(signed.batch, signed.account, _pool_id(signed), formula)
            values["evaluation"] = results_of(run)
            values["evaluation_error"] = run.error
        except BatchError as err:
            values["autoscale_error"] = err
            status = err.status
        if signed.htmx:
            return signed.render("pools/_evaluation.html", status, **values)
        return render_pool(signed, _pool_id(signed), status, **values)

    @account_page
    async def enable(signed: Signed) -> Response:
        formula, interval = signed.field("formula"), signed.field("interval")
        try:
            body = autoscale_body(formula, interval)
            signed.batch.autoscale.enable(signed.account, _pool_id(signed), body)
        except BatchError as err:
            return again(signed, err, autoscale_error=err, evaluated=True, formula=formula, interval=interval)
        await signed.batch.committed()
        return signed.redirect(f"/pools/{_pool_id(signed)}")

    @account_page
    async def disable(signed: Signed) -> Response:
        try:
            signed.batch.autoscale.disable(signed.account, _pool_id(signed))
        except BatchError as err:
            return again(signed, err, autoscale_error=err, evaluated=True)
        await signed.batch.committed()
        return signed.redirect(f"/pools/{_pool_id(signed)}")

    @account_page
    async def confirm_delete(signed: Signed) -> Response:
        pool = signed.batch.pools.get(signed.account, _pool_id(signed))
        return signed.render("pools/delete.html", pool=pool.wire)

    @account_page
    async def delete(signed: Signed) -> Response:
        pool = signed.batch.pools.get(signed.account, _pool_id(signed))
        try:
            signed.batch.pools.delete(signed.account, pool.id)
        except BatchError as err:
            return signed.error(err, "pools/delete.html", pool=pool.wire)
        await signed.batch.committed()
        return signed.redirect("/pools")

    return [
        Route("/pools/{pool}/resize", resize, methods=["POST"]),
        Route("/pools/{pool}/stop-resize", stop_resize, methods=["POST"]),
        Route("/pools/{pool}/autoscale/evaluate", evaluate, methods=["POST"]),
        Route("/pools/{pool}/autoscale", enable, methods=["POST"]),
        Route("/pools/{pool}/autoscale/disable", disable, methods=["POST"]),
        Route("/pools/{pool}/delete", confirm_delete, methods=["GET"]),
        Route("/pools/{pool}/delete", delete, methods=["POST"]),
    ]
