"""The pool forms' fields turned into the wire models the REST API decodes, with the Batch error the
API would give for a value that does not fit (a number that is not one, an image not supported)."""

from __future__ import annotations

from dataclasses import dataclass

from batchite.domain import vmsizes
from batchite.domain.errors import invalid_property
from batchite.service.images import supported_images
from batchite.wire.models import (
    BatchPoolCreateOptions,
    BatchPoolEnableAutoScaleOptions,
    BatchPoolResizeOptions,
    BatchStartTask,
    BatchVmImageReference,
    VirtualMachineConfiguration,
)
from batchite.wire.types import Duration

DEFAULT_VM_SIZE = "Standard_D2s_v3"
DEFAULT_INTERVAL_MINUTES = "15"


@dataclass(frozen=True)
class Image:
    publisher: str
    offer: str
    sku: str
    node_agent_sku_id: str


@dataclass(frozen=True)
class SizeChoice:
    name: str
    cores: int
    memory_gib: float


def images() -> list[Image]:
    out = []
    for image in supported_images():
        ref = image.image_reference
        out.append(Image(ref.publisher or "", ref.offer or "", ref.sku or "", image.node_agent_sku_id))
    return out


def vm_sizes() -> list[SizeChoice]:
    return [SizeChoice(s.name, s.cores, s.memory_mb / 1024) for s in vmsizes.SIZES.values()]


@dataclass(frozen=True)
class ImageChoices:
    """The Publisher, Offer and SKU selects: each lists what fits the choices before it."""

    publishers: list[str]
    offers: list[str]
    skus: list[str]
    publisher: str
    offer: str
    sku: str


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def image_choices(publisher: str = "", offer: str = "", sku: str = "") -> ImageChoices:
    known = images()
    publishers = _unique([i.publisher for i in known])
    publisher = publisher if publisher in publishers else publishers[0]
    offers = _unique([i.offer for i in known if i.publisher == publisher])
    offer = offer if offer in offers else offers[0]
    skus = _unique([i.sku for i in known if i.publisher == publisher and i.offer == offer])
    sku = sku if sku in skus else skus[0]
    return ImageChoices(publishers, offers, skus, publisher, offer, sku)


def node_agent_of(publisher: str, offer: str, sku: str) -> str:
    """The node agent SKU of a supported image ("" for another: the service then refuses the image)."""
    wanted = (publisher.lower(), offer.lower(), sku.lower())
    for image in images():
        if (image.publisher.lower(), image.offer.lower(), image.sku.lower()) == wanted:
            return image.node_agent_sku_id
    return ""


def count(raw: str, prop: str) -> int | None:
    """A node count field: empty is not given; anything but a whole number is InvalidPropertyValue."""
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid_property(prop, raw, "The value must be a whole number.") from None


@dataclass(frozen=True)
class PoolForm:
    """What the create form holds, to show it again as typed."""

    pool_id: str = ""
    display_name: str = ""
    publisher: str = ""
    offer: str = ""
    sku: str = ""
    vm_size: str = DEFAULT_VM_SIZE
    target_dedicated: str = "0"
    target_low_priority: str = "0"
    start_task: str = ""
    wait_for_success: bool = True

    def body(self) -> BatchPoolCreateOptions:
        agent = node_agent_of(self.publisher, self.offer, self.sku)
        image = BatchVmImageReference(publisher=self.publisher, offer=self.offer, sku=self.sku, version="latest")
        start = None
        if self.start_task:
            start = BatchStartTask(command_line=self.start_task, wait_for_success=self.wait_for_success)
        return BatchPoolCreateOptions(
            id=self.pool_id,
            display_name=self.display_name or None,
            vm_size=self.vm_size,
            virtual_machine_configuration=VirtualMachineConfiguration(image_reference=image, node_agent_sku_id=agent),
            target_dedicated_nodes=count(self.target_dedicated, "targetDedicatedNodes"),
            target_low_priority_nodes=count(self.target_low_priority, "targetLowPriorityNodes"),
            start_task=start,
        )


def resize_body(dedicated: str, low_priority: str) -> BatchPoolResizeOptions:
    return BatchPoolResizeOptions(
        target_dedicated_nodes=count(dedicated, "targetDedicatedNodes"),
        target_low_priority_nodes=count(low_priority, "targetLowPriorityNodes"),
    )


def interval_of(raw: str) -> Duration | None:
    """The evaluation interval field: minutes (15, 7.5), or an ISO 8601 duration (PT5M)."""
    text = raw.strip()
    if not text:
        return None
    try:
        if text[:1] in ("P", "p", "-"):
            return Duration.parse(text.upper())
        return Duration(minutes=float(text))
    except (ValueError, OverflowError):
        raise invalid_property(
            "autoScaleEvaluationInterval", raw, "The interval is minutes (such as 15) or an ISO 8601 duration."
        ) from None


def autoscale_body(formula: str, interval: str) -> BatchPoolEnableAutoScaleOptions:
    return BatchPoolEnableAutoScaleOptions(
        auto_scale_formula=formula or None, auto_scale_evaluation_interval=interval_of(interval)
    )
