"""Small builders of SDK models used across the API and end-to-end tests."""

from __future__ import annotations

from typing import Any

from azure.batch import models as m


def pool_options(pool_id: str, dedicated: int = 1, slots: int = 1, **extra: Any) -> m.BatchPoolCreateOptions:
    return m.BatchPoolCreateOptions(
        id=pool_id,
        vm_size="standard_d2s_v3",
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(
                publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts", version="latest"
            ),
            node_agent_sku_id="batch.node.ubuntu 22.04",
        ),
        target_dedicated_nodes=dedicated,
        task_slots_per_node=slots,
        **extra,
    )


def job_options(job_id: str, pool_id: str, **extra: Any) -> m.BatchJobCreateOptions:
    return m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id), **extra)


def task_options(task_id: str, command_line: str, **extra: Any) -> m.BatchTaskCreateOptions:
    return m.BatchTaskCreateOptions(id=task_id, command_line=command_line, **extra)
