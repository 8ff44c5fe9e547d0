"""Supported images: what `list_supported_images` returns. Every one runs as a local node."""

from __future__ import annotations

from typing import Any

_IMAGES: list[tuple[str, str, str, str, str]] = [
    # publisher, offer, sku, node agent sku, os type
    ("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04", "linux"),
    ("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "batch.node.ubuntu 22.04", "linux"),
    ("canonical", "0001-com-ubuntu-server-focal", "20_04-lts", "batch.node.ubuntu 20.04", "linux"),
    ("microsoft-azure-batch", "ubuntu-server-container", "20-04-lts", "batch.node.ubuntu 20.04", "linux"),
    ("debian", "debian-12", "12", "batch.node.debian 12", "linux"),
    ("debian", "debian-11", "11", "batch.node.debian 11", "linux"),
    ("almalinux", "almalinux-x86_64", "9-gen2", "batch.node.el 9", "linux"),
    ("microsoft-dsvm", "ubuntu-hpc", "2204", "batch.node.ubuntu 22.04", "linux"),
]


def supported_images() -> list[dict[str, Any]]:
    return [
        {
            "nodeAgentSKUId": agent,
            "imageReference": {"publisher": pub, "offer": offer, "sku": sku, "version": "latest"},
            "osType": os_type,
            "capabilities": [],
            "verificationType": "verified",
        }
        for pub, offer, sku, agent, os_type in _IMAGES
    ]
