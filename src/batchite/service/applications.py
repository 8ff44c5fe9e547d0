"""Applications as the data plane shows them (list, get): their active versions."""

from __future__ import annotations

from batchite.domain.entities import Application
from batchite.domain.errors import not_found
from batchite.service.context import ServiceContext, require
from batchite.store.base import Page


class ApplicationService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def list(self, account: str, after: int, limit: int) -> Page[Application]:
        return self.ctx.store.applications.page(account, "", after, limit)

    def get(self, account: str, application_id: str) -> Application:
        return require(self.ctx.store.applications.get(account, "", application_id), not_found("application"))
