"""Pools: create, read, update, replace, resize, stop resize, delete; node counts."""

from __future__ import annotations

import builtins
import copy
from typing import Any

from batchite.domain import vmsizes
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.service.context import Page, ServiceContext, require
from batchite.service.formula_checks import check_formula, check_interval
from batchite.service.packages import check_package_references
from batchite.store.base import Record

MAX_SLOTS = 256
INT32_MAX = 2**31 - 1
NODE_STATE_COUNTS = (
    "creating",
    "idle",
    "offline",
    "preempted",
    "rebooting",
    "reimaging",
    "running",
    "starting",
    "startTaskFailed",
    "leavingPool",
    "unknown",
    "unusable",
    "waitingForStartTask",
    "deallocated",
    "deallocating",
    "upgradingOS",
)


class PoolService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- reads --------------------------------------------------------------------------
    def get(self, account: str, pool_id: str) -> Record:
        return require(self.ctx.store.get(account, "pool", "", pool_id), not_found("pool"))

    def list(self, account: str, after: int, limit: int, flt: Filter | None = None) -> Page:
        return self.ctx.page(account, "pool", "", after, limit, flt)

    def node_counts(self, account: str) -> builtins.list[dict[str, Any]]:
        self.ctx.scheduler.flush_node_documents()
        out = []
        for rec in self.ctx.store.list(account, "pool", ""):
            counts: dict[str, dict[str, int]] = {
                "dedicated": {name: 0 for name in NODE_STATE_COUNTS},
                "lowPriority": {name: 0 for name in NODE_STATE_COUNTS},
            }
            by_lower = {name.lower(): name for name in NODE_STATE_COUNTS}
            for node in self.ctx.store.list(account, "node", rec.key):
                bucket = counts["dedicated" if node.doc.get("isDedicated", True) else "lowPriority"]
                bucket[by_lower.get(node.state, "unknown")] += 1
            for bucket in counts.values():
                bucket["total"] = sum(bucket.values())
            out.append({"poolId": rec.id, **counts})
        return out

    # -- validation ---------------------------------------------------------------------
    @staticmethod
    def _check_slots(doc: dict[str, Any], size: vmsizes.VmSize) -> None:
        slots = doc.get("taskSlotsPerNode")
        if slots is None:
            return
        limit = min(MAX_SLOTS, 4 * size.cores)
        if not 1 <= int(slots) <= limit:
            raise invalid_property(
                "taskSlotsPerNode",
                slots,
                f"The value must be between 1 and {limit} (4 times the cores of {size.name}).",
            )

    @staticmethod
    def _check_targets(doc: dict[str, Any]) -> None:
        for name in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            value = doc.get(name)
            if value is not None and not 0 <= int(value) <= INT32_MAX:
                raise invalid_property(name, value, "The value must be between 0 and 2147483647.")

    # -- create -------------------------------------------------------------------------
    def create(self, account: str, body: dict[str, Any], *, auto_pool: bool = False) -> Record:
        pool_id = body["id"] if auto_pool else check_id(body["id"])
        size = vmsizes.lookup(body.get("vmSize", ""))
        vm_config = body.get("virtualMachineConfiguration")
        if not vm_config:
            raise missing_property("virtualMachineConfiguration")
        self._check_slots(body, size)
        self._check_targets(body)
        check_package_references(self.ctx, account, body.get("applicationPackageReferences"))
        autoscale = bool(body.get("enableAutoScale"))
        if autoscale:
            if not body.get("autoScaleFormula"):
                raise missing_property("autoScaleFormula")
            for name in ("targetDedicatedNodes", "targetLowPriorityNodes"):
                if body.get(name) is not None:
                    raise BatchError(
                        400,
                        "InvalidPropertyValue",
                        "targetDedicatedNodes and targetLowPriorityNodes must not be set on an autoscale pool.",
                        [("PropertyName", name)],
                    )
        if self.ctx.store.get(account, "pool", "", pool_id) is not None:
            raise exists("pool")
        if len(self.ctx.store.list(account, "pool", "")) >= self.ctx.scheduler.quotas.pools:
            raise conflict(
                "PoolQuotaReached", "The specified account has reached its pool quota.",
                [("PoolQuota", str(self.ctx.scheduler.quotas.pools))],
            )
        now = self.ctx.now_text()
        doc: dict[str, Any] = copy.deepcopy(body)
        image = doc["virtualMachineConfiguration"].setdefault("imageReference", {})
        image.setdefault("version", "latest")
        doc.update(
            {
                "id": pool_id,
                "state": "active",
                "stateTransitionTime": now,
                "creationTime": now,
                "allocationState": "steady",
                "allocationStateTransitionTime": now,
                "currentDedicatedNodes": 0,
                "currentLowPriorityNodes": 0,
                "enableAutoScale": autoscale,
                "enableInterNodeCommunication": bool(body.get("enableInterNodeCommunication", False)),
                "taskSlotsPerNode": int(body.get("taskSlotsPerNode") or 1),
                "taskSchedulingPolicy": body.get("taskSchedulingPolicy") or {"nodeFillType": "spread"},
            }
        )
        if autoscale:
            doc.setdefault("autoScaleEvaluationInterval", "PT15M")
            doc["targetDedicatedNodes"] = 0
            doc["targetLowPriorityNodes"] = 0
        else:
            doc["targetDedicatedNodes"] = int(body.get("targetDedicatedNodes") or 0)
            doc["targetLowPriorityNodes"] = int(body.get("targetLowPriorityNodes") or 0)
            doc.setdefault("resizeTimeout", "PT15M")
        if autoscale:
            check_formula(str(doc["autoScaleFormula"]))
            doc["autoScaleEvaluationInterval"] = check_interval(body.get("autoScaleEvaluationInterval"))
        rec = self.ctx.store.insert(Record(account, "pool", "", pool_id, doc))
        self.ctx.scheduler.pool_added(rec)
        if autoscale:
            self.ctx.scheduler.arm_autoscale(rec)
        return self.get(account, pool_id)

    # -- updates ------------------------------------------------------------------------
    def _active(self, account: str, pool_id: str) -> Record:
        rec = self.get(account, pool_id)
        if rec.doc.get("state") == "deleting":
            raise conflict(
                "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed."
            )
        return rec

    def update(self, account: str, pool_id: str, body: dict[str, Any]) -> Record:
        rec = self._active(account, pool_id)
        if "taskSlotsPerNode" in body:
            self._check_slots(body, vmsizes.lookup(body.get("vmSize") or rec.doc.get("vmSize", "")))
        if "vmSize" in body:
            vmsizes.lookup(body["vmSize"])
        check_package_references(self.ctx, account, body.get("applicationPackageReferences"))
        for name, value in body.items():
            if value is not None:
                rec.doc[name] = copy.deepcopy(value)
        self.ctx.store.put(rec)
        self.ctx.scheduler.pool_changed(rec)
        return rec

    def replace_properties(self, account: str, pool_id: str, body: dict[str, Any]) -> Record:
        rec = self._active(account, pool_id)
        for name in ("applicationPackageReferences", "metadata"):
            if name not in body:
                raise missing_property(name)
        check_package_references(self.ctx, account, body.get("applicationPackageReferences"))
        for name in ("startTask", "applicationPackageReferences", "metadata", "targetNodeCommunicationMode"):
            if body.get(name) is None:
                rec.doc.pop(name, None)
            else:
                rec.doc[name] = copy.deepcopy(body[name])
        self.ctx.store.put(rec)
        self.ctx.scheduler.pool_changed(rec)
        return rec

    def resize(self, account: str, pool_id: str, body: dict[str, Any]) -> Record:
        rec = self._active(account, pool_id)
        if rec.doc.get("enableAutoScale"):
            raise conflict(
                "AutoScalingEnabled", "The pool has automatic scaling enabled; it cannot be resized by hand."
            )
        if rec.doc.get("allocationState") != "steady":
            raise conflict("PoolBeingResized", "The specified pool is already being resized.")
        self._check_targets(body)
        dedicated = body.get("targetDedicatedNodes")
        low = body.get("targetLowPriorityNodes")
        rec.doc["targetDedicatedNodes"] = int(
            dedicated if dedicated is not None else rec.doc.get("targetDedicatedNodes", 0)
        )
        rec.doc["targetLowPriorityNodes"] = int(low if low is not None else rec.doc.get("targetLowPriorityNodes", 0))
        if body.get("resizeTimeout"):
            rec.doc["resizeTimeout"] = body["resizeTimeout"]
        self.ctx.store.put(rec)
        pool = self.ctx.scheduler.pools.get((account, rec.key))
        if pool is not None:
            self.ctx.scheduler.resize(
                pool,
                rec.doc["targetDedicatedNodes"],
                rec.doc["targetLowPriorityNodes"],
                str(body.get("nodeDeallocationOption") or "requeue"),
            )
        return self.get(account, pool_id)

    def stop_resize(self, account: str, pool_id: str) -> Record:
        rec = self._active(account, pool_id)
        pool = self.ctx.scheduler.pools.get((account, rec.key))
        if pool is not None:
            self.ctx.scheduler.stop_resize(pool)
        return self.get(account, pool_id)

    def delete(self, account: str, pool_id: str) -> None:
        rec = self.get(account, pool_id)
        rec.doc["state"] = "deleting"
        rec.doc["stateTransitionTime"] = self.ctx.now_text()
        self.ctx.store.put(rec)
        self.ctx.scheduler.delete_pool(account, rec.id)
