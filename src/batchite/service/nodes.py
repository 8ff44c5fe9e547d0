"""Compute nodes: list and get (the scheduler owns their lifecycle)."""

from __future__ import annotations

from typing import Any

from batchite.domain.errors import not_found
from batchite.service.context import Page, ServiceContext, require
from batchite.store.base import Record


class NodeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _pool(self, account: str, pool_id: str) -> Record:
        return require(self.ctx.store.get(account, "pool", "", pool_id), not_found("pool"))

    def list(
        self, account: str, pool_id: str, after: int, limit: int, where: str = "", params: tuple[Any, ...] = ()
    ) -> Page:
        pool = self._pool(account, pool_id)
        return self.ctx.page(account, "node", pool.key, after, limit, where, params)

    def get(self, account: str, pool_id: str, node_id: str) -> Record:
        pool = self._pool(account, pool_id)
        return require(self.ctx.store.get(account, "node", pool.key, node_id), not_found("node"))
