"""What users do to single nodes: reboot, reimage, deallocate, start, disable/enable scheduling, remove.

The options follow Batch: `requeue` (default) kills running tasks and requeues them, `terminate`
kills them and completes them as ended, `taskcompletion` and `retaineddata` wait for running
tasks to finish (taking no new ones) before the action happens.
"""

from __future__ import annotations

from batchite.clock import format_time
from batchite.scheduler.nodes import NodeManager
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt

WAITING_OPTIONS = ("taskcompletion", "retaineddata")


class NodeActions(NodeManager):
    def node_runtime(self, account: str, pool_id: str, node_id: str) -> tuple[PoolRt, NodeRt] | None:
        pool = self.pools.get((account, pool_id.lower()))
        node = pool.nodes.get(node_id) if pool else None
        return (pool, node) if pool is not None and node is not None else None

    def _evict_or_wait(self, node: NodeRt, option: str, action: str) -> bool:
        """Deal with running tasks per option; True when the action can happen now."""
        option = (option or "requeue").lower()
        if option in WAITING_OPTIONS and node.runs:
            node.pending_action = action
            return False
        self.evict_tasks(node, "terminate" if option == "terminate" else "requeue")
        return True

    def node_action(self, pool: PoolRt, node: NodeRt, action: str, option: str) -> None:
        """action: reboot, reimage or deallocate."""
        if self._evict_or_wait(node, option, action):
            node.pending_action = action
            self.run_pending_action(pool, node)
        self.kick()

    def run_pending_action(self, pool: PoolRt, node: NodeRt) -> None:
        action, node.pending_action = node.pending_action, None
        if action == "deallocate":
            self.set_node_state(pool, node, "deallocating")
            self.spawn(self._finish_deallocate(pool, node))
        elif action in ("reboot", "reimage"):
            self.set_node_state(pool, node, "rebooting" if action == "reboot" else "reimaging")
            self.spawn(self.boot_node(pool, node, wipe=action == "reimage"))

    async def _finish_deallocate(self, pool: PoolRt, node: NodeRt) -> None:
        if pool.nodes.get(node.id) is node:
            self.set_node_state(pool, node, "deallocated")

    async def boot_node(self, pool: PoolRt, node: NodeRt, wipe: bool) -> None:
        if wipe:
            await self.backend.release(node.spec)
        if pool.nodes.get(node.id) is not node:
            return
        self.set_node_state(pool, node, "starting")
        await self.backend.allocate(node.spec)
        if pool.nodes.get(node.id) is not node:
            return
        rec = self.store.get(pool.account, "node", pool.key, node.id)
        if rec is not None:
            rec.doc["lastBootTime"] = format_time(self.now())
            self.store.put(rec)
        for job in self.jobs.values():  # preparation tasks run again after a reimage (or reboot, if asked)
            if job.account == pool.account and node.id in job.prep and (wipe or self._rerun_prep(job)):
                job.prep.pop(node.id, None)
        self.node_booted(pool, node)

    def _rerun_prep(self, job: JobRt) -> bool:
        rec = self.store.get(job.account, "job", "", job.id)
        prep = (rec.doc.get("jobPreparationTask") if rec else None) or {}
        return prep.get("rerunOnNodeRebootAfterSuccess", True) is not False

    def start_node(self, pool: PoolRt, node: NodeRt) -> None:
        self.set_node_state(pool, node, "starting")
        self.spawn(self.boot_node(pool, node, wipe=False))

    def set_scheduling(self, pool: PoolRt, node: NodeRt, enabled: bool, option: str = "requeue") -> None:
        rec = self.store.get(pool.account, "node", pool.key, node.id)
        node.scheduling_enabled = enabled
        if not enabled and (option or "requeue").lower() != "taskcompletion":
            self.evict_tasks(node, "terminate" if (option or "").lower() == "terminate" else "requeue")
        if rec is not None:
            rec = self.store.get(pool.account, "node", pool.key, node.id) or rec
            rec.doc["schedulingState"] = "enabled" if enabled else "disabled"
            self.store.put(rec)
        self.kick()

    def remove_nodes(self, pool: PoolRt, node_ids: list[str], option: str) -> None:
        self.set_allocation(pool, "resizing")
        for node_id in node_ids:
            node = pool.nodes.get(node_id)
            if node is not None:
                self.remove_node(pool, node, option)
        rec = self.store.get(pool.account, "pool", "", pool.id)
        if rec is not None:
            dedicated = sum(1 for n in pool.nodes.values() if n.spec.is_dedicated and not n.leaving)
            low = sum(1 for n in pool.nodes.values() if not n.spec.is_dedicated and not n.leaving)
            rec.doc["targetDedicatedNodes"] = dedicated
            rec.doc["targetLowPriorityNodes"] = low
            self.store.put(rec)
        self.maybe_steady(pool)
        self.kick()
