"""Applications as the data plane shows them (list, get); the packages behind them come later."""

from __future__ import annotations

from typing import Any

from batchite.domain.errors import not_found
from batchite.service.context import Page, ServiceContext, require


class ApplicationService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @staticmethod
    def view(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": doc["id"],
            "displayName": doc.get("displayName") or doc["id"],
            "versions": doc.get("versions", []),
        }

    def list(self, account: str, after: int, limit: int) -> Page:
        return self.ctx.page(account, "application", "", after, limit)

    def get(self, account: str, application_id: str) -> dict[str, Any]:
        rec = require(self.ctx.store.get(account, "application", "", application_id), not_found("application"))
        return self.view(rec.doc)
