"""The pool every bench runs on: Ubuntu 22.04 nodes of standard_d2s_v3 (Batchite's supported image)."""

from __future__ import annotations

from azure.batch import models as m

VM_SIZE = "standard_d2s_v3"


def ubuntu_pool(pool_id: str, dedicated: int, slots: int) -> m.BatchPoolCreateOptions:
    return m.BatchPoolCreateOptions(
        id=pool_id,
        vm_size=VM_SIZE,
        target_dedicated_nodes=dedicated,
        task_slots_per_node=slots,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(
                publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"
            ),
            node_agent_sku_id="batch.node.ubuntu 22.04",
        ),
    )
