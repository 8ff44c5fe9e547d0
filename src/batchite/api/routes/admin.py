"""Batchite's own admin operations (not part of the Batch API): preempt low-priority nodes on
demand, and Batch accounts (create, read, regenerate a key, delete) until the management API
serves them. The account operations are for the configured accounts' keys only."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import render
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.domain.entities.accounts import BatchAccountRecord
from batchite.domain.errors import BatchError
from batchite.service.batch_accounts import BatchAccountError, BatchAccountService, QuotaChange
from batchite.wire.types import WireStruct, encode

router = Router()
PREEMPT = "/_batchite/admin/pools/{poolId}/preempt"
ACCOUNT = "/_batchite/admin/accounts/{accountName}"
ADMIN_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ADMIN_RESOURCE_GROUP = "batchite"


class AccountQuotaBody(WireStruct, kw_only=True):
    dedicated_core_quota: int | None = None
    low_priority_core_quota: int | None = None
    pool_quota: int | None = None
    active_job_and_job_schedule_quota: int | None = None


class AccountBody(WireStruct, kw_only=True):
    location: str = "local"
    subscription_id: str = ADMIN_SUBSCRIPTION
    resource_group: str = ADMIN_RESOURCE_GROUP
    tags: dict[str, str] | None = None
    quotas: AccountQuotaBody | None = None


class KeyBody(WireStruct, kw_only=True):
    key_name: str = ""


@router.operation("Batchite_PreemptNodes", "POST", PREEMPT, batch_api=False)
async def preempt_nodes(ctx: RequestContext) -> Response:
    body = await ctx.json_object(required=False)
    node_ids = [str(n) for n in body.get("nodeIds") or []] or None
    done = ctx.batch.nodes.preempt(ctx.account, ctx.path("poolId"), node_ids)
    return render.json_response(encode({"preemptedNodeIds": done}))


def _accounts(ctx: RequestContext) -> BatchAccountService:
    if not ctx.batch.accounts.is_configured(ctx.account):
        raise BatchError(403, "OperationNotPermittedOnAccount", "Only a configured account may manage accounts.")
    return ctx.batch.batch_accounts


def _shown(record: BatchAccountRecord) -> Response:
    return render.json_response(encode(record))


def _refused(err: BatchAccountError) -> BatchError:
    return BatchError(err.status, err.code, err.message)


def _where(ctx: RequestContext) -> tuple[str, str]:
    return ctx.query.get("subscriptionid") or ADMIN_SUBSCRIPTION, ctx.query.get("resourcegroup") or ADMIN_RESOURCE_GROUP


@router.operation("Batchite_CreateAccount", "PUT", ACCOUNT, batch_api=False)
async def create_account(ctx: RequestContext) -> Response:
    accounts = _accounts(ctx)
    body = await ctx.body(AccountBody, required=False)
    name = ctx.path("accountName")
    try:
        accounts.create(body.subscription_id, body.resource_group, name, body.location, body.tags)
        q = body.quotas or AccountQuotaBody()
        change = QuotaChange(
            q.dedicated_core_quota, q.low_priority_core_quota, q.pool_quota, q.active_job_and_job_schedule_quota
        )
        record = accounts.update(body.subscription_id, body.resource_group, name, quotas=change)
    except BatchAccountError as err:
        raise _refused(err) from None
    await ctx.batch.committed()
    return _shown(record)


@router.operation("Batchite_GetAccount", "GET", ACCOUNT, batch_api=False)
async def get_account(ctx: RequestContext) -> Response:
    try:
        return _shown(_accounts(ctx).get(*_where(ctx), ctx.path("accountName")))
    except BatchAccountError as err:
        raise _refused(err) from None


@router.operation("Batchite_RegenerateAccountKey", "POST", ACCOUNT + "/regenerateKeys", batch_api=False)
async def regenerate_key(ctx: RequestContext) -> Response:
    accounts = _accounts(ctx)
    body = await ctx.body(KeyBody)
    try:
        record = accounts.regenerate_key(*_where(ctx), ctx.path("accountName"), body.key_name)
    except BatchAccountError as err:
        raise _refused(err) from None
    await ctx.batch.committed()
    return _shown(record)


@router.operation("Batchite_DeleteAccount", "DELETE", ACCOUNT, batch_api=False)
async def delete_account(ctx: RequestContext) -> Response:
    try:
        await _accounts(ctx).delete(*_where(ctx), ctx.path("accountName"))
    except BatchAccountError as err:
        raise _refused(err) from None
    await ctx.batch.committed()
    return Response(status_code=200)
