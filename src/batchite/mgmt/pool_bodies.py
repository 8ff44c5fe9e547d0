"""The ARM Pool model (azure-mgmt-batch 19.0.0's `Pool`) and its conversion to and from the data plane's.

ARM pools are the data plane's pools seen through a second shape: `properties.vmSize`,
`deploymentConfiguration.virtualMachineConfiguration` (`nodeAgentSkuId`, `imageReference.id`),
`scaleSettings` (`fixedScale` | `autoScale`), `interNodeCommunication` (`Enabled`/`Disabled`) and
`applicationPackages` (`id` is the application's ARM id). The parts both models spell alike (start
task, user accounts, metadata, network and mount configuration) are read as the data plane's wire
models; the enums are written as ARM spells them (`Spread`, `NonAdmin`, `Steady`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import msgspec

from batchite.domain.entities import Pool
from batchite.mgmt.errors import ArmError
from batchite.wire.enums import BatchNodeDeallocationOption, BatchPoolState, DynamicVNetAssignmentScope
from batchite.wire.models import (
    BatchApplicationPackageReference,
    BatchContainerConfiguration,
    BatchMetadataItem,
    BatchNodePlacementConfiguration,
    BatchPoolCreateOptions,
    BatchPoolUpdateOptions,
    BatchStartTask,
    BatchTaskSchedulingPolicy,
    BatchVmImageReference,
    DataDisk,
    MountConfiguration,
    NetworkConfiguration,
    UserAccount,
    VirtualMachineConfiguration,
    WindowsConfiguration,
)
from batchite.wire.types import Duration, Int64, WireEnum, WireError, WireStruct, decode, to_builtins

POOL_TYPE = "Microsoft.Batch/batchAccounts/pools"


class InterNodeCommunication(WireEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class ArmImageReference(WireStruct, kw_only=True):
    publisher: str | None = None
    offer: str | None = None
    sku: str | None = None
    version: str | None = None
    id: str | None = None
    shared_gallery_image_id: str | None = None
    community_gallery_image_id: str | None = None


class ArmVmConfiguration(WireStruct, kw_only=True):
    image_reference: ArmImageReference
    node_agent_sku_id: str
    windows_configuration: WindowsConfiguration | None = None
    data_disks: list[DataDisk] | None = None
    license_type: str | None = None
    container_configuration: BatchContainerConfiguration | None = None
    node_placement_configuration: BatchNodePlacementConfiguration | None = None


class ArmDeployment(WireStruct, kw_only=True):
    virtual_machine_configuration: ArmVmConfiguration | None = None


class ArmFixedScale(WireStruct, kw_only=True):
    resize_timeout: Duration | None = None
    target_dedicated_nodes: Int64 | None = None
    target_low_priority_nodes: Int64 | None = None
    node_deallocation_option: BatchNodeDeallocationOption | None = None


class ArmAutoScale(WireStruct, kw_only=True):
    formula: str
    evaluation_interval: Duration | None = None


class ArmScaleSettings(WireStruct, kw_only=True):
    fixed_scale: ArmFixedScale | None = None
    auto_scale: ArmAutoScale | None = None


class ArmPackageReference(WireStruct, kw_only=True):
    id: str
    version: str | None = None


class ArmPoolProperties(WireStruct, kw_only=True):
    display_name: str | None = None
    vm_size: str | None = None
    deployment_configuration: ArmDeployment | None = None
    scale_settings: ArmScaleSettings | None = None
    inter_node_communication: InterNodeCommunication | None = None
    network_configuration: NetworkConfiguration | None = None
    task_slots_per_node: Int64 | None = None
    task_scheduling_policy: BatchTaskSchedulingPolicy | None = None
    user_accounts: list[UserAccount] | None = None
    metadata: list[BatchMetadataItem] | None = None
    start_task: BatchStartTask | None = None
    application_packages: list[ArmPackageReference] | None = None
    mount_configuration: list[MountConfiguration] | None = None


class ArmPoolBody(WireStruct, kw_only=True):
    properties: ArmPoolProperties | None = None
    tags: dict[str, str] | None = None


def read_body(raw: bytes) -> ArmPoolProperties:
    """A PUT or PATCH body's properties; a body that does not fit is 400 InvalidRequestContent
    naming the property (`properties.scaleSettings.fixedScale.targetDedicatedNodes`)."""
    try:
        body = decode(ArmPoolBody, raw or b"{}", strict=False)
    except WireError as err:
        target = err.path or None
        raise ArmError(
            400, "InvalidRequestContent", f"The request content was invalid: {err.reason}", target=target
        ) from None
    return body.properties or ArmPoolProperties()


def scale_of(props: ArmPoolProperties) -> ArmScaleSettings:
    scale = props.scale_settings or ArmScaleSettings()
    if scale.fixed_scale is not None and scale.auto_scale is not None:
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid: only one of fixedScale and autoScale may be set in scaleSettings.",
            target="properties.scaleSettings",
        )
    return scale


def application_id(reference: str) -> str:
    """`.../batchAccounts/{account}/applications/{app}` (or a bare name) -> the application id."""
    return reference.rstrip("/").rsplit("/", 1)[-1]


def vm_configuration(deployment: ArmDeployment | None) -> VirtualMachineConfiguration | None:
    config = deployment.virtual_machine_configuration if deployment is not None else None
    if config is None:
        return None
    image = config.image_reference
    return VirtualMachineConfiguration(
        image_reference=BatchVmImageReference(
            publisher=image.publisher,
            offer=image.offer,
            sku=image.sku,
            version=image.version,
            virtual_machine_image_id=image.id,
            shared_gallery_image_id=image.shared_gallery_image_id,
            community_gallery_image_id=image.community_gallery_image_id,
        ),
        node_agent_sku_id=config.node_agent_sku_id,
        windows_configuration=config.windows_configuration,
        data_disks=config.data_disks,
        license_type=config.license_type,
        container_configuration=config.container_configuration,
        node_placement_configuration=config.node_placement_configuration,
    )


def package_references(props: ArmPoolProperties) -> list[BatchApplicationPackageReference] | None:
    if props.application_packages is None:
        return None
    return [
        BatchApplicationPackageReference(application_id=application_id(p.id), version=p.version)
        for p in props.application_packages
    ]


def inter_node(props: ArmPoolProperties) -> bool | None:
    if props.inter_node_communication is None:
        return None
    return props.inter_node_communication == InterNodeCommunication.ENABLED


def create_options(pool_name: str, props: ArmPoolProperties) -> BatchPoolCreateOptions:
    """A PUT of a new pool as the data plane's create request."""
    if not props.vm_size:
        raise ArmError(
            400, "InvalidRequestContent", "The request content was invalid: vmSize is required.", "properties.vmSize"
        )
    scale = scale_of(props)
    fixed, auto = scale.fixed_scale, scale.auto_scale
    return BatchPoolCreateOptions(
        id=pool_name,
        display_name=props.display_name,
        vm_size=props.vm_size,
        virtual_machine_configuration=vm_configuration(props.deployment_configuration),
        resize_timeout=fixed.resize_timeout if fixed else None,
        target_dedicated_nodes=(fixed.target_dedicated_nodes or 0) if auto is None and fixed else None,
        target_low_priority_nodes=(fixed.target_low_priority_nodes or 0) if auto is None and fixed else None,
        enable_auto_scale=auto is not None,
        auto_scale_formula=auto.formula if auto else None,
        auto_scale_evaluation_interval=auto.evaluation_interval if auto else None,
        enable_inter_node_communication=inter_node(props),
        network_configuration=props.network_configuration,
        start_task=props.start_task,
        application_package_references=package_references(props),
        task_slots_per_node=props.task_slots_per_node,
        task_scheduling_policy=props.task_scheduling_policy,
        user_accounts=props.user_accounts,
        metadata=props.metadata,
        mount_configuration=props.mount_configuration,
    )


def update_options(props: ArmPoolProperties) -> BatchPoolUpdateOptions:
    """What a PATCH changes besides the scale, as the data plane's update request."""
    return BatchPoolUpdateOptions(
        display_name=props.display_name,
        vm_size=props.vm_size,
        enable_inter_node_communication=inter_node(props),
        start_task=props.start_task,
        application_package_references=package_references(props),
        metadata=props.metadata,
        virtual_machine_configuration=vm_configuration(props.deployment_configuration),
        task_slots_per_node=props.task_slots_per_node,
        task_scheduling_policy=props.task_scheduling_policy,
        network_configuration=props.network_configuration,
        user_accounts=props.user_accounts,
        mount_configuration=props.mount_configuration,
    )


# -- the data plane's pool as ARM shows it ---------------------------------------------------

_KEEP_CASE: tuple[type[enum.Enum], ...] = (DynamicVNetAssignmentScope,)  # ARM spells these in lower case
_SPELLING = {"NO_PUBLIC_IP_ADDRESSES": "NoPublicIPAddresses"}
_SECRETS = frozenset({"password", "sshPrivateKey"})  # of user accounts: never shown


def arm_spelling(member: enum.Enum) -> str:
    """`NON_ADMIN` -> `NonAdmin`: ARM's enums are the members' names in Pascal case."""
    if isinstance(member, _KEEP_CASE):
        return str(member.value)
    return _SPELLING.get(member.name) or "".join(part.capitalize() for part in member.name.split("_"))


def arm_builtins(value: Any) -> Any:
    """A wire model as ARM JSON builtins: wire names, None left out, enums in ARM's spelling."""
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        for field in msgspec.structs.fields(type(value)):
            item = getattr(value, field.name)
            if item is not None and field.encode_name not in _SECRETS:
                out[field.encode_name] = arm_builtins(item)
        return out
    if isinstance(value, enum.Enum):
        return arm_spelling(value)
    if isinstance(value, list):
        return [arm_builtins(v) for v in value]
    if isinstance(value, dict):
        return {k: arm_builtins(v) for k, v in value.items()}
    return to_builtins(value)


def arm_etag(pool: Pool) -> str:
    """ARM's form of the data plane's ETag (`W/"0x8D..."`): the same value, so both APIs agree."""
    return f'W/"{pool.etag}"'


def _time(value: datetime | None) -> Any:
    return to_builtins(value) if value is not None else None


def _deployment(pool: Pool) -> dict[str, Any] | None:
    config = pool.wire.virtual_machine_configuration
    if config is None:
        return None
    image = config.image_reference
    shown = arm_builtins(msgspec.structs.replace(config, image_reference=BatchVmImageReference()))
    shown.pop("nodeAgentSKUId", None)
    reference = {
        "publisher": image.publisher,
        "offer": image.offer,
        "sku": image.sku,
        "version": image.version,
        "id": image.virtual_machine_image_id,
        "sharedGalleryImageId": image.shared_gallery_image_id,
        "communityGalleryImageId": image.community_gallery_image_id,
    }
    return {
        "virtualMachineConfiguration": {
            **shown,
            "imageReference": {k: v for k, v in reference.items() if v is not None},
            "nodeAgentSkuId": config.node_agent_sku_id,
        }
    }


def _scale(pool: Pool) -> dict[str, Any]:
    wire = pool.wire
    if wire.enable_auto_scale:
        auto = {
            "formula": wire.auto_scale_formula,
            "evaluationInterval": _duration(wire.auto_scale_evaluation_interval),
        }
        return {"autoScale": {k: v for k, v in auto.items() if v is not None}}
    fixed = {
        "targetDedicatedNodes": wire.target_dedicated_nodes or 0,
        "targetLowPriorityNodes": wire.target_low_priority_nodes or 0,
        "resizeTimeout": _duration(wire.resize_timeout),
    }
    return {"fixedScale": {k: v for k, v in fixed.items() if v is not None}}


def _duration(value: Any) -> str | None:
    return Duration.of(value).wire() if value is not None else None


def _auto_scale_run(pool: Pool) -> dict[str, Any] | None:
    run = pool.wire.auto_scale_run
    if run is None:
        return None
    shown: dict[str, Any] = {"evaluationTime": _time(run.timestamp)}
    if run.results is not None:
        shown["results"] = run.results
    if run.error is not None:
        error: dict[str, Any] = {"code": run.error.code or "", "message": run.error.message or ""}
        if run.error.error_values:
            error["details"] = [{"code": v.name or "", "message": v.value or ""} for v in run.error.error_values]
        shown["error"] = error
    return shown


def _resize_status(pool: Pool) -> dict[str, Any] | None:
    wire = pool.wire
    if wire.enable_auto_scale:
        return None
    status: dict[str, Any] = {
        "targetDedicatedNodes": wire.target_dedicated_nodes or 0,
        "targetLowPriorityNodes": wire.target_low_priority_nodes or 0,
        "resizeTimeout": _duration(wire.resize_timeout),
        "nodeDeallocationOption": "Requeue",
        "startTime": _time(wire.allocation_state_transition_time),
    }
    if wire.resize_errors:
        status["errors"] = [{"code": e.code or "", "message": e.message or ""} for e in wire.resize_errors]
    return {k: v for k, v in status.items() if v is not None}


def pool_body(pool: Pool, account_id: str) -> dict[str, Any]:
    """The ARM Pool of a data-plane pool (`account_id`: the account's ARM id)."""
    wire = pool.wire
    deleting = wire.state == BatchPoolState.DELETING
    packages = [
        {"id": f"{account_id}/applications/{p.application_id}", **({"version": p.version} if p.version else {})}
        for p in wire.application_package_references or []
    ]
    properties: dict[str, Any] = {
        "displayName": wire.display_name,
        "lastModified": _time(pool.last_modified),
        "creationTime": _time(wire.creation_time),
        "provisioningState": "Deleting" if deleting else "Succeeded",
        "provisioningStateTransitionTime": _time(wire.state_transition_time),
        "allocationState": arm_spelling(wire.allocation_state) if wire.allocation_state else None,
        "allocationStateTransitionTime": _time(wire.allocation_state_transition_time),
        "vmSize": wire.vm_size,
        "deploymentConfiguration": _deployment(pool),
        "scaleSettings": _scale(pool),
        "autoScaleRun": _auto_scale_run(pool),
        "currentDedicatedNodes": wire.current_dedicated_nodes,
        "currentLowPriorityNodes": wire.current_low_priority_nodes,
        "interNodeCommunication": "Enabled" if wire.enable_inter_node_communication else "Disabled",
        "networkConfiguration": arm_builtins(wire.network_configuration) if wire.network_configuration else None,
        "taskSlotsPerNode": wire.task_slots_per_node or 1,
        "taskSchedulingPolicy": arm_builtins(wire.task_scheduling_policy) if wire.task_scheduling_policy else None,
        "userAccounts": arm_builtins(wire.user_accounts) if wire.user_accounts else None,
        "metadata": arm_builtins(wire.metadata) if wire.metadata else None,
        "startTask": arm_builtins(wire.start_task) if wire.start_task else None,
        "applicationPackages": packages or None,
        "resizeOperationStatus": _resize_status(pool),
        "mountConfiguration": arm_builtins(wire.mount_configuration) if wire.mount_configuration else None,
    }
    return {
        "id": f"{account_id}/pools/{wire.id}",
        "name": wire.id,
        "type": POOL_TYPE,
        "etag": arm_etag(pool),
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
