"""Batchite's own admin operations (not part of the Batch API): preempt low-priority nodes on
demand, and set the quotas of an account created through management (what a support request
does on Azure; the management API shows quotas but cannot change them). Setting quotas needs a
configured account's key."""

from __future__ import annotations

from starlette.responses import Response

from batchite.api import render
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.domain.errors import BatchError
from batchite.service.batch_accounts import BatchAccountError, QuotaChange
from batchite.wire.types import WireStruct, encode

router = Router()
PREEMPT = "/_batchite/admin/pools/{poolId}/preempt"
QUOTAS = "/_batchite/admin/accounts/{accountName}/quotas"


class AccountQuotaBody(WireStruct, kw_only=True):
    dedicated_core_quota: int | None = None
    low_priority_core_quota: int | None = None
    pool_quota: int | None = None
    active_job_and_job_schedule_quota: int | None = None


@router.operation("Batchite_PreemptNodes", "POST", PREEMPT, batch_api=False)
async def preempt_nodes(ctx: RequestContext) -> Response:
    body = await ctx.json_object(required=False)
    node_ids = [str(n) for n in body.get("nodeIds") or []] or None
    done = ctx.batch.nodes.preempt(ctx.account, ctx.path("poolId"), node_ids)
    return render.json_response(encode({"preemptedNodeIds": done}))


@router.operation("Batchite_SetAccountQuotas", "PUT", QUOTAS, batch_api=False)
async def set_account_quotas(ctx: RequestContext) -> Response:
    """The quotas given (the others unchanged); the account's four quotas."""
    if not ctx.batch.accounts.is_configured(ctx.account):
        raise BatchError(403, "OperationNotPermittedOnAccount", "Only a configured account may set quotas.")
    q = await ctx.body(AccountQuotaBody)
    change = QuotaChange(
        q.dedicated_core_quota, q.low_priority_core_quota, q.pool_quota, q.active_job_and_job_schedule_quota
    )
    try:
        record = ctx.batch.batch_accounts.set_quotas(ctx.path("accountName"), change)
    except BatchAccountError as err:
        raise BatchError(err.status, err.code, err.message) from None
    await ctx.batch.committed()
    return render.json_response(encode(record.quotas))
