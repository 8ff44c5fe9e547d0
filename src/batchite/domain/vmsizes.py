"""Azure VM sizes: cores and memory of the common sizes, matched case-insensitively.

A local node of a given size reports these figures; by default a node gets one task slot per
pool `taskSlotsPerNode` (Azure's default of 1), bounded by Azure's limit of 4x cores (max 256).
"""

from __future__ import annotations

from dataclasses import dataclass

from batchite.domain.errors import invalid_property


@dataclass(frozen=True)
class VmSize:
    name: str
    cores: int
    memory_mb: int
    family: str


# The largest sizes of some series have less memory than cores x GiB-per-core (Azure's size tables).
_MEMORY_GIB_OVERRIDES = {
    "Standard_E64_v3": 432,
    "Standard_E64s_v3": 432,
    "Standard_E96_v5": 672,
    "Standard_E96s_v5": 672,
}


def _series(family: str, prefix: str, suffix: str, gb_per_core: float, cores: tuple[int, ...]) -> list[VmSize]:
    sizes = []
    for n in cores:
        name = f"Standard_{prefix}{n}{suffix}"
        gib = _MEMORY_GIB_OVERRIDES.get(name, n * gb_per_core)
        sizes.append(VmSize(name, n, int(gib * 1024), family))
    return sizes


_SIZES: list[VmSize] = [
    VmSize("Standard_A1_v2", 1, 2048, "standardAv2Family"),
    VmSize("Standard_A2_v2", 2, 4096, "standardAv2Family"),
    VmSize("Standard_A4_v2", 4, 8192, "standardAv2Family"),
    VmSize("Standard_A8_v2", 8, 16384, "standardAv2Family"),
    VmSize("Standard_A2m_v2", 2, 16384, "standardAv2Family"),
    VmSize("Standard_A4m_v2", 4, 32768, "standardAv2Family"),
    VmSize("Standard_A8m_v2", 8, 65536, "standardAv2Family"),
    VmSize("Standard_D1_v2", 1, 3584, "standardDv2Family"),
    VmSize("Standard_D2_v2", 2, 7168, "standardDv2Family"),
    VmSize("Standard_D3_v2", 4, 14336, "standardDv2Family"),
    VmSize("Standard_D4_v2", 8, 28672, "standardDv2Family"),
    VmSize("Standard_D5_v2", 16, 57344, "standardDv2Family"),
    VmSize("Standard_DS1_v2", 1, 3584, "standardDSv2Family"),
    VmSize("Standard_DS2_v2", 2, 7168, "standardDSv2Family"),
    VmSize("Standard_DS3_v2", 4, 14336, "standardDSv2Family"),
    VmSize("Standard_DS4_v2", 8, 28672, "standardDSv2Family"),
    VmSize("Standard_DS5_v2", 16, 57344, "standardDSv2Family"),
    VmSize("Standard_F1", 1, 2048, "standardFFamily"),
    VmSize("Standard_F2", 2, 4096, "standardFFamily"),
    VmSize("Standard_F4", 4, 8192, "standardFFamily"),
    VmSize("Standard_F8", 8, 16384, "standardFFamily"),
    VmSize("Standard_F16", 16, 32768, "standardFFamily"),
    VmSize("Standard_B1s", 1, 1024, "standardBSFamily"),
    VmSize("Standard_B1ms", 1, 2048, "standardBSFamily"),
    VmSize("Standard_B2s", 2, 4096, "standardBSFamily"),
    VmSize("Standard_B2ms", 2, 8192, "standardBSFamily"),
    VmSize("Standard_B4ms", 4, 16384, "standardBSFamily"),
    VmSize("Standard_B8ms", 8, 32768, "standardBSFamily"),
    *_series("standardDv3Family", "D", "_v3", 4, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardDSv3Family", "D", "s_v3", 4, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardDv4Family", "D", "_v4", 4, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardDSv4Family", "D", "s_v4", 4, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardDdv4Family", "D", "d_v4", 4, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardDv5Family", "D", "_v5", 4, (2, 4, 8, 16, 32, 48, 64, 96)),
    *_series("standardDSv5Family", "D", "s_v5", 4, (2, 4, 8, 16, 32, 48, 64, 96)),
    *_series("standardDdv5Family", "D", "d_v5", 4, (2, 4, 8, 16, 32, 48, 64, 96)),
    *_series("standardDasv5Family", "D", "as_v5", 4, (2, 4, 8, 16, 32, 48, 64, 96)),
    *_series("standardEv3Family", "E", "_v3", 8, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardESv3Family", "E", "s_v3", 8, (2, 4, 8, 16, 32, 48, 64)),
    *_series("standardEv5Family", "E", "_v5", 8, (2, 4, 8, 16, 32, 48, 64, 96)),
    *_series("standardESv5Family", "E", "s_v5", 8, (2, 4, 8, 16, 32, 48, 64, 96)),
    *_series("standardFSv2Family", "F", "s_v2", 2, (2, 4, 8, 16, 32, 48, 64, 72)),
    *_series("standardHBv3Family", "HB", "rs_v3", 3.75, (120,)),
    VmSize("Standard_NC6s_v3", 6, 114688, "standardNCSv3Family"),
    VmSize("Standard_NC12s_v3", 12, 229376, "standardNCSv3Family"),
    VmSize("Standard_NC24s_v3", 24, 458752, "standardNCSv3Family"),
    VmSize("Standard_NC4as_T4_v3", 4, 28672, "standardNCASv3_T4Family"),
    VmSize("Standard_NC8as_T4_v3", 8, 57344, "standardNCASv3_T4Family"),
    VmSize("Standard_ND96asr_v4", 96, 921600, "standardNDASv4_A100Family"),
]

SIZES: dict[str, VmSize] = {s.name.lower(): s for s in _SIZES}


def lookup(name: str, prop: str = "vmSize") -> VmSize:
    size = find(name)
    if size is None:
        raise invalid_property(prop, name, "The specified VM size is not supported by Batchite's size table.")
    return size


def find(name: str) -> VmSize | None:
    return SIZES.get(str(name).lower()) if name else None


def cores(name: str) -> int:
    """The cores of a size (1 for a size the table does not know: pools are checked at creation)."""
    size = find(name)
    return size.cores if size is not None else 1
