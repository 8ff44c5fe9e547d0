"""The management plane's Starlette app: the token issuer (no token needed) and the ARM routes (bearer checked)."""

from __future__ import annotations

from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from batchite.domain.entities.accounts import CONFIGURED_LOCATION, CONFIGURED_RESOURCE_GROUP, DEV_SUBSCRIPTION_ID
from batchite.domain.resource_groups import ResourceGroup
from batchite.mgmt.account_extras import add_account_extra_routes
from batchite.mgmt.applications import add_application_routes
from batchite.mgmt.batch_accounts import BatchAccounts, add_batch_account_routes
from batchite.mgmt.metadata import add_metadata_routes
from batchite.mgmt.oidc import add_token_routes
from batchite.mgmt.pools import add_pool_routes
from batchite.mgmt.providers import ProviderStates, add_provider_routes
from batchite.mgmt.resource_groups import GroupRepository, ResourceGroups, add_group_routes
from batchite.mgmt.routing import ArmRouter
from batchite.mgmt.subscriptions import add_subscription_routes
from batchite.mgmt.tokens import TokenIssuer
from batchite.service.batch import BatchService
from batchite.version_header import VersionHeader

METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"]


class ManagementRepository(GroupRepository, ProviderStates, Protocol):
    """What the management plane persists (store.management.ManagementStore)."""


def create_mgmt_app(
    issuer: TokenIssuer,
    repository: ManagementRepository,
    batch: BatchService | None = None,
    account_endpoint: str = "",
) -> Starlette:
    """batch: serve Microsoft.Batch (accounts, their applications, pools, ...) on it, every change
    on disk before its answer (account_endpoint: the data plane's host:port, as accounts show it);
    deleting a resource group deletes its accounts, and the configured accounts' group cannot be."""
    router = ArmRouter(issuer, committed=batch.committed if batch is not None else None)
    add_token_routes(router)
    add_metadata_routes(router)
    add_subscription_routes(router)
    add_provider_routes(router, repository)
    if batch is None:
        add_group_routes(router, ResourceGroups(repository, []))
    else:
        service = batch.batch_accounts
        ensure_configured_group(repository)
        groups = ResourceGroups(repository, [service.delete_resource_group], service.group_is_locked)
        add_group_routes(router, groups)
        linked = batch.ctx.storage.account_name if batch.ctx.storage is not None else None
        accounts = BatchAccounts(service, repository, account_endpoint, linked)
        add_batch_account_routes(router, accounts)
        add_account_extra_routes(router, accounts, batch)
        add_application_routes(router, accounts, batch)
        add_pool_routes(router, batch, accounts)
    app = Starlette(
        routes=[Route("/{path:path}", router.dispatch, methods=METHODS)], middleware=[Middleware(VersionHeader)]
    )
    app.state.router = router
    return app


def ensure_configured_group(repository: ManagementRepository) -> None:
    """The resource group of the configured accounts, made on first start (blocking: before serving)."""
    if repository.get_group(DEV_SUBSCRIPTION_ID, CONFIGURED_RESOURCE_GROUP) is None:
        repository.put_group(
            ResourceGroup(
                DEV_SUBSCRIPTION_ID,
                CONFIGURED_RESOURCE_GROUP,
                CONFIGURED_LOCATION,
                {"batchite": "the configured accounts (BATCHITE_ACCOUNTS, the development account)"},
            )
        )
