"""What every part of the service layer shares: the store, the scheduler, the clock, the accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from batchite.clock import Clock
from batchite.domain.errors import BatchError
from batchite.domain.urls import Urls
from batchite.scheduler import Scheduler
from batchite.service.accounts import AccountRegistry
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Store

T = TypeVar("T")


@dataclass
class ServiceContext:
    store: Store
    scheduler: Scheduler
    clock: Clock
    accounts: AccountRegistry
    urls: Urls
    storage: LinkedStorage | None = None  # the accounts' linked (auto-)storage, if configured


def require(found: T | None, error: BatchError) -> T:
    if found is None:
        raise error
    return found
