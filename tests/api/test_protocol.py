"""The wire protocol, by hand (httpx) for what no official client sends, else through azure-batch 15.1.0.

Requests are signed with batchite's own SharedKey string-to-sign, which is verified against the
clients in tests of their own; here it only lets us send requests the SDK will not build.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError

from batchite.api.auth import sign, string_to_sign
from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client
from tests.e2e.helpers import Raw
from tests.sdk import job_options, pool_options

API = "2025-06-01"
JSON_CT = "application/json; odata=minimalmetadata"
POLL = 0.1


@pytest.fixture
def raw(endpoint: str) -> Iterator[Raw]:
    r = Raw(endpoint)
    yield r
    r.close()


@pytest.fixture
def pool(client: Any, uid: Any) -> Iterator[str]:
    pool_id = uid("ppool")
    client.create_pool(pool_options(pool_id, dedicated=0))
    yield pool_id
    client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def error_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    body = response.json()
    assert set(body["message"]) >= {"lang", "value"}
    return body["code"], {v["key"]: v["value"] for v in body.get("values") or []}


# -- authentication -------------------------------------------------------------------------------


def _assert_auth_failed(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    code, values = error_of(response)
    assert code == "AuthenticationFailed"
    assert values.get("AuthenticationErrorDetail")
    assert response.headers.get("request-id")


def test_a_signed_request_is_accepted(raw: Raw) -> None:
    response = raw.request("GET", "/pools")
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["value"], list)


def test_wrong_signature_is_authentication_failed(raw: Raw) -> None:
    wrong_key = base64.b64encode(b"not the right key at all, sorry!").decode()
    _assert_auth_failed(raw.request("GET", "/pools", key=wrong_key))
    # A signature over another path does not pass for this one either.
    good = raw.request("GET", "/jobs")
    assert good.status_code == 200
    date = datetime.now(tz=UTC)
    h = {"ocp-date": format_datetime(date, usegmt=True)}
    text = string_to_sign("GET", "/jobs", f"api-version={API}", h, DEV_ACCOUNT_NAME)
    auth = f"SharedKey {DEV_ACCOUNT_NAME}:{sign(base64.b64decode(DEV_ACCOUNT_KEY), text)}"
    _assert_auth_failed(raw.request("GET", "/pools", date=date, authorization=auth))


def test_unknown_account_is_authentication_failed(raw: Raw) -> None:
    _assert_auth_failed(raw.request("GET", "/pools", account="nosuchaccount"))


def test_missing_authorization_is_authentication_failed(raw: Raw) -> None:
    _assert_auth_failed(raw.request("GET", "/pools", signed=False))


@pytest.mark.parametrize("minutes", [20, -20])
def test_ocp_date_20_minutes_off_is_authentication_failed(raw: Raw, minutes: int) -> None:
    when = datetime.now(tz=UTC) + timedelta(minutes=minutes)
    _assert_auth_failed(raw.request("GET", "/pools", date=when))
    # Within the 15 minutes the same request passes.
    ok = raw.request("GET", "/pools", date=datetime.now(tz=UTC) + timedelta(minutes=minutes // 4))
    assert ok.status_code == 200


# -- query parameters, common headers -----------------------------------------------------------


def test_missing_api_version_is_missing_required_query_parameter(raw: Raw) -> None:
    response = raw.request("GET", "/pools", api_version=None)
    assert response.status_code == 400, response.text
    code, values = error_of(response)
    assert code == "MissingRequiredQueryParameter"
    assert values.get("QueryParameterName") == "api-version"


@pytest.mark.parametrize("name", ["timeOut", "timeout"])
def test_timeout_is_accepted_in_either_spelling(raw: Raw, name: str) -> None:
    assert raw.request("GET", "/pools", [(name, "30")]).status_code == 200
    bad = raw.request("GET", "/pools", [(name, "soon")])
    assert bad.status_code == 400
    assert error_of(bad)[0] == "InvalidQueryParameterValue"


def test_request_id_on_every_response(raw: Raw, pool: str) -> None:
    responses = [
        raw.request("GET", "/pools"),
        raw.request("GET", f"/pools/{pool}"),
        raw.request("HEAD", f"/pools/{pool}"),
        raw.request("GET", "/pools/no-such-pool-here"),
        raw.request("HEAD", "/pools/no-such-pool-here"),
        raw.request("GET", "/pools", signed=False),
        raw.request("GET", "/pools", api_version=None),
        raw.request("POST", "/pools", body=b"{not json"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 404, 403, 400, 400]
    ids = [r.headers.get("request-id") for r in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)


def test_client_request_id_echoed_only_when_asked(raw: Raw) -> None:
    crid = "9c4b7a3e-1f2d-4c5b-8a9e-0123456789ab"
    echoed = raw.request("GET", "/pools", headers={"client-request-id": crid, "return-client-request-id": "true"})
    assert echoed.status_code == 200
    assert echoed.headers.get("client-request-id") == crid
    quiet = raw.request("GET", "/pools", headers={"client-request-id": crid})
    assert quiet.status_code == 200
    assert "client-request-id" not in quiet.headers
    failed = raw.request(
        "GET", "/pools/nope-nope", headers={"client-request-id": crid, "return-client-request-id": "true"}
    )
    assert failed.status_code == 404
    assert failed.headers.get("client-request-id") == crid


def test_etag_and_last_modified_on_get(raw: Raw, client: Any, pool: str) -> None:
    response = raw.request("GET", f"/pools/{pool}")
    assert response.status_code == 200
    etag, last_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    assert etag and last_modified
    assert last_modified.endswith(" GMT")
    body = response.json()
    assert body["eTag"] == etag.strip('"')
    assert response.headers["content-type"].startswith("application/json")
    assert body["odata.metadata"].startswith("http://")
    # The ETag moves with a change, and If-None-Match with the current one is 304.
    assert raw.request("GET", f"/pools/{pool}", headers={"If-None-Match": etag}).status_code == 304
    client.update_pool(pool, {"metadata": [{"name": "x", "value": "y"}]})
    after = raw.request("GET", f"/pools/{pool}")
    assert after.headers["ETag"] != etag
    assert raw.request("GET", f"/pools/{pool}", headers={"If-None-Match": etag}).status_code == 200


def test_malformed_json_body_is_invalid_request_body(raw: Raw, uid: Any) -> None:
    response = raw.request("POST", "/jobs", body=b'{"id": "x", "poolInfo": ')
    assert response.status_code == 400, response.text
    assert error_of(response)[0] == "InvalidRequestBody"


def test_more_than_100_tasks_in_one_collection_is_request_body_too_large(
    raw: Raw, client: Any, uid: Any, pool: str
) -> None:
    job_id = uid("pjob")
    client.create_job(job_options(job_id, pool))
    try:
        body = {"value": [{"id": f"t{i}", "commandLine": "/bin/true"} for i in range(101)]}
        response = raw.request("POST", f"/jobs/{job_id}/addtaskcollection", body=body)
        assert response.status_code == 413, response.text
        assert error_of(response)[0] == "RequestBodyTooLarge"
        assert list(client.list_tasks(job_id)) == []
        exactly = {"value": body["value"][:100]}
        ok = raw.request("POST", f"/jobs/{job_id}/addtaskcollection", body=exactly)
        assert ok.status_code == 200
        assert len(ok.json()["value"]) == 100
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()


def test_numeric_string_and_missing_image_version_as_az_cli_sends_them(raw: Raw, client: Any, uid: Any) -> None:
    pool_id = uid("azpool")
    body = {
        "id": pool_id,
        "vmSize": "standard_d2s_v3",
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-focal", "sku": "20_04-lts"},
            "nodeAgentSKUId": "batch.node.ubuntu 20.04",
        },
        "targetDedicatedNodes": "1",
    }
    response = raw.request("POST", "/pools", body=body)
    assert response.status_code == 201, response.text
    try:
        pool = client.get_pool(pool_id)
        assert pool.target_dedicated_nodes == 1
        assert pool.virtual_machine_configuration.image_reference.version == "latest"
        raw_pool = raw.request("GET", f"/pools/{pool_id}").json()
        assert raw_pool["targetDedicatedNodes"] == 1  # a number again on the way out
    finally:
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def test_terminate_job_with_an_empty_body_as_older_clients_send_it(raw: Raw, client: Any, uid: Any, pool: str) -> None:
    # 14.x / az send no body (and azure-batch 15.1.0 cannot terminate without a reason at all).
    job_id = uid("tjob")
    client.create_job(job_options(job_id, pool))
    try:
        response = raw.request("POST", f"/jobs/{job_id}/terminate", headers={"content-type": JSON_CT})
        assert response.status_code == 202, response.text
        job = client.get_job(job_id)
        assert job.state == "completed"
        assert job.execution_info.termination_reason == "UserTerminate"
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()


def test_next_link_is_absolute_and_carries_maxresults(raw: Raw, client: Any, uid: Any, endpoint: str) -> None:
    ids = [uid(f"nl{i}") for i in range(2)]
    for pool_id in ids:
        client.create_pool(pool_options(pool_id, dedicated=0))
    try:
        first = raw.request("GET", "/pools", [("maxresults", "1")])
        assert first.status_code == 200
        body = first.json()
        assert len(body["value"]) == 1
        link = body["odata.nextLink"]
        assert link.startswith(endpoint + "/pools?")
        parts = urlsplit(link)
        query = parse_qs(parts.query)
        assert query["maxresults"] == ["1"]

        # Following it (as the SDK does: same path and query, re-signed) gives the next pool.
        params = [(n, v[0]) for n, v in query.items() if n != "api-version"]
        second = raw.request("GET", parts.path, params)
        assert second.status_code == 200
        assert len(second.json()["value"]) == 1
        assert second.json()["value"][0]["id"] != body["value"][0]["id"]
    finally:
        for pool_id in ids:
            client.begin_delete_pool(pool_id, polling_interval=POLL).result()


# -- accounts ---------------------------------------------------------------------------------------

OTHER_NAME = "otheraccount"
OTHER_KEY = base64.b64encode(b"the other account's key, 32 byte").decode()


@pytest.fixture
def two_accounts(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChildServer]:
    # start_child_server passes os.environ to the child; it has no env parameter of its own.
    monkeypatch.setenv("BATCHITE_ACCOUNTS", f"{DEV_ACCOUNT_NAME}:{DEV_ACCOUNT_KEY};{OTHER_NAME}:{OTHER_KEY}")
    child = start_child_server(tmp_path / "data")
    yield child
    child.stop()


def test_accounts_do_not_see_each_others_resources(two_accounts: ChildServer) -> None:
    dev = make_client(two_accounts.endpoint)
    other = make_client(two_accounts.endpoint, OTHER_NAME, OTHER_KEY)
    try:
        dev.create_pool(pool_options("shared-name", dedicated=0))
        dev.create_job(job_options("dev-job", "shared-name"))
        assert [p.id for p in dev.list_pools()] == ["shared-name"]

        assert list(other.list_pools()) == []
        assert list(other.list_jobs()) == []
        with pytest.raises(ResourceNotFoundError) as info:
            other.get_pool("shared-name")
        assert info.value.error.code == "PoolNotFound"
        with pytest.raises(ResourceNotFoundError):
            other.get_job("dev-job")

        # The same id is free in the other account, and stays separate.
        other.create_pool(pool_options("shared-name", dedicated=0, metadata=[{"name": "owner", "value": "other"}]))
        assert [p.id for p in other.list_pools()] == ["shared-name"]
        assert not dev.get_pool("shared-name").metadata
        other.begin_delete_pool("shared-name", polling_interval=POLL).result()
        assert dev.get_pool("shared-name").id == "shared-name"

        # A key of one account does not sign for the other.
        wrong = make_client(two_accounts.endpoint, OTHER_NAME, DEV_ACCOUNT_KEY)
        with pytest.raises(Exception) as err:
            list(wrong.list_pools())
        assert getattr(err.value, "status_code", None) == 403
        wrong.close()
    finally:
        dev.close()
        other.close()


def test_if_match_on_update_with_a_stale_etag_is_412(client: Any, pool: str) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError

    etag = client.get_pool(pool).etag
    client.update_pool(
        pool, {"metadata": [{"name": "v", "value": "1"}]}, etag=etag, match_condition=MatchConditions.IfNotModified
    )
    with pytest.raises(ResourceModifiedError) as info:
        client.update_pool(
            pool, {"metadata": [{"name": "v", "value": "2"}]}, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    assert info.value.status_code == 412
    assert [(i.name, i.value) for i in client.get_pool(pool).metadata] == [("v", "1")]


def test_no_such_resource_or_verb_is_the_batch_error(endpoint: str) -> None:
    """What no client sends: a path that names no resource (404 InvalidUri with its path) and a verb
    a resource does not take (405 UnsupportedHttpVerb), as the Batch error body."""
    unknown = httpx.get(f"{endpoint}/no/such/resource")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "InvalidUri"
    assert unknown.json()["values"] == [{"key": "UriPath", "value": "/no/such/resource"}]
    verb = httpx.delete(f"{endpoint}/_batchite/health")
    assert verb.status_code == 405
    assert verb.json()["code"] == "UnsupportedHttpVerb"
    assert "DELETE" in verb.json()["message"]["value"]
