"""Pool allocation: nodes come and go with resizes, honouring nodeDeallocationOption."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from batchite.clock import format_time
from batchite.compute.base import NodeSpec
from batchite.domain import states, vmsizes
from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt, TaskRt
from batchite.store.base import Record

RECENT_TASKS = 8


def vm_cores(vm_size: str) -> int:
    size = vmsizes.SIZES.get(vm_size.lower())
    return size.cores if size else 1
NODE_FLUSH_DELAY = 0.05  # seconds: node documents (task counts, recent tasks) are rewritten at most this often


def new_node_id(dedicated: bool) -> str:
    return f"tvmps_{uuid.uuid4().hex}{uuid.uuid4().hex}_{'d' if dedicated else 'p'}"


class NodeManager(SchedulerBase):
    # -- pools --------------------------------------------------------------------------
    def pool_runtime(self, rec: Record) -> PoolRt:
        doc = rec.doc
        policy = doc.get("taskSchedulingPolicy") or {}
        pool = PoolRt(
            account=rec.account,
            id=rec.id,
            vm_size=str(doc.get("vmSize", "")),
            slots_per_node=int(doc.get("taskSlotsPerNode") or 1),
            fill_type=str(policy.get("nodeFillType") or "spread").lower(),
            package_refs=list(doc.get("applicationPackageReferences") or []),
        )
        self.pools[(rec.account, pool.key)] = pool
        return pool

    def pool_added(self, rec: Record) -> None:
        pool = self.pool_runtime(rec)
        doc = rec.doc
        self.resize(pool, int(doc.get("targetDedicatedNodes") or 0), int(doc.get("targetLowPriorityNodes") or 0))

    def pool_changed(self, rec: Record) -> None:
        pool = self.pools.get((rec.account, rec.key))
        if pool is None:
            return
        policy = rec.doc.get("taskSchedulingPolicy") or {}
        pool.fill_type = str(policy.get("nodeFillType") or "spread").lower()
        pool.package_refs = list(rec.doc.get("applicationPackageReferences") or [])
        self.kick()

    def _cores_in_use(self, account: str, dedicated: bool) -> int:
        return sum(
            vm_cores(p.vm_size) * sum(1 for n in p.nodes.values() if n.spec.is_dedicated == dedicated)
            for p in self.pools.values()
            if p.account == account
        )

    def resize(self, pool: PoolRt, dedicated: int, low_priority: int, option: str = "requeue") -> None:
        """Grow or shrink to the targets; growth stops at the account's core quota (a resize error)."""
        self.set_allocation(pool, "resizing")
        errors: list[dict[str, Any]] = []
        for is_dedicated, target in ((True, dedicated), (False, low_priority)):
            current = [n for n in pool.nodes.values() if n.spec.is_dedicated == is_dedicated and not n.leaving]
            wanted = target - len(current)
            if wanted > 0:
                quota = self.quotas.dedicated_cores if is_dedicated else self.quotas.low_priority_cores
                room = max(0, quota - self._cores_in_use(pool.account, is_dedicated)) // max(1, vm_cores(pool.vm_size))
                if room < wanted:
                    kind = "dedicated" if is_dedicated else "low-priority"
                    errors.append({
                        "code": "AccountCoreQuotaReached" if is_dedicated else "AccountLowPriorityCoreQuotaReached",
                        "message": f"The specified account has reached its {kind} core quota ({quota} cores); "
                        f"{room} of the {wanted} nodes asked for could be allocated.",
                        "values": [{"name": "CoreQuota", "value": str(quota)}],
                    })
                    wanted = room
            for _ in range(wanted):
                self._add_node(pool, is_dedicated)
            surplus = len(current) - target
            if surplus > 0:
                # Idle nodes go first, then the least busy.
                victims = sorted(current, key=lambda n: (n.used, n.state != "idle"))[:surplus]
                for node in victims:
                    self.remove_node(pool, node, option)
        rec = self._pool_record(pool)
        if rec is not None and (errors or rec.doc.get("resizeErrors")):
            if errors:
                rec.doc["resizeErrors"] = errors
            else:
                rec.doc.pop("resizeErrors", None)
            self.store.put(rec)
        self.maybe_steady(pool)

    def stop_resize(self, pool: PoolRt) -> None:
        if pool.allocating or any(n.leaving for n in pool.nodes.values()):
            self.set_allocation(pool, "stopping")
        for node in pool.nodes.values():
            node.leaving = False
        self.maybe_steady(pool)
        self.kick()

    def delete_pool(self, account: str, pool_id: str) -> None:
        self.disarm_autoscale(account, pool_id)
        pool = self.pools.pop((account, pool_id.lower()), None)
        if pool is not None:
            pool.deleting = True
            for node in list(pool.nodes.values()):
                self.evict_tasks(node, "requeue")
                self._drop_node(pool, node, update_pool=False)
        self.store.delete_children(account, "node", pool_id.lower())
        self.store.delete(account, "pool", "", pool_id)

    def disarm_autoscale(self, account: str, pool_id: str) -> None:
        """Stop evaluating a pool's formula; the autoscale part overrides this."""

    # -- nodes --------------------------------------------------------------------------
    def _pool_record(self, pool: PoolRt) -> Record | None:
        return self.store.get(pool.account, "pool", "", pool.id)

    def set_allocation(self, pool: PoolRt, allocation: str) -> None:
        rec = self._pool_record(pool)
        if rec is None or rec.doc.get("allocationState") == allocation:
            return
        current = str(rec.doc.get("allocationState", ""))
        if allocation == "stopping" and not states.can_move(states.ALLOCATION, current, allocation):
            return
        rec.doc["allocationState"] = allocation
        rec.doc["allocationStateTransitionTime"] = format_time(self.now())
        self.store.put(rec)

    def _update_counts(self, pool: PoolRt) -> None:
        rec = self._pool_record(pool)
        if rec is None:
            return
        dedicated = sum(1 for n in pool.nodes.values() if n.spec.is_dedicated)
        low = len(pool.nodes) - dedicated
        if rec.doc.get("currentDedicatedNodes") != dedicated or rec.doc.get("currentLowPriorityNodes") != low:
            rec.doc["currentDedicatedNodes"] = dedicated
            rec.doc["currentLowPriorityNodes"] = low
            self.store.put(rec)

    def maybe_steady(self, pool: PoolRt) -> None:
        self._update_counts(pool)
        if pool.allocating == 0 and not any(n.leaving for n in pool.nodes.values()):
            rec = self._pool_record(pool)
            if rec is not None and rec.doc.get("allocationState") != "steady":
                rec.doc["allocationState"] = "steady"
                rec.doc["allocationStateTransitionTime"] = format_time(self.now())
                self.store.put(rec)
                self.emit("pool.steady", rec)

    def node_doc(self, pool: PoolRt, node: NodeRt, image: dict[str, Any] | None) -> dict[str, Any]:
        now = format_time(self.now())
        return {
            "id": node.id,
            "state": node.state,
            "schedulingState": "enabled",
            "stateTransitionTime": now,
            "allocationTime": now,
            "lastBootTime": now,
            "ipAddress": node.ip,
            "affinityId": f"TVM:{node.id}",
            "vmSize": pool.vm_size,
            "totalTasksRun": 0,
            "totalTasksSucceeded": 0,
            "runningTasksCount": 0,
            "runningTaskSlotsCount": 0,
            "isDedicated": node.spec.is_dedicated,
            "endpointConfiguration": {"inboundEndpoints": []},
            "nodeAgentInfo": {"version": f"batchite/{self.backend.name}", "lastUpdateTime": now},
            "virtualMachineInfo": {"imageReference": image or {}},
        }

    def _add_node(self, pool: PoolRt, dedicated: bool) -> NodeRt:
        spec = NodeSpec(
            account=pool.account,
            account_url=self.account_url(pool.account),
            pool_id=pool.id,
            node_id=new_node_id(dedicated),
            is_dedicated=dedicated,
            vm_size=pool.vm_size,
        )
        node = NodeRt(spec=spec, slots=pool.slots_per_node)
        pool.nodes[node.id] = node
        pool_rec = self._pool_record(pool)
        image = ((pool_rec.doc.get("virtualMachineConfiguration") or {}).get("imageReference")) if pool_rec else None
        self.store.insert(Record(pool.account, "node", pool.key, node.id, self.node_doc(pool, node, image)))
        pool.allocating += 1
        self.spawn(self._bring_up(pool, node))
        return node

    async def _bring_up(self, pool: PoolRt, node: NodeRt) -> None:
        try:
            self.set_node_state(pool, node, "starting")
            await self.backend.allocate(node.spec)
            if pool.nodes.get(node.id) is node:
                self.node_booted(pool, node)
        finally:
            pool.allocating -= 1
            if not pool.deleting:
                self.maybe_steady(pool)
            self.kick()

    def restore_node(self, pool: PoolRt, rec: Record) -> None:
        """After a restart: the node's directory is still there; it comes back idle."""
        node = NodeRt(
            spec=NodeSpec(
                account=pool.account,
                account_url=self.account_url(pool.account),
                pool_id=pool.id,
                node_id=rec.id,
                is_dedicated=bool(rec.doc.get("isDedicated", True)),
                vm_size=pool.vm_size,
            ),
            slots=pool.slots_per_node,
            state=str(rec.doc.get("state", "idle")),
            scheduling_enabled=rec.doc.get("schedulingState", "enabled") == "enabled",
        )
        pool.nodes[node.id] = node
        rec.doc["runningTasksCount"] = 0
        rec.doc["runningTaskSlotsCount"] = 0
        rec.doc["state"] = node.state = "starting"
        rec.doc["stateTransitionTime"] = format_time(self.now())
        self.store.put(rec)
        pool.allocating += 1
        self.spawn(self._bring_up(pool, node))

    def run_pending_action(self, pool: PoolRt, node: NodeRt) -> None:
        raise NotImplementedError  # provided by NodeActions

    def set_node_state(self, pool: PoolRt, node: NodeRt, new: str) -> None:
        rec = self.store.get(pool.account, "node", pool.key, node.id)
        node.state = new
        if rec is None:
            return
        states.transition(states.NODE, rec.doc, new, self.now(), keep_previous=False)
        self.store.put(rec)

    def remove_node(self, pool: PoolRt, node: NodeRt, option: str) -> None:
        option = (option or "requeue").lower()
        if option in ("taskcompletion", "retaineddata") and node.runs:
            node.leaving = True
            return
        self.evict_tasks(node, "terminate" if option == "terminate" else "requeue")
        self._drop_node(pool, node)

    def evict_tasks(self, node: NodeRt, reason: str) -> None:
        for run in list(node.runs):
            job = self.jobs.get((node.spec.account, run.job_key))
            if job is not None and not run.detached:
                self.stop_task(job, run.task, reason)

    def _drop_node(self, pool: PoolRt, node: NodeRt, update_pool: bool = True) -> None:
        pool.nodes.pop(node.id, None)
        node.state = "leavingpool"
        rec = self.store.get(pool.account, "node", pool.key, node.id)
        if rec is not None:  # the usage ledger behind pool usage metrics outlives the node
            usage = {
                "poolId": pool.id,
                "vmSize": pool.vm_size,
                "start": rec.doc.get("allocationTime"),
                "end": format_time(self.now()),
            }
            self.store.insert(Record(pool.account, "nodeusage", pool.key, node.id, usage))
        self.store.delete(pool.account, "node", pool.key, node.id)
        self.spawn(self.backend.release(node.spec))
        if update_pool:
            self.maybe_steady(pool)

    # -- per-task node bookkeeping ------------------------------------------------------------
    def _pool_of(self, node: NodeRt) -> PoolRt | None:
        return self.pools.get((node.spec.account, node.spec.pool_id.lower()))

    def node_task_started(self, node: NodeRt, job: JobRt, task: TaskRt) -> None:
        if node.state == "idle":
            node.state = "running"
        node.events.append(("started", job.id, task.id, None))
        self._node_dirty(node)

    def node_task_finished(self, node: NodeRt, job: JobRt, task: TaskRt, succeeded: bool | None) -> None:
        pool = self._pool_of(node)
        if pool is None or pool.nodes.get(node.id) is not node:
            return
        if node.leaving and not node.runs:
            self._drop_node(pool, node)
            return
        if node.pending_action and not node.runs:
            self.run_pending_action(pool, node)
        if node.state == "running" and not node.runs:
            node.state = "idle"
        node.events.append(("finished", job.id, task.id, succeeded if task.state == "completed" else None))
        self._node_dirty(node)

    def _node_dirty(self, node: NodeRt) -> None:
        """Node documents change with every task; their writes are grouped once per loop tick."""
        if not self._dirty_nodes:
            asyncio.get_running_loop().call_later(NODE_FLUSH_DELAY, self._flush_nodes)
        self._dirty_nodes.add(node)

    def flush_node_documents(self) -> None:
        """Bring node documents up to date now (before they are read); otherwise within 50 ms."""
        if self._dirty_nodes:
            self._flush_nodes()

    def _flush_nodes(self) -> None:
        dirty, self._dirty_nodes = self._dirty_nodes, set()
        for node in dirty:
            events, node.events = node.events, []
            rec = self.store.get(node.spec.account, "node", node.spec.pool_id.lower(), node.id)
            if rec is None:
                continue
            doc = rec.doc
            recent = list(doc.get("recentTasks") or [])
            for kind, job_id, task_id, succeeded in events:
                recent = [t for t in recent if t.get("taskId") != task_id or t.get("jobId") != job_id]
                if kind == "started":
                    doc["totalTasksRun"] = int(doc.get("totalTasksRun", 0)) + 1
                    url = f"{self.account_url(node.spec.account)}/jobs/{job_id}/tasks/{task_id}"
                    recent.insert(0, {"taskUrl": url, "jobId": job_id, "taskId": task_id, "taskState": "running"})
                else:
                    if succeeded:
                        doc["totalTasksSucceeded"] = int(doc.get("totalTasksSucceeded", 0)) + 1
                    url = f"{self.account_url(node.spec.account)}/jobs/{job_id}/tasks/{task_id}"
                    state = "completed" if succeeded is not None else "active"
                    recent.insert(0, {"taskUrl": url, "jobId": job_id, "taskId": task_id, "taskState": state})
            doc["recentTasks"] = recent[:RECENT_TASKS]
            doc["runningTasksCount"] = len(node.runs)
            doc["runningTaskSlotsCount"] = node.used
            if doc.get("state") in ("idle", "running") and node.state in ("idle", "running"):
                states.transition(states.NODE, doc, node.state, self.now(), keep_previous=False)
            self.store.put(rec)
