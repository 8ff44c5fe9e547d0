"""Microsoft.Batch/batchAccounts/pools through azure-mgmt-batch 19.0.0 on an ARM-created account, and
the same pools through azure-batch: create either way and see it the other way, scale and autoscale
through PATCH, stop resize, ETags (If-Match, If-None-Match), list paging, $filter and $select, the
delete LRO, and the errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from batchite.cli.server import ChildServer
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tokens import MANAGEMENT_SCOPE
from tests.conftest import make_client, wait_for
from tests.mgmt.conftest import batch_client_for
from tests.mgmt.test_batch_accounts import BATCH_API, create_account, name, new_group
from tests.sdk import job_options, pool_options, task_options

VM = "standard_d2s_v3"
IMAGE: dict[str, Any] = {
    "virtualMachineConfiguration": {
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts",
            "version": "latest",
        },
        "nodeAgentSkuId": "batch.node.ubuntu 22.04",
    }
}


def arm_pool(dedicated: int = 0, **properties: Any) -> dict[str, Any]:
    return {
        "properties": {
            "vmSize": VM,
            "deploymentConfiguration": IMAGE,
            "scaleSettings": {"fixedScale": {"targetDedicatedNodes": dedicated}},
            **properties,
        }
    }


class Account:
    def __init__(self, mgmt: Any, group: str, name: str, data: Any) -> None:
        self.mgmt = mgmt
        self.group = group
        self.name = name
        self.data = data  # azure-batch BatchClient with the account's key

    @property
    def pools(self) -> Any:
        return self.mgmt.pool

    def create(self, pool: str, body: dict[str, Any], **kw: Any) -> Any:
        return self.mgmt.pool.create(self.group, self.name, pool, body, **kw)

    def update(self, pool: str, body: dict[str, Any], **kw: Any) -> Any:
        return self.mgmt.pool.update(self.group, self.name, pool, body, **kw)

    def get(self, pool: str) -> Any:
        return self.mgmt.pool.get(self.group, self.name, pool)

    def path(self, pool: str = "") -> str:
        return (
            f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{self.group}/providers/Microsoft.Batch/"
            f"batchAccounts/{self.name}" + (f"/pools/{pool}" if pool else "")
        )


def make_account(server: ChildServer, mgmt: Any, resources: Any, prefix: str) -> Account:
    group = new_group(resources, "eastus")
    account = name(prefix)
    create_account(mgmt, group, account, "eastus")
    key = mgmt.batch_account.get_keys(group, account).primary
    ca = server.ca_path if server.endpoint.startswith("https") else None
    return Account(mgmt, group, account, make_client(server.endpoint, account, key, ca))


@pytest.fixture(scope="module")
def acct(mgmt_server: ChildServer, credential: Any, resources: Any) -> Iterator[Account]:
    mgmt = batch_client_for(mgmt_server, credential)
    account = make_account(mgmt_server, mgmt, resources, "pools")
    yield account
    account.data.close()
    resources.resource_groups.begin_delete(account.group).result()
    mgmt.close()


def arm_error(err: HttpResponseError) -> tuple[int | None, str | None, str | None]:
    """The status, ARM error code and target of a refused call."""
    assert err.error is not None
    return err.status_code, err.error.code, err.error.target


def steady(account: Account, pool: str, dedicated: int) -> Any:
    def probe() -> Any:
        p = account.data.get_pool(pool)
        return p if p.allocation_state == "steady" and p.current_dedicated_nodes == dedicated else None

    return wait_for(probe, timeout=60)


def test_a_pool_created_through_arm_is_the_data_planes(acct: Account) -> None:
    created = acct.create(
        "arm-made",
        arm_pool(1, metadata=[{"name": "team", "value": "blue"}], taskSlotsPerNode=2, displayName="made by ARM"),
    )
    assert created.name == "arm-made" and created.type == "Microsoft.Batch/batchAccounts/pools"
    assert created.id == acct.path("arm-made")
    props = created.properties
    assert props.provisioning_state == "Succeeded" and props.vm_size == VM
    assert props.scale_settings.fixed_scale.target_dedicated_nodes == 1
    assert props.deployment_configuration.virtual_machine_configuration.node_agent_sku_id == "batch.node.ubuntu 22.04"
    assert props.task_slots_per_node == 2 and props.display_name == "made by ARM"
    assert props.inter_node_communication == "Disabled"
    assert props.task_scheduling_policy.node_fill_type == "Spread"
    assert created.etag.startswith('W/"')

    seen = acct.data.get_pool("arm-made")
    assert (seen.id, seen.vm_size, seen.target_dedicated_nodes, seen.task_slots_per_node) == ("arm-made", VM, 1, 2)
    assert [(m.name, m.value) for m in seen.metadata] == [("team", "blue")]
    wait_for(lambda: [n for n in acct.data.list_nodes("arm-made") if n.state == "idle"], timeout=60)
    steady(acct, "arm-made", 1)

    acct.data.create_job(job_options("arm-job", "arm-made"))
    acct.data.create_task("arm-job", task_options("t1", "/bin/sh -c 'echo hello'"))
    done = wait_for(lambda: (t := acct.data.get_task("arm-job", "t1")).state == "completed" and t, timeout=60)
    assert done.execution_info.exit_code == 0

    # The same PUT again on the pool with its node is an update that changes nothing (the image's
    # version left out is the "latest" it defaulted to).
    unversioned = {"virtualMachineConfiguration": {**IMAGE["virtualMachineConfiguration"]}}
    unversioned["virtualMachineConfiguration"]["imageReference"] = {
        k: v for k, v in IMAGE["virtualMachineConfiguration"]["imageReference"].items() if k != "version"
    }
    again = acct.create(
        "arm-made",
        arm_pool(
            1, metadata=[{"name": "team", "value": "blue"}], taskSlotsPerNode=2, deploymentConfiguration=unversioned
        ),
    )
    assert again.properties.scale_settings.fixed_scale.target_dedicated_nodes == 1

    got = acct.get("arm-made")
    assert got.properties.current_dedicated_nodes == 1 and got.properties.allocation_state == "Steady"
    assert got.etag == f'W/"{acct.data.get_pool("arm-made").etag}"'


def test_a_data_plane_pool_is_seen_through_arm(acct: Account) -> None:
    acct.data.create_pool(pool_options("dp-made", dedicated=0, metadata=[{"name": "k", "value": "v"}]))
    got = acct.get("dp-made")
    assert got.id == acct.path("dp-made")
    props = got.properties
    assert props.vm_size == VM and props.provisioning_state == "Succeeded"
    image = props.deployment_configuration.virtual_machine_configuration.image_reference
    assert (image.publisher, image.sku, image.version) == ("canonical", "22_04-lts", "latest")
    assert props.scale_settings.fixed_scale.target_dedicated_nodes == 0
    assert props.scale_settings.fixed_scale.resize_timeout.total_seconds() == 15 * 60
    assert [(m.name, m.value) for m in props.metadata] == [("k", "v")]
    assert got.etag == f'W/"{acct.data.get_pool("dp-made").etag}"'
    assert "dp-made" in [p.name for p in acct.pools.list_by_batch_account(acct.group, acct.name)]


def test_scale_and_autoscale_through_patch(acct: Account) -> None:
    acct.create("scaled", arm_pool(0))
    resized = acct.update("scaled", {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2}}}})
    assert resized.properties.scale_settings.fixed_scale.target_dedicated_nodes == 2
    assert acct.data.get_pool("scaled").target_dedicated_nodes == 2
    steady(acct, "scaled", 2)

    formula = "$TargetDedicatedNodes = 1;"
    auto = acct.update(
        "scaled", {"properties": {"scaleSettings": {"autoScale": {"formula": formula, "evaluationInterval": "PT5M"}}}}
    )
    assert auto.properties.scale_settings.auto_scale.formula == formula
    assert auto.properties.scale_settings.fixed_scale is None
    seen = acct.data.get_pool("scaled")
    assert seen.enable_auto_scale is True and seen.auto_scale_formula == formula
    steady(acct, "scaled", 1)
    run = acct.get("scaled").properties.auto_scale_run
    assert run is not None and "$TargetDedicatedNodes=1" in (run.results or "")

    disabled = acct.pools.disable_auto_scale(acct.group, acct.name, "scaled")
    assert disabled.properties.scale_settings.auto_scale is None
    assert disabled.properties.scale_settings.fixed_scale is not None
    assert acct.data.get_pool("scaled").enable_auto_scale is False


def test_stop_resize(acct: Account) -> None:
    acct.create("stopped", arm_pool(0))
    acct.update("stopped", {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 3}}}})
    stopped = acct.pools.stop_resize(acct.group, acct.name, "stopped")
    assert stopped.properties.allocation_state in ("Stopping", "Steady")
    pool = wait_for(lambda: (p := acct.data.get_pool("stopped")).allocation_state == "steady" and p, timeout=60)
    assert pool.current_dedicated_nodes <= 3
    assert acct.get("stopped").properties.allocation_state == "Steady"


def test_etags_and_conditions(acct: Account) -> None:
    first = acct.create("tagged", arm_pool(0))
    assert first.etag == f'W/"{acct.data.get_pool("tagged").etag}"'
    changed = acct.update(
        "tagged",
        {"properties": {"metadata": [{"name": "a", "value": "1"}]}},
        etag=first.etag,
        match_condition=MatchConditions.IfNotModified,
    )
    assert changed.etag != first.etag
    assert [(m.name, m.value) for m in acct.data.get_pool("tagged").metadata] == [("a", "1")]

    with pytest.raises(ResourceModifiedError) as stale:
        acct.update(
            "tagged", {"properties": {"metadata": []}}, etag=first.etag, match_condition=MatchConditions.IfNotModified
        )
    assert arm_error(stale.value)[:2] == (412, "PreconditionFailed")
    with pytest.raises(ResourceExistsError) as exists:
        acct.create("tagged", arm_pool(0), match_condition=MatchConditions.IfMissing)
    assert arm_error(exists.value)[:2] == (412, "PreconditionFailed")
    with pytest.raises(ResourceNotFoundError) as absent:
        acct.create("never-made", arm_pool(0), match_condition=MatchConditions.IfPresent)
    assert absent.value.status_code == 412
    with pytest.raises(ResourceNotFoundError):
        acct.get("never-made")

    # If-Match: * updates an existing pool through PUT; the data plane's ETag moves with it.
    replaced = acct.create(
        "tagged", arm_pool(0, metadata=[{"name": "b", "value": "2"}]), match_condition=MatchConditions.IfPresent
    )
    assert [(m.name, m.value) for m in replaced.properties.metadata] == [("b", "2")]
    assert replaced.etag == f'W/"{acct.data.get_pool("tagged").etag}"'


def test_list_paging_filter_and_select(
    mgmt_server: ChildServer, credential: Any, resources: Any, https: httpx.Client
) -> None:
    mgmt = batch_client_for(mgmt_server, credential)
    account = make_account(mgmt_server, mgmt, resources, "lists")
    for i in range(5):
        account.data.create_pool(pool_options(f"lst-{i}", dedicated=0))
    account.create("other", arm_pool(0))

    pages = list(mgmt.pool.list_by_batch_account(account.group, account.name, maxresults=2).by_page())
    assert [len(list(p)) for p in pages] == [2, 2, 2]
    listed = [p.name for p in mgmt.pool.list_by_batch_account(account.group, account.name, maxresults=2)]
    assert listed == ["lst-0", "lst-1", "lst-2", "lst-3", "lst-4", "other"]

    found = mgmt.pool.list_by_batch_account(account.group, account.name, filter="startswith(name, 'LST-')")
    assert sorted(p.name for p in found) == [f"lst-{i}" for i in range(5)]
    both = mgmt.pool.list_by_batch_account(
        account.group, account.name, filter="name eq 'other' and properties/allocationState eq 'Steady'"
    )
    assert [p.name for p in both] == ["other"]
    none = mgmt.pool.list_by_batch_account(
        account.group, account.name, filter="properties/provisioningState eq 'Deleting'"
    )
    assert list(none) == []
    grouped = mgmt.pool.list_by_batch_account(
        account.group,
        account.name,
        filter="not (name eq 'lst-0' or name eq 'lst-1') and properties/creationTime gt 2000-01-01T00:00:00Z"
        " and properties/scaleSettings/autoScale eq null",
    )
    assert [p.name for p in grouped] == ["lst-2", "lst-3", "lst-4", "other"]

    selected = list(mgmt.pool.list_by_batch_account(account.group, account.name, select="properties/vmSize"))
    assert len(selected) == 6 and all(p.properties.vm_size == VM for p in selected)
    assert all(p.properties.deployment_configuration is None and p.id and p.etag for p in selected)

    with pytest.raises(HttpResponseError) as bad_filter:
        list(mgmt.pool.list_by_batch_account(account.group, account.name, filter="properties/foo eq 'x'"))
    assert arm_error(bad_filter.value)[:2] == (400, "InvalidFilter")
    with pytest.raises(HttpResponseError) as bad_select:
        list(mgmt.pool.list_by_batch_account(account.group, account.name, select="vmSize"))
    assert arm_error(bad_select.value)[:2] == (400, "InvalidSelect")
    account.data.close()
    resources.resource_groups.begin_delete(account.group).result()
    mgmt.close()


def test_delete_is_a_long_running_operation(acct: Account) -> None:
    acct.create("doomed", arm_pool(1))
    steady(acct, "doomed", 1)
    poller = acct.pools.begin_delete(acct.group, acct.name, "doomed")
    try:
        during = acct.get("doomed")
        assert during.properties.provisioning_state == "Deleting"
    except ResourceNotFoundError:
        pass  # already gone: the node left within the node release time
    poller.result()
    assert poller.status() == "Succeeded"
    with pytest.raises(ResourceNotFoundError) as gone:
        acct.get("doomed")
    assert arm_error(gone.value)[1] == "PoolNotFound"
    with pytest.raises(HttpResponseError) as data_gone:
        acct.data.get_pool("doomed")
    assert data_gone.value.status_code == 404
    assert "doomed" not in [p.name for p in acct.pools.list_by_batch_account(acct.group, acct.name)]
    acct.pools.begin_delete(acct.group, acct.name, "doomed").result()  # deleting what is gone: 204


def test_the_delete_operation_protocol(acct: Account, https: httpx.Client, credential: Any) -> None:
    acct.create("raw-doomed", arm_pool(1))
    steady(acct, "raw-doomed", 1)
    auth = {"Authorization": f"Bearer {credential.get_token(MANAGEMENT_SCOPE).token}"}
    started = https.delete(f"{acct.path('raw-doomed')}?api-version={BATCH_API}", headers=auth)
    assert started.status_code == 202 and started.content == b""
    assert int(started.headers["Retry-After"]) >= 1
    location = started.headers["Location"]
    assert location.startswith("https://") and "/poolOperationResults/" in location
    again = https.delete(f"{acct.path('raw-doomed')}?api-version={BATCH_API}", headers=auth)
    assert again.status_code in (202, 204)
    assert wait_for(lambda: https.get(location, headers=auth).status_code == 200, timeout=60)
    gone = https.get(f"{acct.path('raw-doomed')}?api-version={BATCH_API}", headers=auth)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "PoolNotFound"
    unknown = https.get(location.replace("/poolOperationResults/", "/poolOperationResults/x"), headers=auth)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "OperationNotFound"


def test_errors(acct: Account, https: httpx.Client, credential: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as unknown:
        acct.get("no-such-pool")
    assert arm_error(unknown.value)[:2] == (404, "PoolNotFound")
    with pytest.raises(ResourceNotFoundError) as no_account:
        acct.mgmt.pool.get(acct.group, "nosuchaccount", "p")
    assert arm_error(no_account.value)[1] == "ResourceNotFound"

    def refused(pool: str, body: dict[str, Any]) -> tuple[int | None, str | None, str | None]:
        with pytest.raises(HttpResponseError) as err:
            acct.create(pool, body)
        return arm_error(err.value)

    assert refused("bad name!", arm_pool(0))[:2] == (400, "InvalidPropertyValue")
    assert refused("no-size", {"properties": {"deploymentConfiguration": IMAGE}}) == (
        400,
        "InvalidRequestContent",
        "properties.vmSize",
    )
    status, code, target = refused(
        "bad-count", {"properties": {"vmSize": VM, "scaleSettings": {"fixedScale": {"targetDedicatedNodes": "many"}}}}
    )
    assert (status, code) == (400, "InvalidRequestContent") and "targetDedicatedNodes" in (target or "")
    assert refused("no-image", {"properties": {"vmSize": VM}})[:2] == (400, "MissingRequiredProperty")
    assert refused("bad-size", arm_pool(0) | {"properties": {**arm_pool(0)["properties"], "vmSize": "huge"}})[0] == 400
    both = arm_pool(0)
    both["properties"]["scaleSettings"]["autoScale"] = {"formula": "$TargetDedicatedNodes = 0;"}
    assert refused("both-scales", both)[:2] == (400, "InvalidRequestContent")
    bad_formula = arm_pool(0)
    bad_formula["properties"]["scaleSettings"] = {"autoScale": {"formula": "$TargetDedicatedNodes = ;"}}
    assert refused("bad-formula", bad_formula)[0] == 400

    # vmSize and the image change only while the pool has no nodes.
    acct.create("fixed-size", arm_pool(1))
    with pytest.raises(HttpResponseError) as immutable:
        acct.update("fixed-size", {"properties": {"vmSize": "standard_d4s_v3"}})
    assert arm_error(immutable.value)[:2] == (400, "PropertyCannotBeUpdated")
    assert arm_error(immutable.value)[2] == "properties.vmSize"
    acct.create("empty-size", arm_pool(0))
    assert acct.update("empty-size", {"properties": {"vmSize": "standard_d4s_v3"}}).properties.vm_size == (
        "standard_d4s_v3"
    )

    token = credential.get_token(MANAGEMENT_SCOPE).token
    url = f"{acct.path('raw-pool')}?api-version={BATCH_API}"
    garbled = https.put(url, content=b"{not json", headers={"Authorization": f"Bearer {token}"})
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "InvalidRequestContent"
    with pytest.raises(ResourceNotFoundError):
        acct.get("raw-pool")
    missing_patch = https.patch(url, json={"properties": {}}, headers={"Authorization": f"Bearer {token}"})
    assert missing_patch.status_code == 404 and missing_patch.json()["error"]["code"] == "PoolNotFound"


def test_start_task_users_and_policies_in_arm_spelling(acct: Account, https: httpx.Client, credential: Any) -> None:
    start_task = {
        "commandLine": "/bin/true",
        "userIdentity": {"autoUser": {"scope": "Pool", "elevationLevel": "Admin"}},
        "maxTaskRetryCount": 1,
        "waitForSuccess": True,
    }
    users = [{"name": "worker", "password": "S3cret-pass", "elevationLevel": "NonAdmin"}]
    acct.create(
        "spelled",
        arm_pool(
            0,
            startTask=start_task,
            userAccounts=users,
            interNodeCommunication="Enabled",
            taskSchedulingPolicy={"nodeFillType": "Pack"},
        ),
    )
    seen = acct.data.get_pool("spelled")
    assert seen.start_task.user_identity.auto_user.scope == "pool"
    assert seen.start_task.user_identity.auto_user.elevation_level == "admin"
    assert seen.enable_inter_node_communication is True and seen.task_scheduling_policy.node_fill_type == "pack"
    assert [u.name for u in seen.user_accounts] == ["worker"]

    token = credential.get_token(MANAGEMENT_SCOPE).token
    raw = https.get(f"{acct.path('spelled')}?api-version={BATCH_API}", headers={"Authorization": f"Bearer {token}"})
    assert raw.status_code == 200 and raw.headers["ETag"] == raw.json()["etag"]
    props = raw.json()["properties"]
    assert props["startTask"]["userIdentity"] == {"autoUser": {"scope": "Pool", "elevationLevel": "Admin"}}
    assert props["startTask"]["waitForSuccess"] is True and props["startTask"]["maxTaskRetryCount"] == 1
    assert props["userAccounts"] == [{"name": "worker", "elevationLevel": "NonAdmin"}]  # no password shown
    assert props["interNodeCommunication"] == "Enabled" and props["taskSchedulingPolicy"] == {"nodeFillType": "Pack"}
    assert props["allocationState"] == "Steady" and props["provisioningState"] == "Succeeded"

    # PUT on an existing pool replaces what it leaves out: the start task goes.
    replaced = acct.create("spelled", arm_pool(0))
    assert replaced.properties.start_task is None and acct.data.get_pool("spelled").start_task is None
