"""The generated Azure Batch wire models: aliases, lax ints, enums, durations, timestamps."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from batchite.wire import from_wire, to_wire
from batchite.wire.enums import BATCH_TASK_STATE, ENUMS, IP_FAMILY
from batchite.wire.models import (
    ALL_MODELS,
    BatchJobConstraints,
    BatchJobCreateOptions,
    BatchJobStatistics,
    BatchPoolCreateOptions,
    BatchPoolResizeOptions,
    BatchTaskConstraints,
    BatchTaskCreateOptions,
    BatchTaskGroup,
    WireModel,
)

POOL_BODY: dict[str, Any] = {
    "id": "pool1",
    "vmSize": "standard_d2s_v3",
    "virtualMachineConfiguration": {
        "imageReference": {
            "publisher": "canonical",
            "offer": "0001-com-ubuntu-server-focal",
            "sku": "20_04-lts",
        },
        "nodeAgentSKUId": "batch.node.ubuntu 20.04",
    },
    "targetDedicatedNodes": "1",
}


def _error_locs(exc: ValidationError) -> list[tuple[int | str, ...]]:
    return [tuple(err["loc"]) for err in exc.errors()]


def test_pool_create_round_trip_coerces_numeric_string() -> None:
    pool = from_wire(BatchPoolCreateOptions, POOL_BODY)

    assert pool.id == "pool1"
    assert pool.vm_size == "standard_d2s_v3"
    assert pool.target_dedicated_nodes == 1
    assert pool.virtual_machine_configuration is not None
    assert pool.virtual_machine_configuration.node_agent_sku_id == "batch.node.ubuntu 20.04"
    assert pool.virtual_machine_configuration.image_reference.offer == "0001-com-ubuntu-server-focal"

    assert to_wire(pool) == {**POOL_BODY, "targetDedicatedNodes": 1}
    assert from_wire(BatchPoolCreateOptions, to_wire(pool)) == pool


def test_numeric_string_accepted_for_plain_int_fields() -> None:
    resize = from_wire(BatchPoolResizeOptions, {"targetDedicatedNodes": "3", "targetLowPriorityNodes": 0})
    assert (resize.target_dedicated_nodes, resize.target_low_priority_nodes) == (3, 0)
    with pytest.raises(ValidationError):
        from_wire(BatchPoolResizeOptions, {"targetDedicatedNodes": "three"})


def test_to_wire_omits_none_and_unknown_keys_are_ignored() -> None:
    pool = from_wire(BatchPoolCreateOptions, {"id": "p", "vmSize": "small", "someFutureField": True})
    assert to_wire(pool) == {"id": "p", "vmSize": "small"}


def test_from_wire_reads_wire_names_not_attribute_names() -> None:
    with pytest.raises(ValidationError) as info:
        from_wire(BatchPoolCreateOptions, {"id": "p", "vm_size": "small"})
    assert ("vmSize",) in _error_locs(info.value)


def test_models_can_be_built_by_attribute_name() -> None:
    pool = BatchPoolCreateOptions.model_validate({"id": "p", "vm_size": "small"})
    assert to_wire(pool) == {"id": "p", "vmSize": "small"}


def test_missing_required_field_is_reported_by_wire_name() -> None:
    with pytest.raises(ValidationError) as info:
        from_wire(BatchTaskCreateOptions, {"id": "t1"})
    assert ("commandLine",) in _error_locs(info.value)

    with pytest.raises(ValidationError) as info:
        from_wire(BatchPoolCreateOptions, {"id": "p", "vmSize": "s", "virtualMachineConfiguration": {}})
    locs = _error_locs(info.value)
    assert ("virtualMachineConfiguration", "imageReference") in locs
    assert ("virtualMachineConfiguration", "nodeAgentSKUId") in locs


def test_enum_values_are_case_insensitive_and_normalised() -> None:
    job = from_wire(
        BatchJobCreateOptions,
        {"id": "j", "poolInfo": {"poolId": "p"}, "onAllTasksComplete": "TerminateJob"},
    )
    assert job.all_tasks_complete_mode == "terminatejob"
    assert to_wire(job)["onAllTasksComplete"] == "terminatejob"

    # Mixed-case canonical spellings are kept as the SDK spells them.
    body = {
        "id": "p",
        "vmSize": "s",
        "networkConfiguration": {
            "endpointConfiguration": {
                "inboundNATPools": [
                    {
                        "name": "ssh",
                        "protocol": "TCP",
                        "backendPort": 22,
                        "frontendPortRangeStart": 50000,
                        "frontendPortRangeEnd": 50099,
                    }
                ]
            },
            "publicIPAddressConfiguration": {"ipFamilies": ["ipv4", "IPV6"]},
        },
    }
    pool = from_wire(BatchPoolCreateOptions, body)
    wire = to_wire(pool)
    assert wire["networkConfiguration"]["endpointConfiguration"]["inboundNATPools"][0]["protocol"] == "tcp"
    assert wire["networkConfiguration"]["publicIPAddressConfiguration"]["ipFamilies"] == ["IPv4", "IPv6"]
    assert IP_FAMILY == ("IPv4", "IPv6")


def test_enum_rejects_unknown_value_naming_allowed_values() -> None:
    with pytest.raises(ValidationError) as info:
        from_wire(BatchJobCreateOptions, {"id": "j", "poolInfo": {"poolId": "p"}, "onAllTasksComplete": "explode"})
    (error,) = info.value.errors()
    assert error["loc"] == ("onAllTasksComplete",)
    assert "noaction" in error["msg"] and "terminatejob" in error["msg"]


def test_timedelta_round_trip_iso8601() -> None:
    constraints = from_wire(BatchTaskConstraints, {"maxWallClockTime": "PT1H30M", "retentionTime": "P1DT2H"})
    assert constraints.max_wall_clock_time == timedelta(hours=1, minutes=30)
    assert constraints.retention_time == timedelta(days=1, hours=2)
    assert to_wire(constraints) == {"maxWallClockTime": "PT1H30M", "retentionTime": "P1DT2H"}


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (timedelta(hours=1), "PT1H"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(days=7), "P7D"),
        (timedelta(seconds=90), "PT1M30S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_timedelta_serialises_as_iso8601_duration(value: timedelta, wire: str) -> None:
    assert to_wire(BatchJobConstraints.model_validate({"max_wall_clock_time": value})) == {"maxWallClockTime": wire}
    assert from_wire(BatchJobConstraints, {"maxWallClockTime": wire}).max_wall_clock_time == value


def test_service_max_timespan_parses() -> None:
    # What the service returns for "unlimited" (.NET TimeSpan.MaxValue, 7 fractional digits).
    constraints = from_wire(BatchTaskConstraints, {"maxWallClockTime": "P10675199DT2H48M5.4775807S"})
    assert constraints.max_wall_clock_time is not None
    assert constraints.max_wall_clock_time.days == 10675199


def test_datetimes_serialise_as_rfc3339_utc_z() -> None:
    stats_body = {
        "url": "https://x/jobs/j/stats",
        "startTime": "2024-05-01T10:00:00+02:00",
        "lastUpdateTime": datetime(2024, 5, 1, 9, 30, 0, 250000),  # naive: taken as UTC
        "userCPUTime": "PT1M",
        "kernelCPUTime": "PT0S",
        "wallClockTime": "PT2M",
        "readIOps": "42",
        "writeIOps": 7,
        "readIOGiB": 0.5,
        "writeIOGiB": 0,
        "numSucceededTasks": "1",
        "numFailedTasks": 0,
        "numTaskRetries": 0,
        "waitTime": "PT5S",
    }
    stats = from_wire(BatchJobStatistics, stats_body)
    assert stats.start_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert stats.read_iops == 42
    wire = to_wire(stats)
    assert wire["startTime"] == "2024-05-01T08:00:00Z"
    assert wire["lastUpdateTime"] == "2024-05-01T09:30:00.250000Z"
    # int64 fields the service encodes as JSON strings go back out as strings.
    assert wire["readIOps"] == "42" and wire["writeIOps"] == "7" and wire["numSucceededTasks"] == "1"
    assert wire["readIOGiB"] == 0.5

    other_zone = datetime(2024, 1, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    stats = stats.model_copy(update={"start_time": other_zone})
    assert to_wire(stats)["startTime"] == "2024-01-02T04:00:00Z"


def test_task_group_nests_task_create_options() -> None:
    group = from_wire(
        BatchTaskGroup,
        {"value": [{"id": "t1", "commandLine": "echo hi", "constraints": {"maxTaskRetryCount": "2"}}]},
    )
    (task,) = group.task_values  # the SDK's attribute name for wire "value"
    assert isinstance(task, BatchTaskCreateOptions)
    assert task.constraints is not None and task.constraints.max_task_retry_count == 2
    assert to_wire(group) == {
        "value": [{"id": "t1", "commandLine": "echo hi", "constraints": {"maxTaskRetryCount": 2}}]
    }


def test_enum_constants_and_model_registry() -> None:
    assert BATCH_TASK_STATE == ("active", "preparing", "running", "completed")
    assert ENUMS["BatchTaskState"] is BATCH_TASK_STATE
    assert all(isinstance(values, tuple) and values for values in ENUMS.values())
    assert len(ALL_MODELS) == len(set(ALL_MODELS))
    assert all(issubclass(model, WireModel) and model.__pydantic_complete__ for model in ALL_MODELS)
    assert not any(model.model_config.get("strict") for model in ALL_MODELS)
