"""What the service checks on every request before a handler acts: the `timeout` parameter, the
Content-Type of a body, an empty task collection, numbers JSON cannot hold, and the words of every
error (the service's own, never a library's)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from batchite.api.auth import sign, string_to_sign
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.e2e.helpers import Raw, error_of
from tests.sdk import job_options, pool_options

API = "2025-06-01"
POLL = 0.1


@pytest.fixture
def raw(endpoint: str) -> Iterator[Raw]:
    r = Raw(endpoint)
    yield r
    r.close()


@pytest.fixture(scope="module")
def job(endpoint: str) -> Iterator[str]:
    from tests.conftest import make_client

    client = make_client(endpoint)
    pool_id, job_id = "validation-pool", "validation-job"
    client.create_pool(pool_options(pool_id, dedicated=0))
    client.create_job(job_options(job_id, pool_id))
    yield job_id
    client.begin_delete_job(job_id, polling_interval=POLL).result()
    client.begin_delete_pool(pool_id, polling_interval=POLL).result()
    client.close()


def no_library_words(response: httpx.Response) -> None:
    """Nothing of msgspec's, pydantic's or Python's repr() in the message or any value."""
    body = response.json()
    texts = [body["message"]["value"], *(v["value"] for v in body.get("values") or [])]
    for text in texts:
        for leak in ("`", "Expected ", "msgspec", "Value error", "''", "\\n", "got ", "NoneType", "Traceback"):
            assert leak not in text, (leak, text)


# -- timeout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "30", "31", "3600", "2147483647"])
def test_a_timeout_of_at_least_1_second_is_accepted_and_above_30_means_30(raw: Raw, value: str) -> None:
    assert raw.request("GET", "/pools", [("timeOut", value)]).status_code == 200


def test_the_sdk_s_service_timeout_is_accepted(client: Any) -> None:
    assert isinstance(list(client.list_pools(service_timeout=5)), list)
    assert isinstance(list(client.list_pools(service_timeout=600)), list)


@pytest.mark.parametrize("value", ["0", "-1", "-30"])
def test_a_timeout_below_1_is_out_of_range(raw: Raw, value: str) -> None:
    response = raw.request("GET", "/pools", [("timeout", value)])
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "OutOfRangeQueryParameterValue"
    assert values["QueryParameterName"] == "timeout"
    assert values["QueryParameterValue"] == value
    no_library_words(response)


@pytest.mark.parametrize(
    "value", ["soon", "1.5", "+5", "2147483648", "99999999999999999999", "9" * 5000, "-" + "9" * 5000, "\u0663", ""]
)
def test_a_timeout_that_is_not_an_int32_is_invalid(raw: Raw, value: str) -> None:
    response = raw.request("GET", "/pools", [("timeOut", value)])
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidQueryParameterValue"
    assert values["QueryParameterName"] == "timeout"
    assert values["QueryParameterValue"] == value


# -- Content-Type -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; odata=minimalmetadata",
        "application/json;odata=minimalmetadata",
        "application/json; odata=minimalmetadata; charset=utf-8",
        "Application/JSON; charset=UTF-8",
    ],
)
def test_a_json_body_is_accepted_with_any_json_content_type(raw: Raw, client: Any, job: str, content_type: str) -> None:
    task_id = "ct-" + str(abs(hash(content_type)))
    body = {"id": task_id, "commandLine": "/bin/true"}
    response = raw.request("POST", f"/jobs/{job}/tasks", body=body, headers={"content-type": content_type})
    assert response.status_code == 201, response.text
    assert client.get_task(job, task_id).id == task_id


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_of_another_content_type_is_invalid_header_value(
    raw: Raw, client: Any, job: str, content_type: str
) -> None:
    body = {"id": "never-created", "commandLine": "/bin/true"}
    response = raw.request("POST", f"/jobs/{job}/tasks", body=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidHeaderValue"
    assert values["HeaderName"] == "Content-Type"
    assert values["HeaderValue"] == content_type
    with pytest.raises(HttpResponseError):
        client.get_task(job, "never-created")


def test_a_body_without_content_type_is_missing_required_header(endpoint: str, client: Any, job: str) -> None:
    content = json.dumps({"id": "never-created-2", "commandLine": "/bin/true"}).encode()
    path, query = f"/jobs/{job}/tasks", f"api-version={API}"
    headers = {"ocp-date": format_datetime(datetime.now(tz=UTC), usegmt=True), "content-length": str(len(content))}
    text = string_to_sign("POST", path, query, headers, DEV_ACCOUNT_NAME)
    headers["authorization"] = f"SharedKey {DEV_ACCOUNT_NAME}:{sign(base64.b64decode(DEV_ACCOUNT_KEY), text)}"
    with httpx.Client(base_url=endpoint) as http:
        request = http.build_request("POST", f"{path}?{query}", content=content, headers=headers)
        assert "content-type" not in request.headers
        response = http.send(request)
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "MissingRequiredHeader"
    assert values == {"HeaderName": "Content-Type"}
    with pytest.raises(HttpResponseError):
        client.get_task(job, "never-created-2")


def test_a_bodiless_action_with_any_content_type_is_served(raw: Raw, client: Any, uid: Any) -> None:
    # azure-batch 14.x sends Content-Type: application/json; ... on bodiless POSTs; nothing to check then.
    job_id = uid("ctjob")
    client.create_job(job_options(job_id, "validation-pool"))
    try:
        response = raw.request("POST", f"/jobs/{job_id}/terminate", headers={"content-type": "text/plain"})
        assert response.status_code == 202, response.text
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()


# -- task collections, numbers ------------------------------------------------------------------------


def test_an_empty_task_collection_is_invalid_property_value(raw: Raw, client: Any, job: str) -> None:
    response = raw.request("POST", f"/jobs/{job}/addtaskcollection", body={"value": []})
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidPropertyValue"
    assert values["PropertyName"] == "value"
    assert values["PropertyValue"] == "[]"
    no_library_words(response)
    # One task is a collection.
    one = raw.request("POST", f"/jobs/{job}/addtaskcollection", body={"value": [{"id": "one", "commandLine": "x"}]})
    assert one.status_code == 200, one.text
    assert [r["status"] for r in one.json()["value"]] == ["success"]


def test_an_empty_task_collection_is_refused_before_the_job_is_looked_for(raw: Raw) -> None:
    response = raw.request("POST", "/jobs/no-such-job-here/addtaskcollection", body={"value": []})
    assert response.status_code == 400
    assert error_of(response)[0] == "InvalidPropertyValue"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(raw: Raw, job: str, literal: bytes) -> None:
    body = b'{"id": "nan-task", "commandLine": "x", "requiredSlots": ' + literal + b"}"
    response = raw.request("POST", f"/jobs/{job}/tasks", body=body)
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidRequestBody"
    assert "not valid JSON" in values["Reason"]
    no_library_words(response)


def test_a_number_too_large_to_read_names_its_property_and_shows_no_value(raw: Raw, job: str) -> None:
    response = raw.request(
        "POST", f"/jobs/{job}/tasks", body=b'{"id": "big", "commandLine": "x", "requiredSlots": 1e999}'
    )
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidPropertyValue"
    assert values["PropertyName"] == "requiredSlots"
    assert "PropertyValue" not in values
    no_library_words(response)


# -- error text -------------------------------------------------------------------------------------------

HOSTILE: list[tuple[str, bytes, str, dict[str, str]]] = [
    ("id an object", b'{"id": {"a": 1}, "commandLine": "x"}', "InvalidPropertyValue", {"PropertyValue": '{"a":1}'}),
    ("id a list", b'{"id": ["a", 2], "commandLine": "x"}', "InvalidPropertyValue", {"PropertyValue": '["a",2]'}),
    ("id a number", b'{"id": 5, "commandLine": "x"}', "InvalidPropertyValue", {"PropertyValue": "5"}),
    ("id null", b'{"id": null, "commandLine": "x"}', "InvalidPropertyValue", {"PropertyValue": "null"}),
    (
        "slots a boolean",
        b'{"id": "t", "commandLine": "x", "requiredSlots": true}',
        "InvalidPropertyValue",
        {"PropertyValue": "true"},
    ),
    (
        "slots a fraction",
        b'{"id": "t", "commandLine": "x", "requiredSlots": 1.5}',
        "InvalidPropertyValue",
        {"PropertyValue": "1.5"},
    ),
    (
        "slots past int64",
        b'{"id": "t", "commandLine": "x", "requiredSlots": 9223372036854775808}',
        "InvalidPropertyValue",
        {"PropertyValue": "9223372036854775808"},
    ),
    (
        "an unknown enum",
        b'{"id": "t", "commandLine": "x", "userIdentity": {"autoUser": {"scope": "planet"}}}',
        "InvalidPropertyValue",
        {"PropertyName": "userIdentity.autoUser.scope", "PropertyValue": "planet"},
    ),
    (
        "the second list item",
        b'{"id": "t", "commandLine": "x", "resourceFiles": [{"httpUrl": "u"}, {"httpUrl": {"deep": [1]}}]}',
        "InvalidPropertyValue",
        {"PropertyName": "resourceFiles.httpUrl", "PropertyValue": '{"deep":[1]}'},
    ),
    (
        "a bad duration",
        b'{"id": "t", "commandLine": "x", "constraints": {"retentionTime": "soon"}}',
        "InvalidPropertyValue",
        {"PropertyValue": "soon"},
    ),
    (
        "a duration as a number",
        b'{"id": "t", "commandLine": "x", "constraints": {"retentionTime": 5}}',
        "InvalidPropertyValue",
        {"PropertyValue": "5"},
    ),
    (
        "an unknown job action",
        b'{"id": "t", "commandLine": "x", "exitConditions": {"default": {"jobAction": "explode"}}}',
        "InvalidPropertyValue",
        {"PropertyValue": "explode"},
    ),
    ("an array body", b"[1, 2]", "InvalidRequestBody", {}),
    ("a string body", b'"task"', "InvalidRequestBody", {}),
    ("truncated", b'{"id": "t", ', "InvalidRequestBody", {}),
    ("trailing comma", b'{"id": "t",}', "InvalidRequestBody", {}),
    ("not UTF-8", b'{"id": "t", "commandLine": "\xff"}', "InvalidRequestBody", {}),
    (
        "deeply nested",
        b'{"id": "t", "commandLine": "x", "environmentSettings": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "InvalidPropertyValue",
        {},
    ),
    (
        "deeply nested, unknown",
        b'{"id": "t", "commandLine": "x", "junk": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
        "InvalidRequestBody",
        {"Reason": "The body is nested too deeply."},
    ),
    ("missing commandLine", b'{"id": "t"}', "MissingRequiredProperty", {"PropertyName": "commandLine"}),
]


@pytest.mark.parametrize(("name", "body", "code", "expected"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_every_error_is_in_the_service_s_words(
    raw: Raw, job: str, name: str, body: bytes, code: str, expected: dict[str, str]
) -> None:
    response = raw.request("POST", f"/jobs/{job}/tasks", body=body)
    assert response.status_code == 400, response.text
    got, values = error_of(response)
    assert got == code, response.text
    for key, value in expected.items():
        assert values.get(key) == value, (key, values)
    if code == "InvalidPropertyValue":
        assert values["Reason"].endswith("."), values
    no_library_words(response)


def test_a_disable_option_that_does_not_exist_is_named_in_plain_words(raw: Raw, job: str) -> None:
    response = raw.request("POST", f"/jobs/{job}/disable", body={"disableTasks": "bogus"})
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidPropertyValue"
    assert values["PropertyName"] == "disableTasks"
    assert values["PropertyValue"] == "bogus"
    assert "DisableBatchJobOption" not in values["Reason"]
    no_library_words(response)


def test_a_long_offending_value_is_shown_cut(raw: Raw, job: str) -> None:
    long_list = ["x" * 100] * 50
    response = raw.request("POST", f"/jobs/{job}/tasks", body={"id": long_list, "commandLine": "x"})
    assert response.status_code == 400
    shown = error_of(response)[1]["PropertyValue"]
    assert shown.startswith('["xxx') and shown.endswith("...")
    assert len(shown) <= 1024 + 3


def test_the_string_to_sign_is_shown_as_it_is_signed(raw: Raw) -> None:
    wrong = base64.b64encode(b"not the right key at all, sorry!").decode()
    response = raw.request("GET", "/pools", key=wrong)
    assert response.status_code == 403
    detail = error_of(response)[1]["AuthenticationErrorDetail"]
    assert detail.startswith("The MAC signature found in the HTTP request '")
    _, _, signed = detail.partition("Server used following string to sign: '")
    assert signed.startswith("GET\n\n\n") and signed.endswith(f"\n/{DEV_ACCOUNT_NAME}/pools\napi-version:{API}'.")
    no_library_words(response)


# -- times and durations at the ends of the calendar ------------------------------------------------


def test_a_time_that_has_no_utc_date_is_invalid_property_value(raw: Raw) -> None:
    spec = {"poolInfo": {"poolId": "none"}}
    body = {"id": "t-year0", "schedule": {"doNotRunUntil": "0001-01-01T00:00:00+01:00"}, "jobSpecification": spec}
    response = raw.request("POST", "/jobschedules", body=body)
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "InvalidPropertyValue"
    assert values["PropertyName"] == "schedule.doNotRunUntil"
    no_library_words(response)
    assert raw.request("GET", "/jobschedules/t-year0").status_code == 404  # nothing half made


@pytest.mark.parametrize("duration", ["P3000000D", "P10000000D", "P10675199DT2H48M5.4775807S"])
def test_durations_past_the_last_date_never_end(raw: Raw, duration: str) -> None:
    """Azure takes any duration up to TimeSpan.MaxValue; added to now they pass the year 9999."""
    suffix = duration.lower().replace(".", "")
    schedule = {"doNotRunUntil": "2000-01-01T00:00:00Z", "recurrenceInterval": duration, "startWindow": duration}
    body = {"id": f"long-{suffix}", "schedule": schedule, "jobSpecification": {"poolInfo": {"poolId": "none"}}}
    assert raw.request("POST", "/jobschedules", body=body).status_code == 201
    job = {"id": f"longjob-{suffix}", "poolInfo": {"poolId": "none"}, "constraints": {"maxWallClockTime": duration}}
    assert raw.request("POST", "/jobs", body=job).status_code == 201
    assert raw.request("GET", f"/jobs/longjob-{suffix}").status_code == 200
    assert raw.request("DELETE", f"/jobschedules/long-{suffix}").status_code == 202
    assert raw.request("DELETE", f"/jobs/longjob-{suffix}").status_code == 202
