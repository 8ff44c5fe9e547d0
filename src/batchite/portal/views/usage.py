"""The portal's Usage and cost page: node-hours per pool and per job by VM size, dedicated and
low-priority, over a period, and their cost at the price table the user keeps here."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError, invalid_property
from batchite.portal.context import Signed, account_page
from batchite.service.prices import PriceTable, VmPrice, parse_price
from batchite.service.usage_report import UsageReport

PERIODS: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
    "range": ("Between From and To", None),
}
DEFAULT_PERIOD = "7d"
BLANK_ROWS = 3  # empty price rows offered below the saved ones


def hours(value: float) -> str:
    """12.5 node-h; a small amount keeps two figures (0.0042); below 0.0001 (0.36 s) written so."""
    if value <= 0:
        return "0"
    if value < 0.0001:
        return "< 0.0001"
    if value < 0.1:
        return f"{value:.{1 - math.floor(math.log10(value))}f}"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:,.1f}"


def money(value: float) -> str:
    if 0 < value < 0.01:
        return f"{value:.4f}"
    return f"{value:,.2f}"


def price_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@dataclass
class PeriodChoice:
    name: str
    start: datetime | None
    end: datetime | None
    text_from: str
    text_to: str


def _parse_time(text: str, prop: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_property(prop, text, "A time such as 2026-12-01T09:30 (UTC).") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def choose_period(name: str, text_from: str, text_to: str, now: datetime) -> PeriodChoice:
    """The period the page was asked for; a BatchError for a bad one."""
    if text_from or text_to:
        name = "range"
    if name not in PERIODS:
        raise invalid_property("Period", name, "One of: " + ", ".join(PERIODS) + ".")
    span = PERIODS[name][1]
    if name != "range":
        return PeriodChoice(name, now - span if span else None, None, "", "")
    start, end = _parse_time(text_from, "From"), _parse_time(text_to, "To")
    if start is not None and end is not None and end <= start:
        raise invalid_property("To", text_to, "To must be after From.")
    return PeriodChoice(name, start, end, text_from, text_to)


def period_query(choice: PeriodChoice) -> str:
    """The page's address query for a period (kept when the prices are saved)."""
    params = {"period": choice.name, "from": choice.text_from, "to": choice.text_to}
    return urlencode({k: v for k, v in params.items() if v})


@dataclass
class PriceRow:
    """A row of the prices form, as written (so a bad value is shown again as typed)."""

    vm_size: str
    dedicated: str
    low_priority: str


def form_rows(table: PriceTable, report: UsageReport | None) -> list[PriceRow]:
    """The saved rows, a row for each VM size used in the period without one, and blank rows."""
    rows = [PriceRow(p.vm_size, price_text(p.dedicated), price_text(p.low_priority)) for p in table.prices]
    if report is not None:
        seen = {p.vm_size.lower() for p in table.prices}
        for size in report.unpriced:
            if size.lower() not in seen:  # one row a size, however its pools spell it
                seen.add(size.lower())
                rows.append(PriceRow(size, "", ""))
    return rows + [PriceRow("", "", "") for _ in range(BLANK_ROWS)]


def posted_rows(signed: Signed) -> list[PriceRow]:
    sizes, dedicated, low = signed.fields("vm_size"), signed.fields("dedicated"), signed.fields("low_priority")
    count = max(len(sizes), len(dedicated), len(low))
    return [
        PriceRow(*(values[i] if i < len(values) else "" for values in (sizes, dedicated, low))) for i in range(count)
    ]


def posted_table(rows: list[PriceRow], currency: str) -> PriceTable:
    """The table the form says (blank rows left out); a BatchError naming a bad value."""
    prices: list[VmPrice] = []
    for i, row in enumerate(r for r in rows if r.vm_size or r.dedicated or r.low_priority):
        if not row.vm_size:
            raise invalid_property(f"prices[{i}].vmSize", "", "A row with a price needs its VM size.")
        prices.append(
            VmPrice(
                vm_size=row.vm_size,
                dedicated=parse_price(row.dedicated, f"prices[{i}].dedicated"),
                low_priority=parse_price(row.low_priority, f"prices[{i}].lowPriority"),
            )
        )
    return PriceTable(currency=currency, prices=prices)


async def _show(
    signed: Signed,
    choice: PeriodChoice,
    rows: list[PriceRow] | None = None,
    currency: str | None = None,
    error: BatchError | None = None,
    saved: bool = False,
) -> Response:
    began = time.perf_counter()
    report = await asyncio.to_thread(signed.batch.usage_reports.report, signed.account, choice.start, choice.end)
    elapsed = time.perf_counter() - began
    table = await asyncio.to_thread(signed.batch.prices.table, signed.account)
    values: dict[str, Any] = {
        "report": report,
        "choice": choice,
        "periods": PERIODS,
        "rows": rows if rows is not None else form_rows(table, report),
        "currency": currency if currency is not None else table.currency,
        "hours": hours,
        "money": money,
        "elapsed": elapsed,
        "saved": saved,
        "period_query": period_query(choice),
    }
    if error is not None:
        return signed.error(error, "usage/page.html", **values)
    return signed.render("usage/page.html", **values)


def _request_period(signed: Signed) -> tuple[PeriodChoice, BatchError | None]:
    now = signed.batch.usage_reports.now()
    try:
        choice = choose_period(
            signed.query("period", DEFAULT_PERIOD), signed.query("from").strip(), signed.query("to").strip(), now
        )
    except BatchError as err:
        return choose_period(DEFAULT_PERIOD, "", "", now), err
    return choice, None


@account_page
async def usage_page(signed: Signed) -> Response:
    choice, error = _request_period(signed)
    return await _show(signed, choice, error=error, saved=signed.query("saved") == "1")


@account_page
async def save_prices(signed: Signed) -> Response:
    choice, _ = _request_period(signed)
    rows = posted_rows(signed)
    currency = signed.field("currency")
    try:
        table = posted_table(rows, currency)
        await asyncio.to_thread(signed.batch.prices.replace, signed.account, table)
    except BatchError as err:
        return await _show(signed, choice, [*rows, PriceRow("", "", "")], currency, err)
    return signed.redirect(f"/usage?{period_query(choice)}&saved=1#prices")


routes: list[BaseRoute] = [
    Route("/usage", usage_page, methods=["GET"]),
    Route("/usage/prices", save_prices, methods=["POST"]),
]
