"""The price table an account's user keeps: what a node-hour of each VM size costs, dedicated and
low-priority, in one currency. None is shipped: a table starts empty and costs show as unpriced
until the user writes a price (the portal's Usage and cost page)."""

from __future__ import annotations

import math
import threading
from typing import Protocol

import msgspec

from batchite.domain.errors import BatchError, invalid_property

MAX_ROWS = 500  # VM sizes in one table
MAX_PRICE = 1_000_000.0  # per node-hour: beyond this a typo, not a price
MAX_CURRENCY = 12  # characters of the currency label


class VmPrice(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """What one node-hour of a VM size costs; None where the user set no price."""

    vm_size: str
    dedicated: float | None = None
    low_priority: float | None = None


class PriceTable(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    currency: str = "USD"  # a label only: no conversion
    prices: list[VmPrice] = msgspec.field(default_factory=list)

    def find(self, vm_size: str) -> VmPrice | None:
        """The row of a VM size (matched case-insensitively), if the table has one."""
        wanted = vm_size.lower()
        return next((p for p in self.prices if p.vm_size.lower() == wanted), None)


class PriceRepository(Protocol):
    """Where price tables are kept, per account (blocking: call it off the event loop)."""

    def get(self, account: str) -> PriceTable | None: ...

    def put(self, account: str, table: PriceTable) -> None: ...


class InMemoryPrices:
    """A PriceRepository that forgets at exit (the default of a BatchService without a data dir)."""

    def __init__(self) -> None:
        self._tables: dict[str, PriceTable] = {}
        self._lock = threading.Lock()

    def get(self, account: str) -> PriceTable | None:
        with self._lock:
            return self._tables.get(account)

    def put(self, account: str, table: PriceTable) -> None:
        with self._lock:
            self._tables[account] = table


def parse_price(text: str, prop: str) -> float | None:
    """A price as written in a form: '' is no price; otherwise a finite number >= 0."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise invalid_property(prop, text, "A price must be a number (per node-hour).") from None
    return value


def _check_price(value: float | None, prop: str) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise invalid_property(prop, value, "A price must be a finite number.")
    if value < 0:
        raise invalid_property(prop, value, "A price cannot be negative.")
    if value > MAX_PRICE:
        raise invalid_property(prop, value, f"A price cannot exceed {MAX_PRICE:g} per node-hour.")


def check_table(table: PriceTable) -> PriceTable:
    """The table if every value is valid (prices finite and >= 0, VM sizes unique and named, a
    short currency label); else the Batch error naming the first bad property."""
    currency = table.currency.strip()
    if not currency or len(currency) > MAX_CURRENCY or not currency.isprintable():
        raise invalid_property("currency", table.currency, f"A currency label of 1 to {MAX_CURRENCY} characters.")
    if len(table.prices) > MAX_ROWS:
        raise invalid_property("prices", len(table.prices), f"At most {MAX_ROWS} VM sizes.")
    seen: set[str] = set()
    rows: list[VmPrice] = []
    for i, row in enumerate(table.prices):
        name = row.vm_size.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise invalid_property(f"prices[{i}].vmSize", row.vm_size, "A VM size name.")
        if name.lower() in seen:
            raise invalid_property(f"prices[{i}].vmSize", row.vm_size, "This VM size has a row already.")
        seen.add(name.lower())
        _check_price(row.dedicated, f"prices[{i}].dedicated")
        _check_price(row.low_priority, f"prices[{i}].lowPriority")
        rows.append(VmPrice(vm_size=name, dedicated=row.dedicated, low_priority=row.low_priority))
    return PriceTable(currency=currency, prices=rows)


class PriceService:
    def __init__(self, repository: PriceRepository) -> None:
        self._repository = repository

    def table(self, account: str) -> PriceTable:
        """The account's table (empty when none was saved, or its file could not be read)."""
        return self._repository.get(account) or PriceTable()

    def replace(self, account: str, table: PriceTable) -> PriceTable:
        """Check and keep the account's whole table; a BatchError (InvalidPropertyValue) when a
        value is bad, and nothing is kept."""
        checked = check_table(table)
        try:
            self._repository.put(account, checked)
        except OSError as err:
            raise BatchError(500, "InternalError", f"The price table could not be saved: {err.strerror}.") from err
        return checked


__all__ = [
    "InMemoryPrices",
    "PriceRepository",
    "PriceService",
    "PriceTable",
    "VmPrice",
    "check_table",
    "parse_price",
]
