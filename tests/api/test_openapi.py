"""GET /openapi.json: the data plane's document, built from the route declarations and the wire models."""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec
import pytest

import batchite.api.app  # noqa: F401  (registers every route)
from batchite.api.routing import OPERATIONS
from batchite.api.versions import PUBLISHED
from batchite.service.accounts import DEV_ACCOUNT_NAME
from batchite.wire.models import BatchPoolCreateOptions
from batchite.wire.types import Duration, Int64String


@pytest.fixture(scope="module")
def served(endpoint: str) -> httpx.Response:
    return httpx.get(f"{endpoint}/openapi.json", timeout=10)  # no signature: it holds no account data


@pytest.fixture(scope="module")
def document(served: httpx.Response) -> dict[str, Any]:
    value: dict[str, Any] = served.json()
    return value


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        op["operationId"]: (method.upper(), path, op)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    }


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_served_without_a_signature_and_names_no_account(served: httpx.Response, endpoint: str) -> None:
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    assert DEV_ACCOUNT_NAME not in served.text
    document = served.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": endpoint}]


def test_every_batch_operation_once_and_no_admin_operation(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) == len(OPERATIONS) == 72
    assert {op_id: (method, path) for op_id, (method, path, _) in operations.items()} == OPERATIONS
    assert not [path for path in document["paths"] if path.startswith("/_batchite")]


def test_shared_key_api_version_and_timeout_on_every_operation(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["SharedKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert document["security"] == [{"SharedKey": []}]
    for op_id, (_, path, op) in _operations(document).items():
        params = {(p["in"], p["name"]): p for p in op["parameters"]}
        version = params[("query", "api-version")]
        assert version["required"] is True and version["schema"]["enum"] == list(PUBLISHED), op_id
        assert params[("query", "timeout")]["schema"]["type"] == "integer", op_id
        assert params[("header", "client-request-id")]["schema"]["format"] == "uuid", op_id
        names = [name for (where, name) in params if where == "path"]
        assert names == [part[1:-1] for part in path.split("/") if part.startswith("{")], op_id


def test_every_failure_is_the_batch_error_body(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["BatchError"]
    assert set(error["required"]) == {"code", "message"}
    assert set(error["properties"]) == {"code", "message", "values"}
    message = document["components"]["schemas"]["BatchErrorMessage"]["properties"]
    detail = document["components"]["schemas"]["BatchErrorDetail"]["properties"]
    assert set(message) == {"lang", "value"} and set(detail) == {"key", "value"}
    for op_id, (method, _, op) in _operations(document).items():
        default = op["responses"]["default"]
        if method == "HEAD":
            assert "content" not in default, op_id
        else:
            assert default["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchError"}


def test_bodies_and_answers_come_from_the_wire_models(document: dict[str, Any]) -> None:
    operations = _operations(document)
    create = operations["Pools_CreatePool"][2]
    assert create["requestBody"]["required"] is True
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/BatchPoolCreateOptions")
    model = msgspec.json.schema(BatchPoolCreateOptions, schema_hook=lambda t: {"type": "string"})
    expected = model["$defs"]["BatchPoolCreateOptions"]
    assert _resolve(document, ref)["required"] == expected["required"]
    assert set(_resolve(document, ref)["properties"]) == set(expected["properties"])
    assert set(create["responses"]) == {"201", "default"} and "content" not in create["responses"]["201"]

    resize = operations["Pools_ResizePool"][2]
    assert resize["requestBody"]["required"] is False and set(resize["responses"]) == {"202", "default"}

    get = operations["Pools_GetPool"][2]
    assert {p["name"] for p in get["parameters"] if p["in"] == "query"} >= {"$select", "$expand"}
    shown = _resolve(document, get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert "required" not in shown and "id" in shown["properties"]  # $select may leave out any property

    listed = operations["Pools_ListPools"][2]
    page = listed["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["required"] == ["value"] and set(page["properties"]) == {"odata.metadata", "value", "odata.nextLink"}
    assert {p["name"]: p["schema"] for p in listed["parameters"]}["maxresults"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
    }

    counts = operations["Jobs_GetJobTaskCounts"][2]["responses"]["200"]["content"]["application/json"]["schema"]
    assert counts == {"$ref": "#/components/schemas/BatchTaskCountsResult"}
    file = operations["Tasks_GetTaskFile"][2]["responses"]["200"]["content"]
    assert list(file) == ["application/octet-stream"]


def test_wire_types_durations_times_int64_and_write_only_secrets(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    timeout = schemas["BatchTaskConstraints"]["properties"]["maxWallClockTime"]["anyOf"][0]
    assert timeout["type"] == "string" and "pattern" in timeout
    assert re.match(timeout["pattern"], Duration(hours=1, minutes=30).wire())
    assert re.match(timeout["pattern"], "P10675199DT2H48M5.4775807S")
    assert not re.match(timeout["pattern"], "1 hour")
    created = schemas["BatchPool"]["properties"]["creationTime"]
    assert created == {"type": "string", "format": "date-time"}
    retries = schemas["BatchTaskConstraints"]["properties"]["maxTaskRetryCount"]["anyOf"][0]
    assert (retries["minimum"], retries["maximum"]) == (-(2**63), 2**63 - 1)
    read_iops = schemas["BatchJobStatistics"]["properties"]["readIOps"]
    assert read_iops["type"] == "string" and re.match(read_iops["pattern"], str(Int64String(42)))
    account = schemas["UserAccount"]
    assert "password" not in account["required"] and account["properties"]["password"]["writeOnly"] is True


def test_the_headers_an_operation_reads(document: dict[str, Any]) -> None:
    operations = _operations(document)

    def headers(op_id: str) -> set[str]:
        return {p["name"] for p in operations[op_id][2]["parameters"] if p["in"] == "header"}

    common = {"client-request-id", "return-client-request-id"}
    conditional = {"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}
    assert headers("Pools_GetPool") == common | conditional
    assert headers("Tasks_GetTaskFile") == common | {"If-Modified-Since", "If-Unmodified-Since", "ocp-range"}
    assert headers("Pools_ListPools") == common
