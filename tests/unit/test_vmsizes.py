"""VM sizes: case-insensitive lookup; unknown sizes are 400 InvalidPropertyValue on vmSize."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchite.domain.errors import BatchError
from batchite.domain.vmsizes import SIZES, VmSize, lookup


@pytest.mark.parametrize("name", ["Standard_D2s_v3", "standard_d2s_v3", "STANDARD_D2S_V3", "sTaNdArD_d2S_v3"])
def test_lookup_case_insensitive(name: str) -> None:
    size = lookup(name)
    assert size.name == "Standard_D2s_v3"
    assert size.cores == 2
    assert size.memory_mb == 8192
    assert size.family == "standardDSv3Family"


def test_captured_pool_vm_size() -> None:
    # clients.md 1.4: the SDK sample pool uses "standard_d2s_v3".
    assert lookup("standard_d2s_v3").cores == 2


@pytest.mark.parametrize(
    ("name", "cores", "memory_mb"),
    [
        ("Standard_A1_v2", 1, 2048),
        ("Standard_D4_v3", 4, 16384),
        ("Standard_E8s_v5", 8, 65536),
        ("Standard_F2s_v2", 2, 4096),
        ("Standard_NC6s_v3", 6, 114688),
        ("Standard_B1s", 1, 1024),
    ],
)
def test_known_figures(name: str, cores: int, memory_mb: int) -> None:
    size = lookup(name.upper())
    assert (size.name, size.cores, size.memory_mb) == (name, cores, memory_mb)


def test_hb120rs_v3_cores() -> None:
    assert lookup("standard_hb120rs_v3").cores == 120


@pytest.mark.parametrize(
    ("name", "memory_gib"),
    [
        # Azure's published figures: the largest sizes of these series are not 8 GiB x cores.
        ("Standard_E64_v3", 432),
        ("Standard_E64s_v3", 432),
        ("Standard_E96_v5", 672),
        ("Standard_E96s_v5", 672),
        ("Standard_E64_v5", 512),
        ("Standard_D96s_v5", 384),
    ],
)
def test_memory_of_the_largest_sizes(name: str, memory_gib: int) -> None:
    assert lookup(name).memory_mb == memory_gib * 1024


@pytest.mark.parametrize("name", ["Standard_D3_v7", "standard", "Basic_A0_typo", "Standard_D2s_v3 ", "x"])
def test_unknown_size_is_400_on_vmsize(name: str) -> None:
    with pytest.raises(BatchError) as excinfo:
        lookup(name)
    err = excinfo.value
    assert err.status == 400
    assert err.code == "InvalidPropertyValue"
    details = dict(err.values)
    assert details["PropertyName"] == "vmSize"
    assert details["PropertyValue"] == name


@pytest.mark.parametrize("name", ["", None])
def test_empty_size_is_400(name: str | None) -> None:
    with pytest.raises(BatchError) as excinfo:
        lookup(name)  # type: ignore[arg-type]
    assert excinfo.value.status == 400
    assert dict(excinfo.value.values)["PropertyName"] == "vmSize"


def test_property_name_can_be_overridden() -> None:
    with pytest.raises(BatchError) as excinfo:
        lookup("nope", prop="autoPoolSpecification.pool.vmSize")
    assert dict(excinfo.value.values)["PropertyName"] == "autoPoolSpecification.pool.vmSize"


def test_table_is_consistent() -> None:
    assert SIZES
    for key, size in SIZES.items():
        assert isinstance(size, VmSize)
        assert key == size.name.lower()
        assert size.name.startswith("Standard_")
        assert size.cores > 0
        assert size.memory_mb > 0
        assert size.family.startswith("standard") and size.family.endswith("Family")


@given(st.sampled_from(sorted(SIZES)), st.lists(st.booleans(), min_size=40, max_size=40))
def test_property_any_casing_finds_the_size(key: str, upper: list[bool]) -> None:
    mixed = "".join(c.upper() if u else c.lower() for c, u in zip(key, upper + [False] * len(key), strict=False))
    assert lookup(mixed) is SIZES[key]
