"""Pool usage metrics: core hours per pool in 30-minute intervals, from node lifetimes.

Only the intervals a node was allocated in are visited, so the work is proportional to the
node-hours there were, not to the span of time a request asks about.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from batchite.domain import vmsizes
from batchite.service.context import ServiceContext
from batchite.wire.models import BatchPoolUsageMetrics

INTERVAL = timedelta(minutes=30)


def _floor(when: datetime) -> datetime:
    return when.replace(minute=(when.minute // 30) * 30, second=0, microsecond=0)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def pool_usage_metrics(
    ctx: ServiceContext, account: str, start: datetime | None, end: datetime | None
) -> list[BatchPoolUsageMetrics]:
    now = ctx.clock.now()
    if start is None and end is None:
        start = _floor(now)
        end = start + INTERVAL
    start = _floor(start or (now - INTERVAL))
    end = end or now
    lifetimes: dict[str, tuple[str, list[tuple[datetime, datetime]]]] = {}
    store = ctx.store
    for pool in store.pools.list(account, ""):
        spans = lifetimes.setdefault(pool.id, (pool.wire.vm_size, []))[1]
        spans.extend((node.wire.allocation_time, now) for node in store.nodes.list(account, pool.key))
    for usage in store.node_usage.every():
        if usage.account == account:
            entry = lifetimes.setdefault(usage.wire.pool_id, (usage.wire.vm_size, []))
            entry[1].append((usage.wire.start, usage.wire.end))
    windows: dict[tuple[datetime, str], float] = {}
    for pool_id, (_, spans) in lifetimes.items():
        for s0, s1 in spans:
            window = max(start, _floor(s0))
            while window < min(end, s1):
                seconds = _overlap(s0, s1, window, window + INTERVAL)
                if seconds > 0:
                    windows[(window, pool_id)] = windows.get((window, pool_id), 0.0) + seconds
                window += INTERVAL
    return [
        BatchPoolUsageMetrics(
            pool_id=pool_id,
            start_time=window,
            end_time=window + INTERVAL,
            vm_size=lifetimes[pool_id][0],
            total_core_hours=round(seconds * vmsizes.cores(lifetimes[pool_id][0]) / 3600.0, 6),
        )
        for (window, pool_id), seconds in sorted(windows.items())
    ]
