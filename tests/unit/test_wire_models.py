"""The generated Azure Batch wire models: wire names, lax ints, enums, durations, timestamps."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from batchite.wire.enums import ENUMS, BatchAllTasksCompleteMode, BatchTaskState, InboundEndpointProtocol, IPFamily
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
)
from batchite.wire.types import Duration, WireEnum, WireError, WireStruct, convert, decode, encode, to_builtins

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


def wire_error(cls: type[Any], body: dict[str, Any]) -> WireError:
    """The error a request body that does not fit `cls` raises (msgspec reports the first problem)."""
    with pytest.raises(WireError) as info:
        convert(cls, body)
    return info.value


def test_pool_create_round_trip_coerces_numeric_string() -> None:
    pool = convert(BatchPoolCreateOptions, POOL_BODY)

    assert pool.id == "pool1"
    assert pool.vm_size == "standard_d2s_v3"
    assert pool.target_dedicated_nodes == 1
    assert pool.virtual_machine_configuration is not None
    assert pool.virtual_machine_configuration.node_agent_sku_id == "batch.node.ubuntu 20.04"
    assert pool.virtual_machine_configuration.image_reference.offer == "0001-com-ubuntu-server-focal"

    assert to_builtins(pool) == {**POOL_BODY, "targetDedicatedNodes": 1}
    assert convert(BatchPoolCreateOptions, to_builtins(pool)) == pool
    # The same through JSON text, as request bodies arrive.
    assert decode(BatchPoolCreateOptions, encode(POOL_BODY), strict=False) == pool
    assert decode(BatchPoolCreateOptions, encode(pool)) == pool


def test_numeric_string_accepted_for_plain_int_fields() -> None:
    resize = convert(BatchPoolResizeOptions, {"targetDedicatedNodes": "3", "targetLowPriorityNodes": 0})
    assert (resize.target_dedicated_nodes, resize.target_low_priority_nodes) == (3, 0)
    with pytest.raises(WireError):
        convert(BatchPoolResizeOptions, {"targetDedicatedNodes": "three"})


def test_to_wire_omits_none_and_unknown_keys_are_ignored() -> None:
    pool = convert(BatchPoolCreateOptions, {"id": "p", "vmSize": "small", "someFutureField": True})
    assert to_builtins(pool) == {"id": "p", "vmSize": "small"}
    assert msgspec.json.decode(encode(pool)) == {"id": "p", "vmSize": "small"}


def test_from_wire_reads_wire_names_not_attribute_names() -> None:
    error = wire_error(BatchPoolCreateOptions, {"id": "p", "vm_size": "small"})
    assert error.path == "vmSize"
    assert error.missing


def test_models_can_be_built_by_attribute_name() -> None:
    pool = BatchPoolCreateOptions(id="p", vm_size="small")
    assert to_builtins(pool) == {"id": "p", "vmSize": "small"}


def test_missing_required_field_is_reported_by_wire_name() -> None:
    error = wire_error(BatchTaskCreateOptions, {"id": "t1"})
    assert (error.path, error.missing) == ("commandLine", True)

    # msgspec stops at the first problem, where pydantic listed them all: each missing nested
    # property is reported by its wire path in turn.
    error = wire_error(BatchPoolCreateOptions, {"id": "p", "vmSize": "s", "virtualMachineConfiguration": {}})
    assert (error.path, error.missing) == ("virtualMachineConfiguration.imageReference", True)
    error = wire_error(
        BatchPoolCreateOptions,
        {"id": "p", "vmSize": "s", "virtualMachineConfiguration": {"imageReference": {}}},
    )
    assert (error.path, error.missing) == ("virtualMachineConfiguration.nodeAgentSKUId", True)


def test_wire_error_tells_a_body_that_does_not_fit_from_one_that_is_not_json() -> None:
    assert not wire_error(BatchTaskCreateOptions, {"id": "t1"}).malformed  # missing property
    assert not wire_error(BatchPoolResizeOptions, {"targetDedicatedNodes": "three"}).malformed  # bad value
    with pytest.raises(WireError) as info:
        decode(BatchTaskCreateOptions, b'{"id": ')
    assert info.value.malformed and not info.value.missing


def test_enum_values_are_case_insensitive_and_normalised() -> None:
    job = convert(
        BatchJobCreateOptions,
        {"id": "j", "poolInfo": {"poolId": "p"}, "onAllTasksComplete": "TerminateJob"},
    )
    assert job.all_tasks_complete_mode is BatchAllTasksCompleteMode.TERMINATE_JOB
    assert job.all_tasks_complete_mode == "terminatejob"
    assert to_builtins(job)["onAllTasksComplete"] == "terminatejob"

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
    pool = convert(BatchPoolCreateOptions, body)
    wire = to_builtins(pool)
    assert wire["networkConfiguration"]["endpointConfiguration"]["inboundNATPools"][0]["protocol"] == "tcp"
    assert wire["networkConfiguration"]["publicIPAddressConfiguration"]["ipFamilies"] == ["IPv4", "IPv6"]
    assert tuple(IPFamily) == ("IPv4", "IPv6")
    assert InboundEndpointProtocol("Tcp") is InboundEndpointProtocol.TCP


def test_enum_rejects_unknown_value_naming_allowed_values() -> None:
    error = wire_error(BatchJobCreateOptions, {"id": "j", "poolInfo": {"poolId": "p"}, "onAllTasksComplete": "explode"})
    assert error.path == "onAllTasksComplete"
    assert not error.missing
    # The reason is msgspec's now ("Invalid enum value 'explode'"), which names the rejected value;
    # the allowed values are the enum's, which the error's path leads to.
    assert "explode" in error.reason
    assert {m.value for m in BatchAllTasksCompleteMode} == {"noaction", "terminatejob"}


def test_timedelta_round_trip_iso8601() -> None:
    constraints = convert(BatchTaskConstraints, {"maxWallClockTime": "PT1H30M", "retentionTime": "P1DT2H"})
    assert constraints.max_wall_clock_time == timedelta(hours=1, minutes=30)
    assert constraints.retention_time == timedelta(days=1, hours=2)
    assert isinstance(constraints.max_wall_clock_time, Duration)
    assert to_builtins(constraints) == {"maxWallClockTime": "PT1H30M", "retentionTime": "P1DT2H"}


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
    # Built by attribute name, a duration field holds a Duration (the timedelta written the service's way).
    assert to_builtins(BatchJobConstraints(max_wall_clock_time=Duration.of(value))) == {"maxWallClockTime": wire}
    assert convert(BatchJobConstraints, {"maxWallClockTime": wire}).max_wall_clock_time == value
    # A timedelta given to convert (Python objects, as the old model_validate took) is read as a Duration.
    assert to_builtins(convert(BatchJobConstraints, {"maxWallClockTime": value})) == {"maxWallClockTime": wire}


def test_service_max_timespan_parses() -> None:
    # What the service returns for "unlimited" (.NET TimeSpan.MaxValue, 7 fractional digits).
    constraints = convert(BatchTaskConstraints, {"maxWallClockTime": "P10675199DT2H48M5.4775807S"})
    assert constraints.max_wall_clock_time is not None
    assert constraints.max_wall_clock_time.days == 10675199


STATS_BODY: dict[str, Any] = {
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


def test_int64_strings_are_read_from_either_form_and_written_as_strings() -> None:
    # Split out of test_datetimes_serialise_as_rfc3339_utc_z, which fails on its datetime part.
    stats = convert(BatchJobStatistics, STATS_BODY)
    assert stats.start_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # the same instant
    assert stats.read_iops == 42
    wire = to_builtins(stats)
    # int64 fields the service encodes as JSON strings go back out as strings.
    assert wire["readIOps"] == "42" and wire["writeIOps"] == "7" and wire["numSucceededTasks"] == "1"
    assert wire["readIOGiB"] == 0.5


def test_datetimes_serialise_as_rfc3339_utc_z() -> None:
    stats = convert(BatchJobStatistics, STATS_BODY)
    assert stats.start_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    wire = to_builtins(stats)
    assert wire["startTime"] == "2024-05-01T08:00:00Z"
    assert wire["lastUpdateTime"] == "2024-05-01T09:30:00.250000Z"
    assert msgspec.json.decode(encode(stats)) == wire

    # Times are brought to UTC where they come in (a request body, decoded or converted); every
    # time the service makes comes from its clock, in UTC.
    other_zone = datetime(2024, 1, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    stats = convert(BatchJobStatistics, {**STATS_BODY, "startTime": other_zone.isoformat()})
    assert to_builtins(stats)["startTime"] == "2024-01-02T04:00:00Z"
    body = msgspec.json.encode({**STATS_BODY, "startTime": "2024-01-01T23:00:00-05:00"})
    assert to_builtins(decode(BatchJobStatistics, body, strict=False))["startTime"] == "2024-01-02T04:00:00Z"


def test_task_group_nests_task_create_options() -> None:
    group = convert(
        BatchTaskGroup,
        {"value": [{"id": "t1", "commandLine": "echo hi", "constraints": {"maxTaskRetryCount": "2"}}]},
    )
    (task,) = group.task_values  # the SDK's attribute name for wire "value"
    assert isinstance(task, BatchTaskCreateOptions)
    assert task.constraints is not None and task.constraints.max_task_retry_count == 2
    assert to_builtins(group) == {
        "value": [{"id": "t1", "commandLine": "echo hi", "constraints": {"maxTaskRetryCount": 2}}]
    }


def test_enum_constants_and_model_registry() -> None:
    # The old tuples of values are the enum classes now.
    assert tuple(BatchTaskState) == ("active", "preparing", "running", "completed")
    assert ENUMS["BatchTaskState"] is BatchTaskState
    assert all(issubclass(values, WireEnum) and len(values) > 0 for values in ENUMS.values())
    assert len(ALL_MODELS) == len(set(ALL_MODELS))
    # Every model is a WireStruct whose annotations resolve (pydantic's __pydantic_complete__): a
    # decoder can be built for it.
    for model in ALL_MODELS:
        assert issubclass(model, WireStruct)
        msgspec.json.Decoder(model)
    # None is strict about what it reads (pydantic's strict config): unknown keys are ignored, None
    # fields left out, and request bodies (strict=False) may write numbers as strings.
    assert not any(model.__struct_config__.forbid_unknown_fields for model in ALL_MODELS)
    assert all(model.__struct_config__.omit_defaults for model in ALL_MODELS)
    assert convert(BatchTaskConstraints, {"maxTaskRetryCount": "2"}).max_task_retry_count == 2
