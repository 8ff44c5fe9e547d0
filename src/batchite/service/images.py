"""Supported images: what `list_supported_images` returns, and the check that a pool's image is
one of them (or a well-formed custom or gallery image with a listed node agent SKU), as Azure
refuses a pool whose image it does not support. Every one runs as a local (Linux) node."""

from __future__ import annotations

import re

from batchite.domain.errors import invalid_property
from batchite.wire.enums import ImageVerificationType, OSType
from batchite.wire.models import BatchSupportedImage, BatchVmImageReference, VirtualMachineConfiguration

_IMAGES: list[tuple[str, str, str, str]] = [
    # publisher, offer, sku, node agent sku (all Linux)
    ("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04"),
    ("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "batch.node.ubuntu 22.04"),
    ("canonical", "0001-com-ubuntu-server-focal", "20_04-lts", "batch.node.ubuntu 20.04"),
    ("microsoft-azure-batch", "ubuntu-server-container", "20-04-lts", "batch.node.ubuntu 20.04"),
    ("debian", "debian-12", "12", "batch.node.debian 12"),
    ("debian", "debian-11", "11", "batch.node.debian 11"),
    ("almalinux", "almalinux-x86_64", "9-gen2", "batch.node.el 9"),
    ("microsoft-dsvm", "ubuntu-hpc", "2204", "batch.node.ubuntu 22.04"),
]


def supported_images() -> list[BatchSupportedImage]:
    return [
        BatchSupportedImage(
            node_agent_sku_id=agent,
            image_reference=BatchVmImageReference(publisher=pub, offer=offer, sku=sku, version="latest"),
            os_type=OSType.LINUX,
            capabilities=[],
            verification_type=ImageVerificationType.VERIFIED,
        )
        for pub, offer, sku, agent in _IMAGES
    ]


_AGENTS = {agent.lower() for *_, agent in _IMAGES}
_BY_IMAGE = {(pub.lower(), offer.lower(), sku.lower()): agent.lower() for pub, offer, sku, agent in _IMAGES}

# ARM resource names: letters, digits and - _ . ( ) (no braces, no spaces); a subscription is a GUID.
_NAME = r"[A-Za-z0-9_.()-]+"
_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_VM_IMAGE_ID = re.compile(
    rf"/subscriptions/{_GUID}/resourceGroups/{_NAME}/providers/Microsoft\.Compute/"
    rf"(images/{_NAME}|galleries/{_NAME}/images/{_NAME}(/versions/{_NAME})?)",
    re.IGNORECASE,
)
_SHARED_ID = re.compile(rf"/SharedGalleries/{_NAME}/Images/{_NAME}(/Versions/{_NAME})?", re.IGNORECASE)
_COMMUNITY_ID = re.compile(rf"/CommunityGalleries/{_NAME}/Images/{_NAME}(/Versions/{_NAME})?", re.IGNORECASE)

_PATH = "virtualMachineConfiguration"


def check_image(config: VirtualMachineConfiguration) -> None:
    """A marketplace image must be one of the supported images, with its own node agent SKU; a custom
    or gallery image must be a well-formed id, with a node agent SKU of the list. Otherwise 400
    InvalidPropertyValue naming the property, as Azure answers."""
    image = config.image_reference
    agent = config.node_agent_sku_id
    custom = [
        (name, value, pattern)
        for name, value, pattern in (
            ("virtualMachineImageId", image.virtual_machine_image_id, _VM_IMAGE_ID),
            ("sharedGalleryImageId", image.shared_gallery_image_id, _SHARED_ID),
            ("communityGalleryImageId", image.community_gallery_image_id, _COMMUNITY_ID),
        )
        if value is not None
    ]
    for name, value, pattern in custom:
        if pattern.fullmatch(value) is None:
            raise invalid_property(f"{_PATH}.imageReference.{name}", value, f"The specified {name} is malformed.")
    if custom:
        if agent.lower() not in _AGENTS:
            raise invalid_property(f"{_PATH}.nodeAgentSKUId", agent, "The specified nodeAgentSkuId is not supported.")
        return
    key = ((image.publisher or "").lower(), (image.offer or "").lower(), (image.sku or "").lower())
    expected = _BY_IMAGE.get(key)
    if expected is None:
        value = "/".join(part or "" for part in (image.publisher, image.offer, image.sku))
        raise invalid_property(
            f"{_PATH}.imageReference",
            value,
            "The specified imageReference is not supported: it is not among the supported images "
            "(Account_ListSupportedImages).",
        )
    if agent.lower() != expected:
        reason = (
            "The specified nodeAgentSkuId is not supported."
            if agent.lower() not in _AGENTS
            else "The specified nodeAgentSkuId is not compatible with the specified imageReference."
        )
        raise invalid_property(f"{_PATH}.nodeAgentSKUId", agent, reason)
