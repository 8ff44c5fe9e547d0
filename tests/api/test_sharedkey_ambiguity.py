"""SharedKey requests whose signature could be read two ways are refused (hand-written: no official
client sends them), and no answer tells whether an account exists."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from batchite.api.auth import sign, string_to_sign
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.e2e.helpers import Raw
from tests.sdk import job_options, pool_options

API = "2025-06-01"


@pytest.fixture
def raw(endpoint: str) -> Iterator[Raw]:
    r = Raw(endpoint)
    yield r
    r.close()


def signed(method: str, path: str, query: str, headers: dict[str, str], account: str = DEV_ACCOUNT_NAME) -> str:
    text = string_to_sign(method, path, query, headers, account)
    return f"SharedKey {account}:{sign(base64.b64decode(DEV_ACCOUNT_KEY), text)}"


def detail(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["code"] == "AuthenticationFailed"
    return {v["key"]: v["value"] for v in body["values"]}["AuthenticationErrorDetail"]


def test_a_parameter_given_twice_is_refused_and_nothing_is_deleted(
    endpoint: str, client: Any, uid: Any, raw: Raw
) -> None:
    pool_id, job_id = uid("dup"), uid("dupjob")
    client.create_pool(pool_options(pool_id, dedicated=0))
    client.create_job(job_options(job_id, pool_id))
    try:
        query = f"api-version={API}&force=false&force=true"
        path = f"/jobs/{job_id}"
        headers = {"ocp-date": format_datetime(datetime.now(tz=UTC), usegmt=True), "content-length": "0"}
        headers["authorization"] = signed("DELETE", path, query, headers)
        with httpx.Client(base_url=endpoint) as http:
            response = http.delete(f"{path}?{query}", headers=headers)
        assert "more than once" in detail(response)
        assert client.get_job(job_id).state == "active"
    finally:
        client.begin_delete_job(job_id, polling_interval=0.1).result()
        client.begin_delete_pool(pool_id, polling_interval=0.1).result()


def test_a_signed_header_given_twice_is_refused(endpoint: str) -> None:
    query = f"api-version={API}"
    date = format_datetime(datetime.now(tz=UTC), usegmt=True)
    good = signed("GET", "/pools", query, {"ocp-date": date})
    for pairs in (
        [("ocp-date", date), ("authorization", "SharedKey nobody:AAAA"), ("authorization", good)],
        [("ocp-date", date), ("ocp-date", date), ("authorization", good)],
    ):
        with httpx.Client(base_url=endpoint) as http:
            response = http.get(f"/pools?{query}", headers=httpx.Headers(pairs))
        assert "more than once" in detail(response)


def test_a_chunked_body_is_refused(endpoint: str) -> None:
    query = f"api-version={API}"
    headers = {"ocp-date": format_datetime(datetime.now(tz=UTC), usegmt=True), "content-type": "application/json"}
    headers["authorization"] = signed("POST", "/pools", query, headers)

    def body() -> Iterator[bytes]:
        yield b'{"id": "chunked-pool", "vmSize": "standard_d2s_v3"}'

    with httpx.Client(base_url=endpoint) as http:
        response = http.post(f"/pools?{query}", headers=headers, content=body())
    assert "chunked" in detail(response)


def test_spaces_around_the_credential_are_refused(endpoint: str) -> None:
    query = f"api-version={API}"
    headers = {"ocp-date": format_datetime(datetime.now(tz=UTC), usegmt=True)}
    credential = signed("GET", "/pools", query, headers).removeprefix("SharedKey ")
    for header in (f"SharedKey  {credential}", f"SharedKey {credential.replace(':', ': ')}"):
        with httpx.Client(base_url=endpoint) as http:
            response = http.get(f"/pools?{query}", headers={**headers, "authorization": header})
        assert detail(response).startswith("The Authorization header must be")


def test_an_unknown_account_is_answered_as_a_wrong_signature(endpoint: str, raw: Raw) -> None:
    unknown = detail(raw.request("GET", "/pools", account="noaccounthere"))
    wrong = detail(raw.request("GET", "/pools", key=base64.b64encode(b"not the key").decode()))
    assert "noaccounthere" not in unknown.split("Server used")[0]
    assert unknown.split("'")[0] == wrong.split("'")[0]  # the same words, whatever the account
    with httpx.Client(base_url=endpoint) as http:
        health = http.get("/_batchite/health").json()
    assert health["status"] == "ok" and "accounts" not in health
