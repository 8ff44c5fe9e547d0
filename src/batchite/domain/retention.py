"""A completed task's retention: when its directory on the node may go (`constraints.retentionTime`
after it ended, 7 days by default), or never (an unlimited retention, or no directory on a node)."""

from __future__ import annotations

from datetime import datetime

from batchite.domain.states import TaskState
from batchite.wire.models import BatchTask
from batchite.wire.types import Duration

DEFAULT_RETENTION = Duration(days=7)


def retention_expiry(task: BatchTask) -> datetime | None:
    """When the directory of a completed task expires; None while it runs, or if it never does."""
    if task.state != TaskState.COMPLETED:
        return None
    node_info = task.node_info
    if node_info is None or not node_info.task_root_directory:
        return None
    constraints = task.constraints
    retention = (constraints.retention_time if constraints else None) or DEFAULT_RETENTION
    if retention.unlimited:
        return None
    info = task.execution_info
    end = (info.end_time if info is not None else None) or task.state_transition_time
    if end is None:
        return None
    try:
        return end + retention
    except OverflowError:  # beyond year 9999: never
        return None
