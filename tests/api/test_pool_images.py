"""A pool's image must be one Batchite supports (Account_ListSupportedImages) with its own node agent
SKU, or a well-formed custom or gallery image id with a listed node agent SKU: otherwise 400
InvalidPropertyValue naming the property, and no pool."""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.sdk import pool_options

GALLERY = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-batch/providers/"
    "Microsoft.Compute/galleries/gallery_1/images/ubuntu-def/versions/1.0.0"
)


def create(client: Any, pool_id: str, image: m.BatchVmImageReference, agent: str) -> m.BatchPoolCreateOptions:
    options = pool_options(pool_id, dedicated=0)
    options.virtual_machine_configuration = m.VirtualMachineConfiguration(
        image_reference=image, node_agent_sku_id=agent
    )
    return client.create_pool(options)


def refused(client: Any, pool_id: str, image: m.BatchVmImageReference, agent: str) -> dict[str, str]:
    with pytest.raises(HttpResponseError) as caught:
        create(client, pool_id, image, agent)
    assert caught.value.status_code == 400
    error = caught.value.error
    assert error is not None and error.code == "InvalidPropertyValue"
    with pytest.raises(ResourceNotFoundError):
        client.get_pool(pool_id)
    return {str(d.code): str(d.message) for d in error.details}


JAMMY = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")


@pytest.mark.parametrize(
    ("image", "agent", "prop"),
    [
        pytest.param(
            m.BatchVmImageReference(
                publisher="MicrosoftWindowsServer", offer="WindowsServer", sku="2022-datacenter", version="latest"
            ),
            "batch.node.ubuntu 22.04",
            "virtualMachineConfiguration.imageReference",
            id="windows-image-linux-agent",
        ),
        pytest.param(
            m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="20_04-lts"),
            "batch.node.ubuntu 22.04",
            "virtualMachineConfiguration.imageReference",
            id="offer-and-sku-mismatched",
        ),
        pytest.param(JAMMY, "batch.node.ubuntu 20.04", "virtualMachineConfiguration.nodeAgentSKUId", id="other-agent"),
        pytest.param(
            JAMMY, "batch.node.windows amd64", "virtualMachineConfiguration.nodeAgentSKUId", id="windows-agent"
        ),
        pytest.param(
            m.BatchVmImageReference(
                virtual_machine_image_id="/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/"
                "Microsoft.Compute/galleries/{gallery}/images/{image}/versions/{version}"
            ),
            "batch.node.ubuntu 22.04",
            "virtualMachineConfiguration.imageReference.virtualMachineImageId",
            id="gallery-id-of-placeholders",
        ),
        pytest.param(
            m.BatchVmImageReference(virtual_machine_image_id=GALLERY),
            "batch.node.windows amd64",
            "virtualMachineConfiguration.nodeAgentSKUId",
            id="gallery-image-unknown-agent",
        ),
    ],
)
def test_unsupported_images_are_refused(client: Any, uid: Any, image: Any, agent: str, prop: str) -> None:
    values = refused(client, uid("img"), image, agent)
    assert values["PropertyName"] == prop
    assert values["Reason"]


def test_supported_images_and_well_formed_gallery_ids_are_accepted(client: Any, uid: Any, cleanup: Any) -> None:
    listed = list(client.list_supported_images())
    assert listed
    for i, image in enumerate(listed):
        pool_id = uid(f"ok{i}")
        ref = image.image_reference
        upper = m.BatchVmImageReference(publisher=ref.publisher.upper(), offer=ref.offer, sku=ref.sku)
        create(client, pool_id, upper, image.node_agent_sku_id)  # names are matched in any case
        cleanup("pool", pool_id)
    pool_id = uid("gallery")
    create(client, pool_id, m.BatchVmImageReference(virtual_machine_image_id=GALLERY), "batch.node.ubuntu 22.04")
    cleanup("pool", pool_id)
    assert client.get_pool(pool_id).virtual_machine_configuration.image_reference.virtual_machine_image_id == GALLERY
