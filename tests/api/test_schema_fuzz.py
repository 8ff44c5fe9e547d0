"""schemathesis over /openapi.json: every operation of the published document, a bounded number of
generated requests each (positive and negative data, derandomized), signed with SharedKey, against
a server of its own so nothing another test made is touched. No request may be answered with a
server error, and every documented answer must match its schema (the Batch error body included)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

import batchite.api.app  # noqa: F401  (registers every route)
from batchite.api.auth import sign, string_to_sign
from batchite.api.routing import OPERATIONS
from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import Raw, error_of
from tests.sdk import job_options, pool_options, task_options

# per operation: 72 operations, about 2,900 requests, under a minute on 2 cores; more for a deeper run
EXAMPLES = int(os.environ.get("BATCHITE_FUZZ_EXAMPLES", "40"))
SEEN: dict[str, int] = {}  # requests sent per operation (reported at the end of the module)
STATUSES: dict[int, int] = {}  # answers by status
POOL, JOB, TASK, SCHEDULE, USER = "fuzz-pool", "fuzz-job", "fuzz-task", "fuzz-schedule", "fuzzuser"
# Quotas that bound what generated requests can start: every node is an agent process, and at
# Azure's defaults a resize could ask for 450 of them on a 2-core machine.
QUOTAS = ["--dedicated-core-quota", "8", "--low-priority-core-quota", "8", "--pool-quota", "10"]
EXPECTED_503 = ("TooManyEnableAutoScaleRequests", "ServerBusy")
CHANGES_STATE = ("/terminate", "/disable", "/removenodes", "/stopresize", "/deallocate", "/reimage", "/reboot")


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """not_a_server_error, but for the 503s Azure itself answers: enabling autoscale again within 30 s
    (TooManyEnableAutoScaleRequests) and more requests in flight than the server takes (ServerBusy)."""
    if response.status_code == 503 and response.json().get("code") in EXPECTED_503:
        return True
    result: bool | None = not_a_server_error(ctx, response, case)
    return result


CHECKS = [no_server_error, response_schema_conformance, content_type_conformance]


def _order(operation_id: str) -> tuple[bool, bool, str]:
    """What removes or stops the entities the others are pointed at runs last."""
    method, path = OPERATIONS[operation_id]
    return method == "DELETE", path.endswith(CHANGES_STATE), operation_id


class SharedKey(requests.auth.AuthBase):
    """Signs the request as it will be sent: its final path, query and headers."""

    def __init__(self, account: str = DEV_ACCOUNT_NAME, key: str = DEV_ACCOUNT_KEY) -> None:
        self.account = account
        self.key = base64.b64decode(key)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.url or "")
        r.headers["ocp-date"] = format_datetime(datetime.now(tz=UTC), usegmt=True)
        headers = {name.lower(): value for name, value in r.headers.items()}
        text = string_to_sign(r.method or "GET", url.path, url.query, headers, self.account)
        r.headers["Authorization"] = f"SharedKey {self.account}:{sign(self.key, text)}"
        return r


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-fuzz"), QUOTAS)
    yield child
    child.stop()
    if SEEN:
        print(f"\nschemathesis: {sum(SEEN.values())} requests over {len(SEEN)} operations, by status {STATUSES}")


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ChildServer) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.endpoint}/openapi.json")


@pytest.fixture(scope="module")
def known(fuzz_server: ChildServer) -> dict[str, str]:
    """Entities for half the requests to name, so that they reach past the 404: a pool with an idle
    node, a job with a completed task (and its files), a job schedule, a node user."""
    from azure.batch import models as m

    client = make_client(fuzz_server.endpoint)
    try:
        client.create_pool(pool_options(POOL))
        node = wait_for(lambda: [n for n in client.list_nodes(POOL) if n.state == "idle"], timeout=60)[0]
        client.create_job(job_options(JOB, POOL))
        client.create_task(JOB, task_options(TASK, "/bin/echo fuzz"))
        wait_for(lambda: client.get_task(JOB, TASK).state == "completed", timeout=60)
        client.create_node_user(POOL, node.id, m.BatchNodeUserCreateOptions(name=USER, password="Fuzz-123456"))
        schedule = m.BatchJobScheduleConfiguration(do_not_run_until=datetime(2100, 1, 1, tzinfo=UTC))
        job = m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=POOL))
        client.create_job_schedule(
            m.BatchJobScheduleCreateOptions(id=SCHEDULE, schedule=schedule, job_specification=job)
        )
    finally:
        client.close()
    return {
        "poolId": POOL,
        "nodeId": node.id,
        "jobId": JOB,
        "taskId": TASK,
        "jobScheduleId": SCHEDULE,
        "userName": USER,
        "filePath": "stdout.txt",
    }


def _cases(operation: Any, known: dict[str, str]) -> st.SearchStrategy[Any]:
    """Requests that fit the document and requests that break it (a wrong type, a missing property),
    with any ids, and with the ids of the entities that exist."""
    pinned = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    if pinned:
        strategies += [operation.as_strategy(mode, path_parameters=pinned) for mode in GenerationMode]
    return st.one_of(strategies)


# -- what the fuzzing found, kept as examples (run first: the fuzzing deletes the entities at its end) ------


@pytest.mark.parametrize("token", ["9223372036854775808", "9" * 5000, "\u00b2", "\u0661"])
def test_a_skiptoken_the_service_never_wrote_is_invalid_not_a_500(fuzz_server: ChildServer, token: str) -> None:
    raw = Raw(fuzz_server.endpoint)
    try:
        for path in ("/applications", "/pools", "/jobs"):
            response = raw.request("GET", path, [("$skiptoken", token)])
            assert response.status_code == 400, (path, response.text)
            code, values = error_of(response)
            assert code == "InvalidQueryParameterValue" and values["QueryParameterName"] == "$skiptoken"
    finally:
        raw.close()


def test_a_node_user_named_in_any_unicode_is_created(fuzz_server: ChildServer, known: dict[str, str]) -> None:
    """The name went into the DataServiceId header as it was: a control character dropped the connection."""
    raw = Raw(fuzz_server.endpoint)
    try:
        path = f"/pools/{POOL}/nodes/{known['nodeId']}/users"
        response = raw.request("POST", path, body={"name": "\u00a4\u007f\u0088", "password": "Fuzz-123456"})
        assert response.status_code == 201, response.text
        assert response.headers["DataServiceId"].endswith(f"{path}/%C2%A4%7F%C2%88")
    finally:
        raw.close()


@pytest.mark.parametrize("given", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000, "bytes=1-" + "9" * 30])
def test_a_byte_range_past_int64_is_an_invalid_header_not_a_500(
    fuzz_server: ChildServer, known: dict[str, str], given: str
) -> None:
    raw = Raw(fuzz_server.endpoint)
    try:
        response = raw.request("GET", f"/jobs/{JOB}/tasks/{TASK}/files/stdout.txt", headers={"ocp-range": given})
        assert response.status_code == 400, response.text
        assert error_of(response) == ("InvalidHeaderValue", {"HeaderName": "ocp-range", "HeaderValue": given})
        whole = raw.request("GET", f"/jobs/{JOB}/tasks/{TASK}/files/stdout.txt", headers={"ocp-range": "bytes=0-"})
        assert whole.status_code == 200 and whole.content == b"fuzz\n"
    finally:
        raw.close()


def test_the_schema_check_is_not_vacuous(api_schema: Any, known: dict[str, str]) -> None:
    """A real answer passes the response check, and the same answer with a property of the wrong
    type or a missing required one fails it."""
    operation = api_schema.find_operation_by_id("Pools_GetPool")
    case = operation.Case(path_parameters={"poolId": POOL}, query={"api-version": "2025-06-01"})
    response = case.call(auth=SharedKey(), timeout=30)
    assert response.status_code == 200
    case.validate_response(response, checks=[response_schema_conformance])
    broken = response.json() | {"state": 5, "creationTime": 7}
    bad = Response(response.status_code, response.headers, json.dumps(broken).encode(), response.request, 0.0, True)
    with pytest.raises(FailureGroup) as info:
        case.validate_response(bad, checks=[response_schema_conformance])
    assert "violates schema" in info.value.exceptions[0].title


# schemathesis' own pytest loader (from_fixture) needs a private attribute pytest 9 no longer has:
# the operations are parametrized here by id, and each is looked up in the document the server serves.
@pytest.mark.parametrize("operation_id", sorted(OPERATIONS, key=_order))
def test_no_server_error_and_answers_match_the_document(
    api_schema: Any, known: dict[str, str], operation_id: str
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    auth = SharedKey()

    @given(case=_cases(operation, known))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        SEEN[operation_id] = SEEN.get(operation_id, 0) + 1
        response = case.call(auth=auth, timeout=30)
        STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)

    run()
