"""Microsoft.Batch/batchAccounts/pools over ARM: the data plane's pools through a second API.

Every operation goes through the data plane's PoolService and AutoScaleService with the account's
name, so a pool made here is the data plane's at once and the other way round. The ETag is the
data-plane pool's (`W/"0x..."` in ARM's form; `If-Match` takes either form). Create (PUT) and
update (PATCH) are synchronous (200 with the pool); PUT honours `If-Match` (`*`: only update) and
`If-None-Match: *` (only create), a miss being 412 PreconditionFailed. Delete answers 202 with
`Location` (an operation URL under the account) and `Retry-After: 1`; the operation answers 202
while the pool's nodes leave, then 200. `vmSize` and `deploymentConfiguration` may change only
on a steady pool without nodes (Azure's rule for the management plane's Pool - Update).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime

from starlette.responses import Response

from batchite.domain.entities import Pool
from batchite.domain.entities.accounts import BatchAccountRecord
from batchite.domain.errors import BatchError
from batchite.domain.ids import check_id
from batchite.mgmt.batch_accounts import ACCOUNT_PATH, BatchAccounts, account_id
from batchite.mgmt.errors import ArmError
from batchite.mgmt.paging import paged
from batchite.mgmt.pool_bodies import (
    ArmPoolProperties,
    arm_etag,
    create_options,
    package_references,
    pool_body,
    read_body,
    scale_of,
    update_options,
    vm_configuration,
)
from batchite.mgmt.pool_queries import pool_filter, pool_select
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.service.batch import BatchService
from batchite.wire.enums import AllocationState, BatchPoolState
from batchite.wire.models import (
    BatchPoolEnableAutoScaleOptions,
    BatchPoolReplaceOptions,
    BatchPoolResizeOptions,
    BatchPoolUpdateOptions,
)
from batchite.wire.types import encode

MAX_OPERATIONS = 1000  # delete operations remembered for their Location URLs

# the data plane's property names (BatchError values) as the ARM body spells them
ARM_TARGETS = {
    "id": "poolName",
    "vmSize": "properties.vmSize",
    "virtualMachineConfiguration": "properties.deploymentConfiguration.virtualMachineConfiguration",
    "targetDedicatedNodes": "properties.scaleSettings.fixedScale.targetDedicatedNodes",
    "targetLowPriorityNodes": "properties.scaleSettings.fixedScale.targetLowPriorityNodes",
    "resizeTimeout": "properties.scaleSettings.fixedScale.resizeTimeout",
    "autoScaleFormula": "properties.scaleSettings.autoScale.formula",
    "autoScaleEvaluationInterval": "properties.scaleSettings.autoScale.evaluationInterval",
    "enableInterNodeCommunication": "properties.interNodeCommunication",
    "applicationPackageReferences": "properties.applicationPackages",
}


def arm_error(err: BatchError) -> ArmError:
    """A data-plane error with its status and code; the property it names as the ARM path."""
    values = dict(err.values)
    reason = values.get("Reason")
    message = f"{err.message} {reason}" if reason else err.message
    prop = values.get("PropertyName")
    target = ARM_TARGETS.get(prop, f"properties.{prop}") if prop else None
    return ArmError(err.status, err.code, message, target)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except BatchError as err:
        raise arm_error(err) from err


def _plain(etag: str) -> str:
    """`W/"0x1"`, `"0x1"` or `0x1` -> `0x1`."""
    text = etag.strip()
    text = text.removeprefix("W/").removeprefix("w/")
    return text.strip('"')


def precondition_failed(message: str) -> ArmError:
    return ArmError(412, "PreconditionFailed", message)


def check_conditions(req: ArmRequest, pool: Pool | None) -> None:
    """If-Match (`*` or an ETag: the pool must exist and match) and If-None-Match (`*`: it must not)."""
    headers = req.request.headers
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_match is not None:
        wanted = {_plain(e) for e in if_match.split(",")}
        if pool is None:
            raise precondition_failed("The pool does not exist, and the request has an If-Match condition.")
        if "*" not in wanted and pool.etag not in wanted:
            raise precondition_failed(
                f"The ETag given in If-Match ({if_match}) does not match the pool's current ETag ({arm_etag(pool)})."
            )
    if if_none is not None and pool is not None:
        given = {_plain(e) for e in if_none.split(",")}
        if "*" in given:
            raise precondition_failed("The pool already exists, and the request has If-None-Match: *.")
        if pool.etag in given:
            raise precondition_failed(f"The pool's ETag matches the If-None-Match condition ({if_none}).")


class Pools:
    def __init__(self, batch: BatchService, accounts: BatchAccounts) -> None:
        self.batch = batch
        self.accounts = accounts
        self.deletes: dict[str, tuple[str, str, datetime]] = {}  # operation -> account, pool id, creation time

    # -- helpers --------------------------------------------------------------------------
    def _find(self, account: str, pool_name: str) -> Pool | None:
        try:
            return self.batch.pools.get(account, pool_name)
        except BatchError as err:
            if err.status == 404:
                return None
            raise arm_error(err) from err

    def _pool(self, record: BatchAccountRecord, pool_name: str) -> Pool:
        with translated():
            return self.batch.pools.get(record.name, pool_name)

    async def _answer(self, record: BatchAccountRecord, pool: Pool) -> Response:
        await self.batch.committed()
        fresh = self._find(record.name, pool.id) or pool
        return json_response(pool_body(fresh, account_id(record)), headers={"ETag": arm_etag(fresh)})

    # -- operations -----------------------------------------------------------------------
    async def get(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        pool = self._pool(record, req.params["poolName"])
        return json_response(pool_body(pool, account_id(record)), headers={"ETag": arm_etag(pool)})

    async def list(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        query = req.request.query_params
        keep = pool_filter(query.get("$filter"))
        select = pool_select(query.get("$select"))
        pools: list[Pool] = []
        after = 0
        while True:
            page = self.batch.pools.list(record.name, after, 1000)
            pools.extend(page.items)
            if page.next_after is None:
                break
            after = page.next_after
        owner = account_id(record)
        bodies = [pool_body(p, owner) for p in pools]
        if keep is not None:
            bodies = [b for b in bodies if keep(b)]
        return json_response(paged(req, bodies, select or (lambda b: b)))

    async def create(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        with translated():
            name = check_id(req.params["poolName"], "id")
        props = read_body(await req.request.body())
        existing = self._find(record.name, name)
        check_conditions(req, existing)
        if existing is None:
            options = create_options(name, props)
            with translated():
                pool = self.batch.pools.create(record.name, options)
            return await self._answer(record, pool)
        self._check_immutable(existing, props)
        with translated():
            self.batch.pools.replace_properties(
                record.name,
                existing.id,
                BatchPoolReplaceOptions(
                    start_task=props.start_task,
                    application_package_references=package_references(props) or [],
                    metadata=props.metadata or [],
                ),
            )
        return await self._change(record, existing, props, replaced=True)

    async def update(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        props = read_body(await req.request.body())
        existing = self._pool(record, req.params["poolName"])
        check_conditions(req, existing)
        self._check_immutable(existing, props)
        return await self._change(record, existing, props, replaced=False)

    async def _change(
        self, record: BatchAccountRecord, pool: Pool, props: ArmPoolProperties, replaced: bool
    ) -> Response:
        account = record.name
        options = update_options(props)
        if replaced:  # set already by replace_properties
            options.start_task = options.application_package_references = options.metadata = None
        scale = scale_of(props)
        with translated():
            if encode(options) != encode(BatchPoolUpdateOptions()):
                self.batch.pools.update(account, pool.id, options)
            if scale.auto_scale is not None:
                auto = scale.auto_scale
                self.batch.autoscale.enable(
                    account,
                    pool.id,
                    BatchPoolEnableAutoScaleOptions(
                        auto_scale_formula=auto.formula, auto_scale_evaluation_interval=auto.evaluation_interval
                    ),
                )
            elif scale.fixed_scale is not None:
                fixed = scale.fixed_scale
                if self.batch.pools.get(account, pool.id).wire.enable_auto_scale:
                    self.batch.autoscale.disable(account, pool.id)
                wire = self.batch.pools.get(account, pool.id).wire
                dedicated = fixed.target_dedicated_nodes
                low = fixed.target_low_priority_nodes
                same = (dedicated is None or dedicated == wire.target_dedicated_nodes) and (
                    low is None or low == wire.target_low_priority_nodes
                )
                if not (same and wire.allocation_state == AllocationState.STEADY and fixed.resize_timeout is None):
                    self.batch.pools.resize(
                        account,
                        pool.id,
                        BatchPoolResizeOptions(
                            target_dedicated_nodes=dedicated,
                            target_low_priority_nodes=low,
                            resize_timeout=fixed.resize_timeout,
                            node_deallocation_option=fixed.node_deallocation_option,
                        ),
                    )
            pool = self.batch.pools.get(account, pool.id)
        return await self._answer(record, pool)

    @staticmethod
    def _check_immutable(pool: Pool, props: ArmPoolProperties) -> None:
        """vmSize and deploymentConfiguration change only on a steady pool without nodes."""
        wire = pool.wire
        changes = []
        if props.vm_size is not None and props.vm_size.lower() != wire.vm_size.lower():
            changes.append("vmSize")
        config = vm_configuration(props.deployment_configuration)
        if config is not None and config.image_reference.version is None:
            config.image_reference.version = "latest"  # as the data plane defaults it
        if config is not None and encode(config) != encode(wire.virtual_machine_configuration):
            changes.append("deploymentConfiguration")
        empty = (
            wire.allocation_state == AllocationState.STEADY
            and not wire.current_dedicated_nodes
            and not wire.current_low_priority_nodes
            and not wire.target_dedicated_nodes
            and not wire.target_low_priority_nodes
            and not wire.enable_auto_scale
        )
        if changes and not empty:
            raise ArmError(
                400,
                "PropertyCannotBeUpdated",
                f"The property '{changes[0]}' can only be changed when the pool is steady and has no nodes "
                "(target and current dedicated and low-priority nodes all 0).",
                target=f"properties.{changes[0]}",
            )

    async def disable_auto_scale(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        with translated():
            pool = self.batch.autoscale.disable(record.name, req.params["poolName"])
        return await self._answer(record, pool)

    async def stop_resize(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        with translated():
            pool = self.batch.pools.stop_resize(record.name, req.params["poolName"])
        return await self._answer(record, pool)

    async def delete(self, req: ArmRequest) -> Response:
        record = await self.accounts.account_of(req)
        pool = self._find(record.name, req.params["poolName"])
        if pool is None:
            return Response(status_code=204)
        if pool.wire.state != BatchPoolState.DELETING:
            with translated():
                self.batch.pools.delete(record.name, pool.id)
            await self.batch.committed()
        operation = str(uuid.uuid4())
        self.deletes[operation] = (record.name, pool.id, pool.wire.creation_time)
        while len(self.deletes) > MAX_OPERATIONS:
            del self.deletes[next(iter(self.deletes))]
        return self._in_progress(req, operation)

    def _in_progress(self, req: ArmRequest, operation: str) -> Response:
        p = req.params
        location = (
            f"{req.base_url}/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
            f"/providers/Microsoft.Batch/batchAccounts/{p['accountName']}/poolOperationResults/{operation}"
            f"?api-version={req.api_version}"
        )
        return Response(status_code=202, headers={"Location": location, "Retry-After": "1"})

    async def operation_result(self, req: ArmRequest) -> Response:
        await self.accounts.account_of(req)
        found = self.deletes.get(req.params["operationId"].lower())
        if found is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{req.params['operationId']}' was not found.")
        account, pool_id, created = found
        pool = self._find(account, pool_id)
        if pool is not None and pool.wire.creation_time == created:
            return self._in_progress(req, req.params["operationId"].lower())
        return Response(status_code=200)


def add_pool_routes(router: ArmRouter, batch: BatchService, accounts: BatchAccounts) -> None:
    pools = Pools(batch, accounts)
    account = ACCOUNT_PATH
    one = account + "/pools/{poolName}"
    router.add("GET", account + "/pools", pools.list)
    router.add("GET", one, pools.get)
    router.add("PUT", one, pools.create)
    router.add("PATCH", one, pools.update)
    router.add("DELETE", one, pools.delete)
    router.add("POST", one + "/disableAutoScale", pools.disable_auto_scale)
    router.add("POST", one + "/stopResize", pools.stop_resize)
    router.add("GET", account + "/poolOperationResults/{operationId}", pools.operation_result)
