"""Supported images: what `list_supported_images` returns. Every one runs as a local node."""

from __future__ import annotations

from batchite.wire.enums import ImageVerificationType, OSType
from batchite.wire.models import BatchSupportedImage, BatchVmImageReference

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
