"""Request bodies that the SDK sends as a whole read model (BatchJob, BatchTask) of which the
service keeps only the settable properties. Hand-written; built from the generated types."""

from __future__ import annotations

import msgspec

from batchite.wire.enums import BatchAllTasksCompleteMode
from batchite.wire.models import (
    BatchJobConstraints,
    BatchJobNetworkConfiguration,
    BatchMetadataItem,
    BatchPoolInfo,
    BatchTaskConstraints,
)
from batchite.wire.types import Int64, WireStruct


class JobReplaceBody(WireStruct, kw_only=True):
    """PUT /jobs/{jobId}: the properties of BatchJob that a replace sets."""

    priority: Int64 | None = None
    allow_task_preemption: bool | None = None
    max_parallel_tasks: Int64 | None = None
    constraints: BatchJobConstraints | None = None
    pool_info: BatchPoolInfo
    all_tasks_complete_mode: BatchAllTasksCompleteMode | None = msgspec.field(default=None, name="onAllTasksComplete")
    metadata: list[BatchMetadataItem] | None = None
    network_configuration: BatchJobNetworkConfiguration | None = None


class TaskReplaceBody(WireStruct, kw_only=True):
    """PUT /jobs/{jobId}/tasks/{taskId}: only the constraints of a task can be replaced."""

    constraints: BatchTaskConstraints | None = None
