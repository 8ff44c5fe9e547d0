"""Location_ListSupportedVirtualMachineSkus: the VM sizes Batchite knows (domain/vmsizes.py) as ARM SupportedSkus.

Every known location offers every size. The capabilities are the ones Batchite can vouch for from its
size table (cores, memory) and from what its nodes do (every size can be low-priority or spot), under
Azure's capability names. `$filter` takes `familyName eq '<family>'` terms joined by `or` (the one
property Azure filters on); the family is matched case-insensitively, as sizes are.
"""

from __future__ import annotations

import re

import msgspec
from starlette.responses import Response

from batchite.domain.vmsizes import SIZES, VmSize
from batchite.mgmt.errors import ArmError
from batchite.mgmt.paging import paged
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.mgmt.subscriptions import check_subscription, location_of

LOCATION_PATH = "/subscriptions/{subscriptionId}/providers/Microsoft.Batch/locations/{locationName}"
_TERM = re.compile(r"\s*familyName\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_OR = re.compile(r"or\b", re.IGNORECASE)


class SkuCapability(msgspec.Struct):
    name: str
    value: str


class SupportedSku(msgspec.Struct, rename="camel", omit_defaults=True):
    name: str
    family_name: str
    capabilities: list[SkuCapability]
    batch_support_end_of_life: str | None = None


def _memory_gb(memory_mb: int) -> str:
    text = f"{memory_mb / 1024:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def supported_sku(size: VmSize) -> SupportedSku:
    cores = str(size.cores)
    capabilities = [
        SkuCapability("vCPUs", cores),
        SkuCapability("vCPUsAvailable", cores),
        SkuCapability("MemoryGB", _memory_gb(size.memory_mb)),
        SkuCapability("LowPriorityCapable", "True"),
        SkuCapability("CpuArchitectureType", "x64"),
    ]
    return SupportedSku(size.name, size.family, capabilities)


def _bad_filter(text: str) -> ArmError:
    message = f"The $filter '{text}' is not valid: only familyName eq '<family>' (joined by or) is supported."
    return ArmError(400, "InvalidParameter", message, target="$filter")


def family_filter(text: str) -> set[str] | None:
    """The lower-cased families a `$filter` names (None: no filter); 400 when it is not
    `familyName eq '...'` terms joined by `or`."""
    if not text.strip():
        return None
    families: set[str] = set()
    rest = text
    while True:
        term = _TERM.match(rest)
        if term is None:
            raise _bad_filter(text)
        families.add(term.group(1).replace("''", "'").lower())
        rest = rest[term.end() :]
        if not rest:
            return families
        joined = _OR.match(rest)
        if joined is None:
            raise _bad_filter(text)
        rest = rest[joined.end() :]


async def list_skus(req: ArmRequest) -> Response:
    check_subscription(req.params["subscriptionId"])
    location_of(req)
    families = family_filter(req.request.query_params.get("$filter", ""))
    sizes = [s for s in SIZES.values() if families is None or s.family.lower() in families]
    return json_response(paged(req, sizes, lambda s: msgspec.to_builtins(supported_sku(s))))


def add_location_routes(router: ArmRouter) -> None:
    router.add("GET", LOCATION_PATH + "/virtualMachineSkus", list_skus)
