"""One typed entity per stored kind: the SDK's wire model plus a small internal part of its own.

The wire part is what the API shows (the SDK's shape); the internal part holds what the service
needs and never shows. The store keeps both, each as JSON, and fills `etag`, `last_modified` and
`seq`; the API renders the wire part with its URL and ETag.
"""

from batchite.domain.entities.base import KINDS, Entity, Internal, NoInternal
from batchite.domain.entities.records import (
    Application,
    ApplicationPackage,
    Job,
    JobSchedule,
    JobTotals,
    Node,
    NodeUsage,
    NodeUser,
    Pool,
    PreparationStatus,
    RunUsage,
    Subtask,
    Task,
)

__all__ = [
    "KINDS",
    "Application",
    "ApplicationPackage",
    "Entity",
    "Internal",
    "Job",
    "JobSchedule",
    "JobTotals",
    "NoInternal",
    "Node",
    "NodeUsage",
    "NodeUser",
    "Pool",
    "PreparationStatus",
    "RunUsage",
    "Subtask",
    "Task",
]
