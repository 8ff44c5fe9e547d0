"""Compute nodes: list, get, and what users do to a node (reboot, reimage, users, scheduling...).

Node users are the service's own (entity NodeUser, never a password); everything that changes a
node is done by the scheduler.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import uuid
from pathlib import Path

from batchite.compute.protocol import FileRefused
from batchite.domain.entities import Node, NodeUser, Pool
from batchite.domain.entities.records import NodeUserRecord
from batchite.domain.errors import BatchError, conflict, not_found
from batchite.domain.filters import Filter
from batchite.domain.node_actions import NodeAction
from batchite.domain.states import NodeState, PoolState
from batchite.scheduler.live import LiveNode, LivePool
from batchite.service.conflicts import pool_being_deleted
from batchite.service.context import ServiceContext, require
from batchite.storage.blobs import upload_files
from batchite.store.base import Page
from batchite.wire.enums import AllocationState, StatusLevelTypes
from batchite.wire.models import (
    BatchNodeRemoteLoginSettings,
    BatchNodeUserCreateOptions,
    BatchNodeUserReplaceOptions,
    BatchNodeVMExtension,
    InstanceViewStatus,
    UploadBatchServiceLogsOptions,
    UploadBatchServiceLogsResult,
    VMExtensionInstanceView,
)
from batchite.wire.types import WireEnum, to_builtins

log = logging.getLogger("batchite.nodes")

# Node states in which each action is accepted, as the Batch docs give them.
N = NodeState
REBOOTABLE = frozenset({N.IDLE, N.RUNNING, N.START_TASK_FAILED, N.UNUSABLE, N.OFFLINE})
DEALLOCATABLE = frozenset({N.IDLE, N.RUNNING})
USER_STATES = frozenset({N.IDLE, N.RUNNING, N.START_TASK_FAILED, N.WAITING_FOR_START_TASK, N.OFFLINE})
MAX_REMOVE = 100


def node_not_ready(state: NodeState, action: str) -> BatchError:
    return conflict(
        "NodeNotReady" if state not in (N.DEALLOCATED, N.DEALLOCATING) else "NodeDeallocated",
        f"The node is {state}; it cannot {action} now.",
        [("NodeState", str(state))],
    )


def user_not_found(name: str) -> BatchError:
    return BatchError(404, "NodeUserNotFound", "The specified node user does not exist.", [("UserName", name)])


class NodeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _pool(self, account: str, pool_id: str) -> Pool:
        return require(self.ctx.store.pools.get(account, "", pool_id), not_found("pool"))

    def _changeable(self, account: str, pool_id: str) -> Pool:
        """The pool, unless it is being deleted (409 PoolBeingDeleted: its nodes can only be read)."""
        pool = self._pool(account, pool_id)
        if pool.wire.state == PoolState.DELETING:
            raise pool_being_deleted()
        return pool

    def list(self, account: str, pool_id: str, after: int, limit: int, flt: Filter | None = None) -> Page[Node]:
        pool = self._pool(account, pool_id)
        self.ctx.scheduler.flush_node_documents()
        return self.ctx.store.nodes.page(account, pool.key, after, limit, flt)

    def get(self, account: str, pool_id: str, node_id: str) -> Node:
        pool = self._pool(account, pool_id)
        self.ctx.scheduler.flush_node_documents()
        return require(self.ctx.store.nodes.get(account, pool.key, node_id), not_found("node"))

    def _live(self, account: str, pool_id: str, node_id: str, changing: bool = True) -> tuple[LivePool, LiveNode]:
        if changing:
            self._changeable(account, pool_id)
        self.get(account, pool_id, node_id)
        found = self.ctx.scheduler.projection.node(account, pool_id, node_id)
        if found is None:
            raise not_found("node")
        return found

    # -- actions ------------------------------------------------------------------------
    def act(self, account: str, pool_id: str, node_id: str, action: NodeAction, option: WireEnum | None) -> Node:
        pool, node = self._live(account, pool_id, node_id)
        if action in (NodeAction.REBOOT, NodeAction.REIMAGE) and node.state not in REBOOTABLE:
            raise node_not_ready(node.state, action)
        if action == NodeAction.DEALLOCATE and node.state not in DEALLOCATABLE:
            raise node_not_ready(node.state, action)
        self.ctx.scheduler.node_actions.act(pool, node, action, option)
        return self.get(account, pool_id, node_id)

    def start(self, account: str, pool_id: str, node_id: str) -> Node:
        pool, node = self._live(account, pool_id, node_id)
        if node.state != N.DEALLOCATED:
            raise conflict(
                "NodeNotDeallocated", "Only a deallocated node can be started.", [("NodeState", str(node.state))]
            )
        self.ctx.scheduler.node_actions.start(pool, node)
        return self.get(account, pool_id, node_id)

    def set_scheduling(self, account: str, pool_id: str, node_id: str, enabled: bool, option: WireEnum | None) -> Node:
        pool, node = self._live(account, pool_id, node_id)
        self.ctx.scheduler.node_actions.set_scheduling(pool, node, enabled, option)
        return self.get(account, pool_id, node_id)

    def remove(self, account: str, pool_id: str, node_ids: builtins.list[str], option: WireEnum | None) -> Pool:
        pool = self._changeable(account, pool_id)
        if len(node_ids) > MAX_REMOVE:
            raise BatchError(
                400,
                "InvalidPropertyValue",
                f"At most {MAX_REMOVE} nodes can be removed in one request.",
                [("PropertyName", "nodeList"), ("PropertyValue", str(len(node_ids)))],
            )
        if pool.wire.allocation_state != AllocationState.STEADY:
            raise conflict("PoolBeingResized", "The specified pool is being resized.")
        live = self.ctx.scheduler.projection.pool(account, pool_id)
        if live is None:
            raise not_found("pool")
        for node_id in node_ids:
            if node_id not in live.nodes:
                raise BatchError(
                    400,
                    "InvalidPropertyValue",
                    "The node to remove does not belong to the pool.",
                    [("PropertyName", "nodeList"), ("PropertyValue", node_id)],
                )
        self.ctx.scheduler.node_actions.remove(live, node_ids, option)
        return live.entity

    def preempt(self, account: str, pool_id: str, node_ids: builtins.list[str] | None) -> builtins.list[str]:
        """Preempt low-priority nodes on demand (all of the pool's, or those named)."""
        self._pool(account, pool_id)
        live = self.ctx.scheduler.projection.pool(account, pool_id)
        if live is None:
            raise not_found("pool")
        targets = node_ids or [n.id for n in live.nodes.values() if not n.spec.is_dedicated]
        done = []
        for node_id in targets:
            node = live.nodes.get(node_id)
            if node is None:
                raise not_found("node")
            if node.spec.is_dedicated:
                raise conflict(
                    "NodeIsDedicated", "Only low-priority (spot) nodes can be preempted.", [("NodeId", node_id)]
                )
            if self.ctx.scheduler.preemption.preempt(live, node):
                done.append(node_id)
        return done

    # -- users --------------------------------------------------------------------------
    @staticmethod
    def _users_of(node: Node) -> str:
        return f"{node.parent}/{node.id}"

    def create_user(self, account: str, pool_id: str, node_id: str, body: BatchNodeUserCreateOptions) -> NodeUser:
        self._changeable(account, pool_id)
        node = self.get(account, pool_id, node_id)
        if node.wire.state not in USER_STATES:
            raise node_not_ready(node.wire.state, "accept users")
        users = self.ctx.store.node_users
        if users.get(account, self._users_of(node), body.name) is not None:
            raise conflict("NodeUserExists", "The specified node user already exists.", [("UserName", body.name)])
        record = NodeUserRecord(
            name=body.name, is_admin=body.is_admin, expiry_time=body.expiry_time, ssh_public_key=body.ssh_public_key
        )
        return users.insert(NodeUser(account, self._users_of(node), record))

    def replace_user(
        self, account: str, pool_id: str, node_id: str, name: str, body: BatchNodeUserReplaceOptions
    ) -> NodeUser:
        self._changeable(account, pool_id)
        node = self.get(account, pool_id, node_id)
        user = self.ctx.store.node_users.get(account, self._users_of(node), name)
        if user is None:
            raise user_not_found(name)
        user.wire.expiry_time, user.wire.ssh_public_key = body.expiry_time, body.ssh_public_key
        return self.ctx.store.node_users.update(user)

    def delete_user(self, account: str, pool_id: str, node_id: str, name: str) -> None:
        self._changeable(account, pool_id)
        node = self.get(account, pool_id, node_id)
        if self.ctx.store.node_users.get(account, self._users_of(node), name) is None:
            raise user_not_found(name)
        self.ctx.store.node_users.delete(account, self._users_of(node), name)

    # -- what a local node has instead of a VM ------------------------------------------
    def remote_login_settings(self, account: str, pool_id: str, node_id: str) -> BatchNodeRemoteLoginSettings:
        node = self.get(account, pool_id, node_id)
        return BatchNodeRemoteLoginSettings(
            remote_login_ip_address=node.wire.ip_address or "127.0.0.1", remote_login_port=22
        )

    def extensions(self, account: str, pool_id: str, node_id: str) -> builtins.list[BatchNodeVMExtension]:
        pool = self._pool(account, pool_id)
        self.get(account, pool_id, node_id)
        config = pool.wire.virtual_machine_configuration
        status = InstanceViewStatus(
            code="ProvisioningState/succeeded",
            display_status="Provisioning succeeded",
            level=StatusLevelTypes.INFO,
            time=pool.wire.creation_time,
        )
        return [
            BatchNodeVMExtension(
                provisioning_state="Succeeded",
                vm_extension=ext,
                instance_view=VMExtensionInstanceView(name=ext.name, statuses=[status]),
            )
            for ext in (config.extensions if config else None) or []
        ]

    def extension(self, account: str, pool_id: str, node_id: str, name: str) -> BatchNodeVMExtension:
        for ext in self.extensions(account, pool_id, node_id):
            if ext.vm_extension is not None and ext.vm_extension.name.lower() == name.lower():
                return ext
        raise BatchError(
            404, "NodeExtensionNotFound", "The specified node extension does not exist.", [("ExtensionName", name)]
        )

    async def upload_logs(
        self, account: str, pool_id: str, node_id: str, body: UploadBatchServiceLogsOptions
    ) -> UploadBatchServiceLogsResult:
        """Upload the node's logs to the container (in the background, as the service does)."""
        node = self.get(account, pool_id, node_id)
        _, live = self._live(account, pool_id, node_id, changing=False)
        backend = self.ctx.scheduler.backend
        summary = {k: v for k, v in sorted(to_builtins(node.wire).items()) if not isinstance(v, dict | list)}
        lines = [f"{k}: {v}" for k, v in summary.items()]
        items: builtins.list[tuple[str, Path | bytes]] = [("batchite-agent.log", ("\n".join(lines) + "\n").encode())]
        for rel in ("startup/stdout.txt", "startup/stderr.txt"):
            with contextlib.suppress(FileRefused):
                chunks = await backend.read_file(live.spec, "", rel, None, None)
                items.append((rel, b"".join([chunk async for chunk in chunks])))
        directory = f"{live.spec.pool_id}/{node.id}/{uuid.uuid4()}"
        named = [(f"{directory}/{name}", data) for name, data in items]
        future = asyncio.get_running_loop().run_in_executor(None, upload_files, body.container_url, named)
        future.add_done_callback(_log_upload_failure)
        return UploadBatchServiceLogsResult(virtual_directory_name=directory, number_of_files_uploaded=len(items))


def _log_upload_failure(future: asyncio.Future[int]) -> None:
    if future.exception() is not None:
        log.warning("uploading node logs failed: %s", future.exception())
