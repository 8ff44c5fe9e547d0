"""The price tables: their checks, and their file (DATA_DIR/portal/prices.json): a round trip,
an atomic rewrite, a bad file read as no tables."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from batchite.domain.errors import BatchError
from batchite.service.prices import InMemoryPrices, PriceService, PriceTable, VmPrice, check_table, parse_price
from batchite.store.prices import PriceFile

TABLE = PriceTable(
    currency="EUR",
    prices=[
        VmPrice(vm_size="standard_d2s_v3", dedicated=0.096, low_priority=0.0192),
        VmPrice(vm_size="standard_f4s_v2", dedicated=0.169),
    ],
)


def prop_of(err: BatchError) -> str:
    return dict(err.values)["PropertyName"]


def test_round_trip_survives_a_new_file_object(tmp_path: Path) -> None:
    prices = PriceFile.in_data_dir(tmp_path, PriceTable)
    assert prices.path == tmp_path / "portal" / "prices.json"
    assert prices.get("acct") is None
    prices.put("acct", TABLE)
    prices.put("other", PriceTable())
    again = PriceFile.in_data_dir(tmp_path, PriceTable)
    assert again.get("acct") == TABLE
    assert again.get("other") == PriceTable()
    assert json.loads(prices.path.read_text())["acct"]["prices"][0]["lowPriority"] == 0.0192


def test_write_goes_through_a_temporary_file_and_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = PriceFile.in_data_dir(tmp_path, PriceTable)
    prices.put("acct", TABLE)
    before = prices.path.read_bytes()
    replaced: list[tuple[str, str]] = []

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        replaced.append((str(src), str(dst)))
        assert Path(src).read_bytes() != before  # the new content is complete in the temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        prices.put("acct", PriceTable(currency="USD"))
    (src, dst), *_ = replaced
    assert Path(src).parent == prices.path.parent and dst == str(prices.path)
    assert prices.path.read_bytes() == before  # the old table, whole
    assert prices.get("acct") == TABLE  # and kept in memory too
    assert sorted(p.name for p in prices.path.parent.iterdir()) == ["prices.json"]  # no temporary left


@pytest.mark.parametrize("content", [b"{not json", b'{"acct": {"currency": 3}}', b"[1, 2]", b"\xff\xfe"])
def test_bad_file_is_no_tables_and_set_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "portal" / "prices.json"
    path.parent.mkdir()
    path.write_bytes(content)
    prices = PriceFile.in_data_dir(tmp_path, PriceTable)
    assert prices.get("acct") is None
    assert (path.parent / "prices.json.bad").read_bytes() == content
    prices.put("acct", TABLE)
    assert PriceFile.in_data_dir(tmp_path, PriceTable).get("acct") == TABLE


def test_unreadable_file_is_no_tables(tmp_path: Path) -> None:
    (tmp_path / "portal" / "prices.json").mkdir(parents=True)  # a directory where the file should be
    assert PriceFile.in_data_dir(tmp_path, PriceTable).get("acct") is None


def test_service_starts_empty_and_checks_what_it_keeps() -> None:
    service = PriceService(InMemoryPrices())
    assert service.table("acct") == PriceTable()  # no prices shipped
    assert service.replace("acct", TABLE) == TABLE
    assert service.table("acct").find("STANDARD_D2S_V3") == TABLE.prices[0]
    with pytest.raises(BatchError) as bad:
        service.replace("acct", PriceTable(prices=[VmPrice(vm_size="a", dedicated=-1.0)]))
    assert bad.value.code == "InvalidPropertyValue" and prop_of(bad.value) == "prices[0].dedicated"
    assert service.table("acct") == TABLE  # nothing kept


@pytest.mark.parametrize(
    ("table", "prop"),
    [
        (PriceTable(prices=[VmPrice(vm_size="a"), VmPrice(vm_size="b", low_priority=-0.01)]), "prices[1].lowPriority"),
        (PriceTable(prices=[VmPrice(vm_size="a", dedicated=float("nan"))]), "prices[0].dedicated"),
        (PriceTable(prices=[VmPrice(vm_size="a", dedicated=float("inf"))]), "prices[0].dedicated"),
        (PriceTable(prices=[VmPrice(vm_size="a", dedicated=1e9)]), "prices[0].dedicated"),
        (PriceTable(prices=[VmPrice(vm_size="A"), VmPrice(vm_size="a")]), "prices[1].vmSize"),
        (PriceTable(prices=[VmPrice(vm_size="  ")]), "prices[0].vmSize"),
        (PriceTable(currency=""), "currency"),
        (PriceTable(currency="a much too long label"), "currency"),
    ],
)
def test_bad_tables(table: PriceTable, prop: str) -> None:
    with pytest.raises(BatchError) as bad:
        check_table(table)
    assert bad.value.status == 400 and prop_of(bad.value) == prop


def test_checked_table_is_trimmed() -> None:
    checked = check_table(PriceTable(currency=" EUR ", prices=[VmPrice(vm_size=" s ", dedicated=0.0)]))
    assert checked == PriceTable(currency="EUR", prices=[VmPrice(vm_size="s", dedicated=0.0)])


def test_parse_price() -> None:
    assert parse_price("", "p") is None
    assert parse_price(" 0.5 ", "p") == 0.5
    with pytest.raises(BatchError) as bad:
        parse_price("cheap", "prices[2].dedicated")
    assert bad.value.code == "InvalidPropertyValue" and prop_of(bad.value) == "prices[2].dedicated"
    assert dict(bad.value.values)["PropertyValue"] == "cheap"
