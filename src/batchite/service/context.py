"""What every part of the service layer shares: the store, the scheduler, the clock, the accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batchite.clock import Clock, format_time
from batchite.domain.errors import BatchError
from batchite.domain.filters import Filter
from batchite.scheduler import Scheduler
from batchite.service.accounts import AccountRegistry
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Record, Store


@dataclass
class Page:
    """One page of a list: the records and the seq to continue after, if there is more."""

    records: list[Record]
    next_after: int | None


@dataclass
class ServiceContext:
    store: Store
    scheduler: Scheduler
    clock: Clock
    accounts: AccountRegistry
    public_url: str
    storage: LinkedStorage | None = None  # the accounts' linked (auto-)storage, if configured

    def account_url(self, account: str) -> str:
        return self.public_url

    def now_text(self) -> str:
        return format_time(self.clock.now())

    def page(
        self,
        account: str,
        kind: str,
        parent: str,
        after: int,
        limit: int,
        flt: Filter | None = None,
        where: str = "",
        params: tuple[Any, ...] = (),
    ) -> Page:
        records = self.store.list(
            account, kind, parent, after_seq=after, limit=limit + 1, where=where, params=params, flt=flt
        )
        more = len(records) > limit
        records = records[:limit]
        return Page(records, records[-1].seq if more and records else None)


def require(rec: Record | None, error: BatchError) -> Record:
    if rec is None:
        raise error
    return rec
