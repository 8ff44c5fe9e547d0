"""Request bodies that the SDK sends as a whole read model (BatchJob, BatchTask) of which the
service keeps only the settable properties. Hand-written; built from the generated types."""

from __future__ import annotations

from pydantic import Field

from batchite.wire.models import (
    BatchAllTasksCompleteMode,
    BatchJobConstraints,
    BatchJobNetworkConfiguration,
    BatchMetadataItem,
    BatchPoolInfo,
    BatchTaskConstraints,
    WireModel,
)


class JobReplaceBody(WireModel):
    """PUT /jobs/{jobId}: the properties of BatchJob that a replace sets."""

    priority: int | None = Field(default=None, alias="priority")
    allow_task_preemption: bool | None = Field(default=None, alias="allowTaskPreemption")
    max_parallel_tasks: int | None = Field(default=None, alias="maxParallelTasks")
    constraints: BatchJobConstraints | None = Field(default=None, alias="constraints")
    pool_info: BatchPoolInfo = Field(alias="poolInfo")
    on_all_tasks_complete: BatchAllTasksCompleteMode | None = Field(default=None, alias="onAllTasksComplete")
    metadata: list[BatchMetadataItem] | None = Field(default=None, alias="metadata")
    network_configuration: BatchJobNetworkConfiguration | None = Field(default=None, alias="networkConfiguration")


class TaskReplaceBody(WireModel):
    """PUT /jobs/{jobId}/tasks/{taskId}: only the constraints of a task can be replaced."""

    constraints: BatchTaskConstraints | None = Field(default=None, alias="constraints")
