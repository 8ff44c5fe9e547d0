"""Node backends behind one protocol: local processes (default); Ray comes later."""

from batchite.compute.base import FileInfo, NodeBackend, NodeSpec, TaskHandle
from batchite.compute.local import LocalBackend

__all__ = ["FileInfo", "LocalBackend", "NodeBackend", "NodeSpec", "TaskHandle"]
