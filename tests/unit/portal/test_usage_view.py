"""The Usage and cost page's own logic: the period asked for, how figures are written, the price
form read back into a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batchite.domain.errors import BatchError
from batchite.portal.views.usage import PriceRow, choose_period, hours, money, period_query, posted_table
from batchite.service.prices import VmPrice

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_periods() -> None:
    assert choose_period("24h", "", "", NOW).start == NOW - timedelta(hours=24)
    assert choose_period("all", "", "", NOW).start is None
    ranged = choose_period("7d", "2026-11-30T08:00", "", NOW)  # a From makes it a range
    assert (ranged.name, ranged.start, ranged.end) == ("range", datetime(2026, 11, 30, 8, tzinfo=UTC), None)
    assert period_query(ranged) == "period=range&from=2026-11-30T08%3A00"


@pytest.mark.parametrize(
    ("name", "start", "end", "prop"),
    [
        ("week", "", "", "Period"),
        ("range", "yesterday", "", "From"),
        ("range", "2026-12-01T10:00", "2026-12-01T09:00", "To"),
    ],
)
def test_bad_periods_are_invalid_property(name: str, start: str, end: str, prop: str) -> None:
    with pytest.raises(BatchError) as bad:
        choose_period(name, start, end, NOW)
    assert bad.value.code == "InvalidPropertyValue" and dict(bad.value.values)["PropertyName"] == prop


def test_figures() -> None:
    assert [hours(v) for v in (0, 0.00004, 0.00056, 0.05, 12.5, 1234.56)] == [
        "0",
        "< 0.0001",
        "0.00056",
        "0.050",
        "12.50",
        "1,234.6",
    ]
    assert [money(v) for v in (0, 0.004, 3.1, 12345.678)] == ["0.00", "0.0040", "3.10", "12,345.68"]


def test_the_form_read_back() -> None:
    rows = [PriceRow("standard_d2s_v3", "0.096", ""), PriceRow("", "", ""), PriceRow("b", "", "0.5")]
    table = posted_table(rows, "EUR")
    assert table.currency == "EUR"
    assert table.prices == [
        VmPrice(vm_size="standard_d2s_v3", dedicated=0.096),
        VmPrice(vm_size="b", low_priority=0.5),
    ]
    with pytest.raises(BatchError) as no_size:
        posted_table([PriceRow("", "1", "")], "EUR")
    assert dict(no_size.value.values)["PropertyName"] == "prices[0].vmSize"
    with pytest.raises(BatchError) as not_a_number:
        posted_table([PriceRow("a", "", "1,5")], "EUR")
    assert dict(not_a_number.value.values)["PropertyName"] == "prices[0].lowPriority"
