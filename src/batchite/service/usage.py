"""Pool usage metrics: core hours per pool in 30-minute intervals, from node lifetimes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from batchite.clock import format_time, parse_time
from batchite.domain import vmsizes
from batchite.service.context import ServiceContext

INTERVAL = timedelta(minutes=30)


def _floor(when: datetime) -> datetime:
    return when.replace(minute=(when.minute // 30) * 30, second=0, microsecond=0)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def pool_usage_metrics(
    ctx: ServiceContext, account: str, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    now = ctx.clock.now()
    if start is None and end is None:
        start = _floor(now)
        end = start + INTERVAL
    start = _floor(start or (now - INTERVAL))
    end = end or now
    lifetimes: dict[str, tuple[str, list[tuple[datetime, datetime]]]] = {}
    for pool in ctx.store.list(account, "pool", ""):
        spans = lifetimes.setdefault(pool.id, (str(pool.doc.get("vmSize", "")), []))[1]
        for node in ctx.store.list(account, "node", pool.key):
            if node.doc.get("allocationTime"):
                spans.append((parse_time(str(node.doc["allocationTime"])), now))
    for kind_rec in ctx.store.all("nodeusage"):
        if kind_rec.account != account or not kind_rec.doc.get("start"):
            continue
        doc = kind_rec.doc
        entry = lifetimes.setdefault(str(doc["poolId"]), (str(doc.get("vmSize", "")), []))
        entry[1].append((parse_time(str(doc["start"])), parse_time(str(doc["end"]))))
    out: list[dict[str, Any]] = []
    window = start
    while window < end:
        window_end = window + INTERVAL
        for pool_id, (vm_size, spans) in sorted(lifetimes.items()):
            seconds = sum(_overlap(s0, s1, window, window_end) for s0, s1 in spans)
            if seconds <= 0:
                continue
            try:
                cores = vmsizes.lookup(vm_size).cores
            except Exception:
                cores = 1
            out.append(
                {
                    "poolId": pool_id,
                    "startTime": format_time(window),
                    "endTime": format_time(window_end),
                    "vmSize": vm_size,
                    "totalCoreHours": round(seconds * cores / 3600.0, 6),
                }
            )
        window = window_end
    return out
