"""The management plane's Starlette app: the token issuer (no token needed) and the ARM routes (bearer checked)."""

from __future__ import annotations

from typing import Protocol

from starlette.applications import Starlette
from starlette.routing import Route

from batchite.mgmt.account_extras import add_account_extra_routes
from batchite.mgmt.applications import add_application_routes
from batchite.mgmt.batch_accounts import BatchAccounts, add_batch_account_routes
from batchite.mgmt.oidc import add_token_routes
from batchite.mgmt.pools import add_pool_routes
from batchite.mgmt.providers import ProviderStates, add_provider_routes
from batchite.mgmt.resource_groups import GroupDeleteHook, GroupRepository, ResourceGroups, add_group_routes
from batchite.mgmt.routing import ArmRouter
from batchite.mgmt.subscriptions import add_subscription_routes
from batchite.mgmt.tokens import TokenIssuer
from batchite.service.batch import BatchService

METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"]


class ManagementRepository(GroupRepository, ProviderStates, Protocol):
    """What the management plane persists (store.management.ManagementStore)."""


def create_mgmt_app(
    issuer: TokenIssuer,
    repository: ManagementRepository,
    group_delete_hooks: list[GroupDeleteHook] | None = None,
    batch: BatchService | None = None,
    account_endpoint: str = "",
) -> Starlette:
    """group_delete_hooks: called with (subscription id, group name) to delete what a group holds;
    batch: serve Microsoft.Batch (accounts, their applications, pools, ...) on it
    (account_endpoint: the data plane's host:port, as accounts show it)."""
    router = ArmRouter(issuer)
    add_token_routes(router)
    add_subscription_routes(router)
    add_provider_routes(router, repository)
    add_group_routes(router, ResourceGroups(repository, group_delete_hooks or []))
    if batch is not None:
        accounts = BatchAccounts(batch.batch_accounts, repository, account_endpoint)
        add_batch_account_routes(router, accounts)
        add_account_extra_routes(router, accounts, batch)
        add_application_routes(router, accounts, batch)
        add_pool_routes(router, batch, accounts)
    app = Starlette(routes=[Route("/{path:path}", router.dispatch, methods=METHODS)])
    app.state.router = router
    return app
