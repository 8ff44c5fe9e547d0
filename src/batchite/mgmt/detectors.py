"""The account's detectors (BatchAccount_ListDetectors / GetDetector): diagnostics run on demand.

A detector's `properties.value` is a base64 JSON document, as Azure's are: `metadata` (id, name,
description, type), `dataset` (tables of columns and rows) and `status` (a statusId, 0 critical,
1 warning, 2 info, 3 success, 4 none, and a message). Batchite has one, `poolsAndNodes`: the
account's pools with their nodes counted by state (the data plane's node counts), warning when a
node is unusable or its start task failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from batchite.service.batch import BatchService
from batchite.wire.models import BatchNodeCounts

WARNING, SUCCESS, NONE = 1, 3, 4


class DetectorMetadata(msgspec.Struct):
    id: str
    name: str
    description: str
    type: str = "Analysis"


class Column(msgspec.Struct, rename="camel"):
    column_name: str
    data_type: str


class Table(msgspec.Struct, rename="camel"):
    table_name: str
    columns: list[Column]
    rows: list[list[str | int]]


class DiagnosticData(msgspec.Struct):
    table: Table


class DetectorStatus(msgspec.Struct, rename="camel"):
    status_id: int
    message: str


class DetectorDocument(msgspec.Struct):
    metadata: DetectorMetadata
    dataset: list[DiagnosticData]
    status: DetectorStatus


@dataclass(frozen=True)
class Detector:
    id: str
    name: str
    description: str
    analyse: Callable[[BatchService, str], tuple[list[DiagnosticData], DetectorStatus]]

    def run(self, batch: BatchService, account: str) -> bytes:
        """The detector's document for `account`, as JSON bytes (base64-encoded by the caller)."""
        dataset, status = self.analyse(batch, account)
        metadata = DetectorMetadata(self.id, self.name, self.description)
        return msgspec.json.encode(DetectorDocument(metadata, dataset, status))


_COUNTED = ("total", "idle", "running", "starting", "waitingForStartTask", "startTaskFailed", "unusable", "offline")
_COLUMNS = [Column("poolId", "String"), Column("priority", "String")] + [Column(c, "Int32") for c in _COUNTED]


def _counts(counts: BatchNodeCounts) -> list[str | int]:
    return [
        counts.total,
        counts.idle,
        counts.running,
        counts.starting,
        counts.waiting_for_start_task,
        counts.start_task_failed,
        counts.unusable,
        counts.offline,
    ]


def pools_and_nodes(batch: BatchService, account: str) -> tuple[list[DiagnosticData], DetectorStatus]:
    rows: list[list[str | int]] = []
    troubled: list[str] = []
    for pool in batch.pools.node_counts(account):
        for priority, counts in (("dedicated", pool.dedicated), ("lowPriority", pool.low_priority)):
            if counts is None:
                continue
            rows.append([pool.pool_id, priority, *_counts(counts)])
            if counts.unusable or counts.start_task_failed:
                troubled.append(pool.pool_id)
    table = DiagnosticData(Table("poolsAndNodes", _COLUMNS, rows))
    if troubled:
        names = ", ".join(sorted(set(troubled)))
        status = DetectorStatus(WARNING, f"Nodes are unusable or their start task failed in: {names}.")
    elif rows:
        status = DetectorStatus(SUCCESS, f"{len({r[0] for r in rows})} pool(s); no node is unusable.")
    else:
        status = DetectorStatus(NONE, "The account has no pools.")
    return [table], status


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "poolsAndNodes",
        "Pools and Nodes",
        "The account's pools and their nodes counted by state; warns of unusable nodes and failed start tasks.",
        pools_and_nodes,
    ),
)
