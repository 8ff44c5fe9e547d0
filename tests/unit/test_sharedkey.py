"""SharedKey: the string to sign (captured vectors), verification, and agreement with the SDK's own signer.

Vectors come from /work/shared/reference/clients.md sections 1.2-1.4 (azure-batch 15.1.0 on the wire,
account `acc`, key base64("0123456789abcdef0123456789abcdef")).
"""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchite.api import auth
from batchite.api.auth import authenticate, sign, string_to_sign
from batchite.domain.errors import BatchError
from batchite.service.accounts import Account, AccountRegistry

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
KEY2 = base64.b64encode(b"a second key, used after rotation").decode()
OTHER_KEY = base64.b64encode(b"not the key of this account at all").decode()
ACCOUNT = "acc"
OCP_DATE = "Wed, 25 Nov 2026 15:51:28 GMT"
WHEN = datetime(2026, 11, 25, 15, 51, 28, tzinfo=UTC)
JSON_TYPE = "application/json; odata=minimalmetadata"
# The twelve header lines of a request that signs none of the standard headers: "METHOD" + 12 newlines.
NO_HEADERS = "\n" * 12


def registry() -> AccountRegistry:
    return AccountRegistry([Account(ACCOUNT, [KEY, KEY2]), Account("other", [OTHER_KEY])])


def signed_headers(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    key: str = KEY,
    account: str = ACCOUNT,
    content_length: str | None = None,
) -> dict[str, str]:
    text = string_to_sign(method, raw_path, raw_query, headers, account, content_length)
    return {**headers, "authorization": f"SharedKey {account}:{sign(base64.b64decode(key), text)}"}


def auth_detail(err: BatchError) -> str:
    return dict(err.values).get("AuthenticationErrorDetail", "")


def assert_auth_failed(excinfo: pytest.ExceptionInfo[BatchError]) -> None:
    assert excinfo.value.status == 403
    assert excinfo.value.code == "AuthenticationFailed"
    assert auth_detail(excinfo.value)


# --------------------------------------------------------------------------------------------
# String to sign: the captured examples, exactly
# --------------------------------------------------------------------------------------------


def test_captured_get_pools() -> None:
    headers = {
        "user-agent": "azsdk-python-batch/15.1.0 Python/3.11.7 (Linux-...)",
        "accept": "application/json",
        "client-request-id": "1378498e-e8e8-11f1-85c5-02fc00000001",
        "ocp-date": OCP_DATE,
    }
    text = string_to_sign("GET", "/pools", "api-version=2025-06-01", headers, ACCOUNT)
    assert text == (
        "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Wed, 25 Nov 2026 15:51:28 GMT\n/acc/pools\napi-version:2025-06-01"
    )


def test_captured_get_pools_wire_request_verifies() -> None:
    """clients.md 1.4: the Authorization header captured on the wire for GET /pools."""
    headers = {
        "user-agent": "azsdk-python-batch/15.1.0 Python/3.11.7 (Linux-...)",
        "accept": "application/json",
        "client-request-id": "1378498e-e8e8-11f1-85c5-02fc00000001",
        "ocp-date": OCP_DATE,
        "authorization": "SharedKey acc:TTyxzz5W94wiMFnGuiBg99HHAT9QmLUQcrQWRpEdNTI=",
    }
    text = string_to_sign("GET", "/pools", "api-version=2025-06-01", headers, ACCOUNT)
    assert sign(base64.b64decode(KEY), text) == "TTyxzz5W94wiMFnGuiBg99HHAT9QmLUQcrQWRpEdNTI="
    only_primary = AccountRegistry([Account(ACCOUNT, [KEY])])
    assert authenticate(only_primary, "GET", "/pools", "api-version=2025-06-01", headers, WHEN) == ACCOUNT


def test_captured_post_jobs_with_content_length_47() -> None:
    headers = {
        "accept": "*/*",
        "content-type": JSON_TYPE,
        "content-length": "47",
        "client-request-id": "x",
        "ocp-date": OCP_DATE,
    }
    text = string_to_sign("POST", "/jobs", "api-version=2025-06-01", headers, ACCOUNT)
    assert text == (
        "POST\n\n\n47\n\napplication/json; odata=minimalmetadata\n\n\n\n\n\n\n"
        "ocp-date:Wed, 25 Nov 2026 15:51:28 GMT\n/acc/jobs\napi-version:2025-06-01"
    )


def test_captured_get_jobs_with_filter_and_select() -> None:
    raw_query = "api-version=2025-06-01&maxresults=10&$filter=state%20eq%20%27active%27&$select=id,state"
    text = string_to_sign("GET", "/jobs", raw_query, {"ocp-date": OCP_DATE}, ACCOUNT)
    assert text == (
        "GET" + NO_HEADERS + f"ocp-date:{OCP_DATE}\n/acc/jobs\n$filter:state eq 'active'\n$select:id,state\n"
        "api-version:2025-06-01\nmaxresults:10"
    )


def test_captured_post_with_content_length_0_header() -> None:
    raw_query = "api-version=2025-06-01&timeOut=30"
    headers = {"content-length": "0", "ocp-date": OCP_DATE}
    text = string_to_sign("POST", "/pools/p1/disableautoscale", raw_query, headers, ACCOUNT)
    assert text == (
        "POST\n\n\n0" + "\n" * 9 + f"ocp-date:{OCP_DATE}\n/acc/pools/p1/disableautoscale\n"
        "api-version:2025-06-01\ntimeOut:30"
    )


def test_post_without_content_length_signed_as_zero() -> None:
    raw_query = "api-version=2025-06-01&timeOut=30"
    text = string_to_sign(
        "POST", "/pools/p1/disableautoscale", raw_query, {"ocp-date": OCP_DATE}, ACCOUNT, content_length="0"
    )
    assert text == (
        "POST\n\n\n0" + "\n" * 9 + f"ocp-date:{OCP_DATE}\n/acc/pools/p1/disableautoscale\n"
        "api-version:2025-06-01\ntimeOut:30"
    )


def test_captured_patch_with_quoted_if_match() -> None:
    headers = {
        "content-type": JSON_TYPE,
        "content-length": "15",
        "if-match": '"0x8DC0000000000001"',
        "ocp-date": OCP_DATE,
    }
    text = string_to_sign("PATCH", "/jobs/j1", "api-version=2025-06-01", headers, ACCOUNT)
    assert text == (
        'PATCH\n\n\n15\n\napplication/json; odata=minimalmetadata\n\n\n"0x8DC0000000000001"\n\n\n\n'
        f"ocp-date:{OCP_DATE}\n/acc/jobs/j1\napi-version:2025-06-01"
    )


def test_captured_get_file_with_ocp_range() -> None:
    headers = {"accept": "application/octet-stream", "ocp-range": "bytes=0-100", "ocp-date": OCP_DATE}
    text = string_to_sign("GET", "/jobs/job1/tasks/t1/files/stdout.txt", "api-version=2025-06-01", headers, ACCOUNT)
    assert text == (
        "GET" + NO_HEADERS + f"ocp-date:{OCP_DATE}\nocp-range:bytes=0-100\n"
        "/acc/jobs/job1/tasks/t1/files/stdout.txt\napi-version:2025-06-01"
    )


def test_next_link_follow_decodes_skiptoken_value() -> None:
    raw_query = "api-version=2025-06-01&page=2&$skiptoken=abc%2Fdef"
    text = string_to_sign("GET", "/pools", raw_query, {"ocp-date": OCP_DATE}, ACCOUNT)
    assert text.endswith("/acc/pools\n$skiptoken:abc/def\napi-version:2025-06-01\npage:2")


def test_get_and_head_sign_an_empty_content_length() -> None:
    for method in ("GET", "HEAD"):
        text = string_to_sign(method, "/pools", "", {"ocp-date": OCP_DATE}, ACCOUNT)
        assert text.split("\n")[3] == ""


def test_twelve_lines_in_the_fixed_order() -> None:
    headers = {
        "content-encoding": "gzip",
        "content-language": "en",
        "content-length": "3",
        "content-md5": "md5",
        "content-type": "ct",
        "date": "dt",
        "if-modified-since": "ims",
        "if-match": "im",
        "if-none-match": "inm",
        "if-unmodified-since": "ius",
        "range": "bytes=1-2",
    }
    text = string_to_sign("put", "/x", "", headers, ACCOUNT)
    assert text.split("\n") == [
        "PUT",
        "gzip",
        "en",
        "3",
        "md5",
        "ct",
        "dt",
        "ims",
        "im",
        "inm",
        "ius",
        "bytes=1-2",
        "/acc/x",
    ]


def test_path_is_signed_as_sent_still_percent_encoded() -> None:
    text = string_to_sign("GET", "/jobs/a%20b/tasks/t%2F1", "api-version=1", {"ocp-date": OCP_DATE}, ACCOUNT)
    assert "\n/acc/jobs/a%20b/tasks/t%2F1\n" in text


def test_query_names_kept_as_sent_and_sorted_case_sensitively() -> None:
    text = string_to_sign("GET", "/x", "timeOut=30&api-version=1&Zeta=z&alpha=a", {}, ACCOUNT)
    assert text.endswith("/acc/x\nZeta:z\nalpha:a\napi-version:1\ntimeOut:30")


def test_query_empty_values_skipped_and_first_value_only() -> None:
    text = string_to_sign("GET", "/x", "api-version=1&$filter=&b=1&b=2&c", {}, ACCOUNT)
    assert text.endswith("/acc/x\napi-version:1\nb:1")


def test_ocp_headers_sorted_and_empty_ones_dropped() -> None:
    headers = {"ocp-range": "bytes=0-1", "ocp-date": OCP_DATE, "ocp-empty": "", "x-ocp-custom": "v"}
    text = string_to_sign("GET", "/x", "", headers, ACCOUNT)
    assert text == "GET" + NO_HEADERS + f"ocp-date:{OCP_DATE}\nocp-range:bytes=0-1\nx-ocp-custom:v\n/acc/x"


def test_non_ocp_headers_are_not_signed() -> None:
    base = string_to_sign("GET", "/x", "", {"ocp-date": OCP_DATE}, ACCOUNT)
    more = {"ocp-date": OCP_DATE, "client-request-id": "abc", "user-agent": "u", "accept": "*/*"}
    assert string_to_sign("GET", "/x", "", more, ACCOUNT) == base


# --------------------------------------------------------------------------------------------
# authenticate
# --------------------------------------------------------------------------------------------

GET_HEADERS = {"ocp-date": OCP_DATE, "accept": "application/json"}


def test_authenticate_primary_key() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS)
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN) == ACCOUNT


def test_authenticate_secondary_key() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS, key=KEY2)
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN) == ACCOUNT


def test_authenticate_second_account() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS, key=OTHER_KEY, account="other")
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN) == "other"


def test_wrong_key_rejected() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS, key=OTHER_KEY)
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


def test_another_accounts_key_does_not_sign_for_this_account() -> None:
    # A valid signature made with `other`'s key, but presented as account `acc`.
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS, key=OTHER_KEY, account=ACCOUNT)
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


def test_unknown_account_rejected() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS, account="nosuch")
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


def test_missing_authorization_header() -> None:
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", dict(GET_HEADERS), WHEN)
    assert_auth_failed(excinfo)


@pytest.mark.parametrize("value", ["Bearer eyJ0eXAiOiJKV1Qi", "Basic YWNjOmtleQ==", "SharedKeyLite acc:abc"])
def test_wrong_scheme_rejected(value: str) -> None:
    headers = {**GET_HEADERS, "authorization": value}
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


@pytest.mark.parametrize("value", ["SharedKey", "SharedKey acc", "SharedKey acc:", "SharedKey :c2ln"])
def test_malformed_credential_rejected(value: str) -> None:
    headers = {**GET_HEADERS, "authorization": value}
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


def test_tampered_request_rejected() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS)
    for path, query in [
        ("/jobs", "api-version=2025-06-01"),
        ("/pools", "api-version=2024-07-01.20.0"),
        ("/pools", "api-version=2025-06-01&maxresults=1"),
    ]:
        with pytest.raises(BatchError) as excinfo:
            authenticate(registry(), "GET", path, query, headers, WHEN)
        assert_auth_failed(excinfo)
    with pytest.raises(BatchError):
        authenticate(registry(), "DELETE", "/pools", "api-version=2025-06-01", headers, WHEN)


@pytest.mark.parametrize("skew", [timedelta(minutes=15, seconds=1), timedelta(minutes=16), timedelta(hours=3)])
@pytest.mark.parametrize("sign_of", [1, -1])
def test_clock_skew_over_15_minutes_rejected(skew: timedelta, sign_of: int) -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS)
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN + sign_of * skew)
    assert_auth_failed(excinfo)
    assert "15 minutes" in auth_detail(excinfo.value)


@pytest.mark.parametrize("skew", [timedelta(0), timedelta(minutes=14, seconds=59), timedelta(minutes=15)])
@pytest.mark.parametrize("sign_of", [1, -1])
def test_clock_skew_within_15_minutes_accepted(skew: timedelta, sign_of: int) -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS)
    now = WHEN + sign_of * skew
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, now) == ACCOUNT


def test_no_date_header_rejected() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", {"accept": "*/*"})
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


def test_unparseable_date_rejected() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", {"ocp-date": "yesterday"})
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)
    assert_auth_failed(excinfo)


def test_date_header_instead_of_ocp_date() -> None:
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", {"date": OCP_DATE})
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN) == ACCOUNT
    with pytest.raises(BatchError):
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN + timedelta(hours=1))


def test_ocp_date_wins_over_date_for_skew() -> None:
    stale = "Wed, 25 Nov 2026 10:00:00 GMT"
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", {"date": stale, "ocp-date": OCP_DATE})
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN) == ACCOUNT


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH"])
def test_missing_content_length_signed_as_zero_accepted(method: str) -> None:
    base = {"ocp-date": OCP_DATE}
    headers = signed_headers(method, "/pools/p1/disableautoscale", "api-version=2025-06-01", base, content_length="0")
    assert "content-length" not in headers
    got = authenticate(registry(), method, "/pools/p1/disableautoscale", "api-version=2025-06-01", headers, WHEN)
    assert got == ACCOUNT


def test_content_length_zero_header_accepted() -> None:
    base = {"ocp-date": OCP_DATE, "content-length": "0"}
    headers = signed_headers("POST", "/pools/p1/disableautoscale", "api-version=2025-06-01&timeOut=30", base)
    got = authenticate(
        registry(), "POST", "/pools/p1/disableautoscale", "api-version=2025-06-01&timeOut=30", headers, WHEN
    )
    assert got == ACCOUNT


def test_get_signed_with_zero_content_length_rejected() -> None:
    # The clients never sign "0" for GET/HEAD; the server must not accept it either.
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", GET_HEADERS, content_length="0")
    with pytest.raises(BatchError):
        authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers, WHEN)


def test_content_length_present_must_match_what_was_signed() -> None:
    base = {"ocp-date": OCP_DATE, "content-length": "47", "content-type": JSON_TYPE}
    headers = signed_headers("POST", "/jobs", "api-version=2025-06-01", base)
    assert authenticate(registry(), "POST", "/jobs", "api-version=2025-06-01", headers, WHEN) == ACCOUNT
    headers["content-length"] = "48"
    with pytest.raises(BatchError):
        authenticate(registry(), "POST", "/jobs", "api-version=2025-06-01", headers, WHEN)


def test_quoted_if_match_verified_as_sent() -> None:
    base = {"ocp-date": OCP_DATE, "content-length": "15", "content-type": JSON_TYPE, "if-match": '"0x8DC0000000000001"'}
    headers = signed_headers("PATCH", "/jobs/j1", "api-version=2025-06-01", base)
    assert authenticate(registry(), "PATCH", "/jobs/j1", "api-version=2025-06-01", headers, WHEN) == ACCOUNT
    headers["if-match"] = "0x8DC0000000000001"  # quotes stripped by someone: no longer what was signed
    with pytest.raises(BatchError):
        authenticate(registry(), "PATCH", "/jobs/j1", "api-version=2025-06-01", headers, WHEN)


def test_default_now_is_the_wall_clock() -> None:
    now = datetime.now(tz=UTC)
    date = now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers = signed_headers("GET", "/pools", "api-version=2025-06-01", {"ocp-date": date})
    assert authenticate(registry(), "GET", "/pools", "api-version=2025-06-01", headers) == ACCOUNT


def test_max_clock_skew_is_15_minutes() -> None:
    assert timedelta(minutes=15) == auth.MAX_CLOCK_SKEW


# --------------------------------------------------------------------------------------------
# Cross-check with the official SDK's signer (azure-batch 15.1.0 BatchSharedKeyAuthPolicy)
# --------------------------------------------------------------------------------------------

sdk_patch = pytest.importorskip("azure.batch._patch")


class _Captured(Exception):
    pass


def _sdk_sign(method: str, url: str, headers: dict[str, str] | None = None, body: str | None = None) -> tuple[Any, str]:
    """Run the SDK policy's on_request on an azure.core HttpRequest; return (request, SDK string to sign)."""
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.rest import HttpRequest

    request = HttpRequest(method, url, headers=headers or {}, content=body)
    policy = sdk_patch.BatchSharedKeyAuthPolicy(AzureNamedKeyCredential(ACCOUNT, KEY))
    seen: list[str] = []
    original = policy._sign_string

    def spy(text: str) -> str:
        seen.append(text)
        return original(text)

    policy._sign_string = spy  # type: ignore[method-assign]
    policy.on_request(PipelineRequest(request, PipelineContext(None)))
    assert len(seen) == 1
    return request, seen[0]


def _server_view(request: Any, add_transport_content_length: bool) -> tuple[str, str, dict[str, str]]:
    """What the server sees: raw path, raw query, lower-cased header names (as Starlette gives them)."""
    parts = urlsplit(request.url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    if add_transport_content_length and request.method not in ("GET", "HEAD"):
        headers.setdefault("content-length", "0")  # what the transport sends for a bodiless request
    return parts.path, parts.query, headers


SDK_CASES = [
    ("GET", "/pools?api-version=2025-06-01", {}, None),
    ("GET", "/jobs?api-version=2025-06-01&maxresults=10&$filter=state%20eq%20%27active%27&$select=id,state", {}, None),
    ("GET", "/pools?api-version=2025-06-01&page=2&$skiptoken=abc%2Fdef", {}, None),
    (
        "POST",
        "/jobs?api-version=2025-06-01",
        {"content-type": JSON_TYPE},
        '{"id": "job1", "poolInfo": {"poolId": "pool1"}}',
    ),
    ("POST", "/pools/p1/disableautoscale?api-version=2025-06-01&timeOut=30", {}, None),
    ("DELETE", "/jobs/x?api-version=2025-06-01", {}, None),
    (
        "PATCH",
        "/jobs/j1?api-version=2025-06-01",
        {"content-type": JSON_TYPE, "If-Match": '"0x8DC0000000000001"'},
        '{"priority": 1}',
    ),
    ("GET", "/jobs/job1/tasks/t1/files/stdout.txt?api-version=2025-06-01", {"ocp-range": "bytes=0-100"}, None),
    (
        "HEAD",
        "/jobs/job1/tasks/t1/files/stdout.txt?api-version=2025-06-01",
        {"If-Modified-Since": "Tue, 24 Nov 2026 10:00:00 GMT"},
        None,
    ),
    ("GET", "/jobs/a%20b/tasks/t%2F1?api-version=2025-06-01&timeOut=5", {"If-None-Match": '"0x1"'}, None),
]


@pytest.mark.parametrize("add_cl", [False, True], ids=["as-signed", "with-transport-content-length"])
@pytest.mark.parametrize(("method", "target", "headers", "body"), SDK_CASES)
def test_sdk_signed_request_verifies(
    method: str, target: str, headers: dict[str, str], body: str | None, add_cl: bool
) -> None:
    request, sdk_text = _sdk_sign(method, "http://127.0.0.1:8080" + target, {"ocp-date": OCP_DATE, **headers}, body)
    path, query, seen = _server_view(request, add_cl)
    content_length = "0" if "content-length" not in seen and method not in ("GET", "HEAD") else None
    assert string_to_sign(method, path, query, seen, ACCOUNT, content_length) == sdk_text
    assert authenticate(registry(), method, path, query, seen, WHEN) == ACCOUNT


def test_sdk_signer_sets_ocp_date_and_verifies_now() -> None:
    request, _ = _sdk_sign("GET", "http://127.0.0.1:8080/pools?api-version=2025-06-01")
    assert request.headers.get("ocp-date")
    path, query, seen = _server_view(request, False)
    assert authenticate(registry(), "GET", path, query, seen) == ACCOUNT


def test_sdk_signature_with_other_key_fails() -> None:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.rest import HttpRequest

    request = HttpRequest("GET", "http://h/pools?api-version=2025-06-01", headers={"ocp-date": OCP_DATE})
    policy = sdk_patch.BatchSharedKeyAuthPolicy(AzureNamedKeyCredential(ACCOUNT, OTHER_KEY))
    policy.on_request(PipelineRequest(request, PipelineContext(None)))
    path, query, seen = _server_view(request, False)
    with pytest.raises(BatchError) as excinfo:
        authenticate(registry(), "GET", path, query, seen, WHEN)
    assert_auth_failed(excinfo)


class _CaptureTransport:
    """An azure-core transport that records the signed request and stops the pipeline."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.requests.append(request)
        raise _Captured()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _CaptureTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


def _client_calls() -> list[tuple[str, Any]]:
    from azure.batch import models
    from azure.core import MatchConditions

    return [
        ("get_job", lambda c: c.get_job("j1", ocp_date=WHEN)),
        (
            "list_jobs",
            lambda c: next(
                iter(c.list_jobs(ocp_date=WHEN, filter="state eq 'active'", select=["id", "state"], max_results=10))
            ),
        ),
        (
            "update_job",
            lambda c: c.update_job(
                "j1",
                models.BatchJobUpdateOptions(priority=1),
                etag="0x8DC0000000000001",
                match_condition=MatchConditions.IfNotModified,
                ocp_date=WHEN,
            ),
        ),
        ("disable_pool_auto_scale", lambda c: c.disable_pool_auto_scale("p1", service_timeout=30, ocp_date=WHEN)),
        (
            "download_task_file",
            lambda c: c.download_task_file("job1", "t1", "stdout.txt", ocp_range="bytes=0-100", ocp_date=WHEN),
        ),
        (
            "create_job",
            lambda c: c.create_job(
                models.BatchJobCreateOptions(id="job1", pool_info=models.BatchPoolInfo(pool_id="pool1")), ocp_date=WHEN
            ),
        ),
        ("get_task", lambda c: c.get_task("job 1", "t/1", ocp_date=WHEN, if_modified_since=WHEN - timedelta(days=1))),
    ]


@pytest.mark.parametrize("name", [n for n, _ in _client_calls()])
def test_sdk_client_pipeline_requests_verify(name: str) -> None:
    """Whole BatchClient pipeline (header quoting, query building, policy order) up to the wire."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    call = dict(_client_calls())[name]
    transport = _CaptureTransport()
    client = BatchClient(
        endpoint="http://127.0.0.1:8080",
        credential=AzureNamedKeyCredential(ACCOUNT, KEY2),
        transport=transport,
        retry_total=0,
    )
    with pytest.raises(_Captured):
        call(client)
    request = transport.requests[-1]
    assert request.headers["Authorization"].startswith(f"SharedKey {ACCOUNT}:")
    for add_cl in (False, True):
        path, query, seen = _server_view(request, add_cl)
        assert authenticate(registry(), request.method, path, query, seen, WHEN) == ACCOUNT


# Property: for arbitrary query parameters, ocp- headers and conditional headers, whatever the SDK
# signs, Batchite verifies (and reproduces the very same string to sign).
_name_chars = string.ascii_letters + string.digits + "$-_."
_value_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
_query = st.lists(  # names given once each (a repeated one is refused: test_sharedkey_ambiguity)
    st.tuples(st.text(_name_chars, min_size=1, max_size=8), st.text(_value_chars, max_size=12)),
    max_size=5,
    unique_by=lambda item: item[0].lower(),
).filter(lambda items: all(name.lower() != "api-version" for name, _ in items))
_header_value = st.text(string.ascii_letters + string.digits + ' ",=-:/;', min_size=1, max_size=20).map(str.strip)
_ocp = st.dictionaries(
    st.text(string.ascii_lowercase + "-", min_size=1, max_size=8)
    .map(lambda s: "ocp-" + s)
    .filter(lambda n: n != "ocp-date"),
    _header_value.filter(bool),
    max_size=3,
)
_std = st.dictionaries(
    st.sampled_from(
        [
            "If-Match",
            "If-None-Match",
            "If-Modified-Since",
            "If-Unmodified-Since",
            "content-type",
            "Content-Encoding",
            "Content-Language",
            "Content-MD5",
            "Range",
        ]
    ),
    _header_value.filter(bool),
    max_size=4,
)
_segment = st.text(string.ascii_letters + string.digits + " -_.~%/", min_size=1, max_size=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    segments=st.lists(_segment, min_size=1, max_size=3),
    query=_query,
    ocp=_ocp,
    std=_std,
    body=st.one_of(st.none(), st.text(max_size=30)),
    add_cl=st.booleans(),
)
def test_property_sdk_signature_always_verifies(
    method: str,
    segments: list[str],
    query: list[tuple[str, str]],
    ocp: dict[str, str],
    std: dict[str, str],
    body: str | None,
    add_cl: bool,
) -> None:
    path = "".join("/" + quote(s, safe="") for s in segments)
    qs = "&".join(f"{quote(n, safe='$')}={quote(v, safe='')}" for n, v in [("api-version", "2025-06-01"), *query])
    if method in ("GET", "HEAD"):
        body = None
    request, sdk_text = _sdk_sign(
        method, f"http://127.0.0.1:8080{path}?{qs}", {"ocp-date": OCP_DATE, **ocp, **std}, body
    )
    raw_path, raw_query, seen = _server_view(request, add_cl)
    content_length = "0" if "content-length" not in seen and method not in ("GET", "HEAD") else None
    assert string_to_sign(method, raw_path, raw_query, seen, ACCOUNT, content_length) == sdk_text
    assert authenticate(registry(), method, raw_path, raw_query, seen, WHEN) == ACCOUNT
