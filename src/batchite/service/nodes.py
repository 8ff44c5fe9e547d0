"""Compute nodes: list, get, and what users do to a node (reboot, reimage, users, scheduling...)."""

from __future__ import annotations

import asyncio
import builtins
import copy
import logging
import uuid
from pathlib import Path
from typing import Any

from batchite.domain.errors import BatchError, conflict, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.scheduler.runtime import NodeRt, PoolRt
from batchite.service.context import Page, ServiceContext, require
from batchite.storage.blobs import upload_files
from batchite.store.base import Record

log = logging.getLogger("batchite.nodes")

# Node states in which each action is accepted, as the Batch docs give them.
REBOOTABLE = ("idle", "running", "starttaskfailed", "unusable", "offline")
DEALLOCATABLE = ("idle", "running")
USER_STATES = ("idle", "running", "starttaskfailed", "waitingforstarttask", "offline")


def node_not_ready(state: str, action: str) -> BatchError:
    return conflict(
        "NodeNotReady" if state not in ("deallocated", "deallocating") else "NodeDeallocated",
        f"The node is {state}; it cannot {action} now.",
        [("NodeState", state)],
    )


class NodeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _pool(self, account: str, pool_id: str) -> Record:
        return require(self.ctx.store.get(account, "pool", "", pool_id), not_found("pool"))

    def list(self, account: str, pool_id: str, after: int, limit: int, flt: Filter | None = None) -> Page:
        pool = self._pool(account, pool_id)
        self.ctx.scheduler.flush_node_documents()
        return self.ctx.page(account, "node", pool.key, after, limit, flt)

    def get(self, account: str, pool_id: str, node_id: str) -> Record:
        pool = self._pool(account, pool_id)
        self.ctx.scheduler.flush_node_documents()
        return require(self.ctx.store.get(account, "node", pool.key, node_id), not_found("node"))

    def _runtime(self, account: str, pool_id: str, node_id: str) -> tuple[Record, PoolRt, NodeRt]:
        rec = self.get(account, pool_id, node_id)
        found = self.ctx.scheduler.node_runtime(account, pool_id, rec.id)
        if found is None:
            raise not_found("node")
        return rec, found[0], found[1]

    # -- actions ------------------------------------------------------------------------
    def act(self, account: str, pool_id: str, node_id: str, action: str, option: str | None) -> Record:
        _, pool, node = self._runtime(account, pool_id, node_id)
        state = node.state
        if action in ("reboot", "reimage") and state not in REBOOTABLE:
            raise node_not_ready(state, action)
        if action == "deallocate" and state not in DEALLOCATABLE:
            raise node_not_ready(state, action)
        self.ctx.scheduler.node_action(pool, node, action, option or "requeue")
        return self.get(account, pool_id, node_id)

    def start(self, account: str, pool_id: str, node_id: str) -> Record:
        _, pool, node = self._runtime(account, pool_id, node_id)
        if node.state != "deallocated":
            raise conflict("NodeNotDeallocated", "Only a deallocated node can be started.", [("NodeState", node.state)])
        self.ctx.scheduler.start_node(pool, node)
        return self.get(account, pool_id, node_id)

    def set_scheduling(self, account: str, pool_id: str, node_id: str, enabled: bool, option: str | None) -> Record:
        _, pool, node = self._runtime(account, pool_id, node_id)
        self.ctx.scheduler.set_scheduling(pool, node, enabled, option or "requeue")
        return self.get(account, pool_id, node_id)

    def remove(self, account: str, pool_id: str, node_ids: builtins.list[str], option: str | None) -> Record:
        pool_rec = self._pool(account, pool_id)
        if len(node_ids) > 100:
            raise BatchError(
                400,
                "InvalidPropertyValue",
                "At most 100 nodes can be removed in one request.",
                [("PropertyName", "nodeList"), ("PropertyValue", str(len(node_ids)))],
            )
        if pool_rec.doc.get("allocationState") != "steady":
            raise conflict("PoolBeingResized", "The specified pool is being resized.")
        pool = self.ctx.scheduler.pools.get((account, pool_rec.key))
        if pool is None:
            raise not_found("pool")
        for node_id in node_ids:
            if node_id not in pool.nodes:
                raise BatchError(
                    400,
                    "InvalidPropertyValue",
                    "The node to remove does not belong to the pool.",
                    [("PropertyName", "nodeList"), ("PropertyValue", node_id)],
                )
        self.ctx.scheduler.remove_nodes(pool, node_ids, option or "requeue")
        return self._pool(account, pool_id)

    def preempt(self, account: str, pool_id: str, node_ids: builtins.list[str] | None) -> builtins.list[str]:
        """Preempt low-priority nodes on demand (all of the pool's, or those named)."""
        pool_rec = self._pool(account, pool_id)
        pool = self.ctx.scheduler.pools.get((account, pool_rec.key))
        if pool is None:
            raise not_found("pool")
        targets = node_ids or [n.id for n in pool.nodes.values() if not n.spec.is_dedicated]
        done = []
        for node_id in targets:
            node = pool.nodes.get(node_id)
            if node is None:
                raise not_found("node")
            if node.spec.is_dedicated:
                raise conflict(
                    "NodeIsDedicated", "Only low-priority (spot) nodes can be preempted.", [("NodeId", node_id)]
                )
            if self.ctx.scheduler.preempt_node(pool, node):
                done.append(node_id)
        return done

    # -- users --------------------------------------------------------------------------
    def _users(self, rec: Record) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = rec.extra.setdefault("users", {})
        return users

    def create_user(self, account: str, pool_id: str, node_id: str, body: dict[str, Any]) -> Record:
        rec = self.get(account, pool_id, node_id)
        if rec.state not in USER_STATES:
            raise node_not_ready(rec.state, "accept users")
        name = str(body.get("name") or "")
        if not name:
            raise missing_property("name")
        users = self._users(rec)
        if name.lower() in users:
            raise conflict("NodeUserExists", "The specified node user already exists.", [("UserName", name)])
        users[name.lower()] = {k: v for k, v in body.items() if k != "password"}
        self.ctx.store.put(rec)
        return rec

    def replace_user(self, account: str, pool_id: str, node_id: str, name: str, body: dict[str, Any]) -> Record:
        rec = self.get(account, pool_id, node_id)
        users = self._users(rec)
        if name.lower() not in users:
            raise BatchError(404, "NodeUserNotFound", "The specified node user does not exist.", [("UserName", name)])
        user = users[name.lower()]
        for key in ("expiryTime", "sshPublicKey"):
            user[key] = copy.deepcopy(body.get(key))
        self.ctx.store.put(rec)
        return rec

    def delete_user(self, account: str, pool_id: str, node_id: str, name: str) -> None:
        rec = self.get(account, pool_id, node_id)
        if self._users(rec).pop(name.lower(), None) is None:
            raise BatchError(404, "NodeUserNotFound", "The specified node user does not exist.", [("UserName", name)])
        self.ctx.store.put(rec)

    # -- what a local node has instead of a VM ------------------------------------------
    def remote_login_settings(self, account: str, pool_id: str, node_id: str) -> dict[str, Any]:
        rec = self.get(account, pool_id, node_id)
        return {"remoteLoginIPAddress": rec.doc.get("ipAddress", "127.0.0.1"), "remoteLoginPort": 22}

    def extensions(self, account: str, pool_id: str, node_id: str) -> builtins.list[dict[str, Any]]:
        pool = self._pool(account, pool_id)
        self.get(account, pool_id, node_id)
        out = []
        for ext in (pool.doc.get("virtualMachineConfiguration") or {}).get("extensions") or []:
            out.append(
                {
                    "provisioningState": "Succeeded",
                    "vmExtension": ext,
                    "instanceView": {
                        "name": ext.get("name"),
                        "statuses": [
                            {
                                "code": "ProvisioningState/succeeded",
                                "displayStatus": "Provisioning succeeded",
                                "level": "Info",
                                "time": pool.doc.get("creationTime"),
                            }
                        ],
                    },
                }
            )
        return out

    def extension(self, account: str, pool_id: str, node_id: str, name: str) -> dict[str, Any]:
        for ext in self.extensions(account, pool_id, node_id):
            if str(ext["vmExtension"].get("name", "")).lower() == name.lower():
                return ext
        raise BatchError(
            404, "NodeExtensionNotFound", "The specified node extension does not exist.", [("ExtensionName", name)]
        )

    def upload_logs(self, account: str, pool_id: str, node_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Upload the node's logs to the container (in the background, as the service does)."""
        rec, pool, node = self._runtime(account, pool_id, node_id)
        backend = self.ctx.scheduler.backend
        lines = [f"{k}: {v}" for k, v in sorted(rec.doc.items()) if not isinstance(v, dict | builtins.list)]
        items: builtins.list[tuple[str, Path | bytes]] = [("batchite-agent.log", ("\n".join(lines) + "\n").encode())]
        for rel in ("startup/stdout.txt", "startup/stderr.txt"):
            info = backend.stat_file(node.spec, rel)
            if info is not None and not info.is_directory:
                items.append((rel, backend.read_file(node.spec, rel, None, None)))
        directory = f"{pool.id}/{node.id}/{uuid.uuid4()}"
        named = [(f"{directory}/{name}", data) for name, data in items]
        future = asyncio.get_running_loop().run_in_executor(None, upload_files, str(body["containerUrl"]), named)
        future.add_done_callback(_log_upload_failure)
        return {"virtualDirectoryName": directory, "numberOfFilesUploaded": len(items)}


def _log_upload_failure(future: asyncio.Future[int]) -> None:
    if future.exception() is not None:
        log.warning("uploading node logs failed: %s", future.exception())
