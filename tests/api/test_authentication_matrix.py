"""The SharedKey attack matrix: every forged, stale, ambiguous or malformed credential is refused
(403 AuthenticationFailed, or the protocol's 431 for a header too large to read), and no answer
tells whether the account or the entity asked for exists.

Each attack is sent twice, for a pool that exists and for one that does not: the two answers
must be the same apart from the request id, the time, the pool id and the signature sent.
A server of its own holds two accounts, so that one account's key can be tried for the other.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from batchite.api.auth import sign, string_to_sign
from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client
from tests.sdk import pool_options

API = "2025-06-01"
OTHER_NAME = "otheraccount"
OTHER_KEY = base64.b64encode(b"the other account's key, 32 byte").decode()
WRONG_KEY = base64.b64encode(b"a key that is nobody's at all 32").decode()
EXISTING = "matrix-pool"
MISSING = "matrix-missing"
QUERY = f"api-version={API}"


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    accounts = f"{DEV_ACCOUNT_NAME}:{DEV_ACCOUNT_KEY};{OTHER_NAME}:{OTHER_KEY}"
    child = start_child_server(tmp_path_factory.mktemp("matrix"), env={"BATCHITE_ACCOUNTS": accounts})
    client = make_client(child.endpoint)
    client.create_pool(pool_options(EXISTING, dedicated=0))
    client.close()
    yield child
    child.stop()


def now_text(shift: timedelta = timedelta(0)) -> str:
    return format_datetime(datetime.now(tz=UTC) + shift, usegmt=True)


def signature(method: str, path: str, query: str, headers: dict[str, str], account: str, key: str) -> str:
    return sign(base64.b64decode(key), string_to_sign(method, path, query, headers, account))


@dataclass
class Sent:
    method: str
    url: str
    headers: list[tuple[str, str]]
    content: bytes | None = None


def good(path: str, method: str = "GET") -> Sent:
    """The request an official client would send (the positive control)."""
    headers = {"ocp-date": now_text()}
    if method != "GET":
        headers["content-length"] = "0"
    auth = f"SharedKey {DEV_ACCOUNT_NAME}:{signature(method, path, QUERY, headers, DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)}"
    return Sent(method, f"{path}?{QUERY}", [*headers.items(), ("authorization", auth)])


def signed_as(
    path: str,
    *,
    account: str = DEV_ACCOUNT_NAME,
    key: str = DEV_ACCOUNT_KEY,
    sign_path: str | None = None,
    sign_query: str = QUERY,
    send_query: str = QUERY,
    sign_method: str = "GET",
    method: str = "GET",
    date: str | None = "now",
    date_header: str = "ocp-date",
    extra: dict[str, str] | None = None,
    sign_extra: dict[str, str] | None = None,
    content: bytes | None = None,
    scheme: str = "SharedKey",
) -> Sent:
    """A request whose signature was made over something else than what is sent."""
    headers = dict(extra or {})
    if date is not None:
        headers[date_header] = now_text() if date == "now" else date
    if content is not None:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(content))
    elif method != "GET":
        headers["content-length"] = "0"
    signed_headers = {**headers, **(sign_extra or {})}
    mac = signature(sign_method, sign_path or path, sign_query, signed_headers, account, key)
    return Sent(
        method, f"{path}?{send_query}", [*headers.items(), ("authorization", f"{scheme} {account}:{mac}")], content
    )


def with_authorization(path: str, *values: str) -> Sent:
    return Sent("GET", f"{path}?{QUERY}", [("ocp-date", now_text()), *(("authorization", v) for v in values)])


def dev_mac(path: str) -> str:
    return signature("GET", path, QUERY, {"ocp-date": now_text()}, DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY)


ATTACKS: dict[str, Callable[[str], Sent]] = {
    "wrong key": lambda p: signed_as(p, key=WRONG_KEY),
    "the other account's key": lambda p: signed_as(p, key=OTHER_KEY),
    "this key for the other account": lambda p: signed_as(p, account=OTHER_NAME, key=DEV_ACCOUNT_KEY),
    "an account that does not exist": lambda p: signed_as(p, account="nosuchaccount", key=DEV_ACCOUNT_KEY),
    "signed over another path": lambda p: signed_as(p, sign_path="/pools"),
    "signed over another query": lambda p: signed_as(p, sign_query=QUERY, send_query=f"{QUERY}&$select=id"),
    "a signed query parameter left out": lambda p: signed_as(p, sign_query=f"{QUERY}&$select=id", send_query=QUERY),
    "signed for GET, sent as DELETE": lambda p: signed_as(p, sign_method="GET", method="DELETE"),
    "signed over another body length": lambda p: signed_as(
        p, method="PATCH", sign_method="PATCH", content=b'{"metadata": []}', sign_extra={"content-length": "2"}
    ),
    "signed over another Content-Length": lambda p: signed_as(
        p, method="DELETE", sign_method="DELETE", sign_extra={"content-length": "10"}
    ),
    "signed over another Content-Type": lambda p: signed_as(
        p, method="PATCH", sign_method="PATCH", content=b"{}", sign_extra={"content-type": "text/plain"}
    ),
    "ocp-date 16 minutes old": lambda p: signed_as(p, date=now_text(-timedelta(minutes=16))),
    "ocp-date 16 minutes ahead": lambda p: signed_as(p, date=now_text(timedelta(minutes=16))),
    "Date 16 minutes old": lambda p: signed_as(p, date=now_text(-timedelta(minutes=16)), date_header="date"),
    "no date at all": lambda p: signed_as(p, date=None),
    "a date that is not a date": lambda p: signed_as(p, date="yesterday, at noon"),
    "Authorization twice": lambda p: with_authorization(
        p, f"SharedKey nobody:{dev_mac(p)}", f"SharedKey {DEV_ACCOUNT_NAME}:{dev_mac(p)}"
    ),
    "a query parameter twice": lambda p: signed_as(p, sign_query=QUERY, send_query=f"{QUERY}&api-version={API}"),
    "ocp-date twice": lambda p: Sent(
        "GET",
        f"{p}?{QUERY}",
        [
            ("ocp-date", now_text()),
            ("ocp-date", now_text()),
            ("authorization", f"SharedKey {DEV_ACCOUNT_NAME}:{dev_mac(p)}"),
        ],
    ),
    "scheme sharedkey": lambda p: signed_as(p, scheme="sharedkey"),
    "scheme SharedKeyLite": lambda p: signed_as(p, scheme="SharedKeyLite"),
    "scheme Bearer": lambda p: with_authorization(p, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
    "no scheme": lambda p: with_authorization(p, f"{DEV_ACCOUNT_NAME}:{dev_mac(p)}"),
    "two spaces after the scheme": lambda p: with_authorization(p, f"SharedKey  {DEV_ACCOUNT_NAME}:{dev_mac(p)}"),
    "empty signature": lambda p: with_authorization(p, f"SharedKey {DEV_ACCOUNT_NAME}:"),
    "empty account": lambda p: with_authorization(p, f"SharedKey :{dev_mac(p)}"),
    "non-base64 signature": lambda p: with_authorization(p, f"SharedKey {DEV_ACCOUNT_NAME}:%%%not*base64!!!"),
    "a signature cut short": lambda p: with_authorization(p, f"SharedKey {DEV_ACCOUNT_NAME}:{dev_mac(p)[:-4]}"),
    "no Authorization": lambda p: with_authorization(p),
    "a 40 KB Authorization": lambda p: with_authorization(p, f"SharedKey {DEV_ACCOUNT_NAME}:" + "A" * 40_000),
    "a 1 MB Authorization": lambda p: with_authorization(p, f"SharedKey {DEV_ACCOUNT_NAME}:" + "A" * 1024 * 1024),
}
TOO_LARGE_TO_READ = {"a 1 MB Authorization"}


def send(endpoint: str, sent: Sent) -> httpx.Response:
    with httpx.Client(base_url=endpoint, timeout=10) as http:
        return http.request(sent.method, sent.url, headers=httpx.Headers(sent.headers), content=sent.content)


def normalized(response: httpx.Response, sent: Sent, pool_id: str) -> dict[str, Any]:
    """The answer without what differs between any two requests (request id, time, pool id, MAC)."""
    body = response.json()
    text = re.sub(r"\nRequestId:.*", "", body["message"]["value"], flags=re.S)
    values = {v["key"]: v["value"] for v in body.get("values") or []}
    for key, value in values.items():
        for name, header in sent.headers:
            mac = header.partition(":")[2]
            if name == "authorization" and mac:
                value = value.replace(mac, "{mac}")
            if name in ("ocp-date", "date"):
                value = value.replace(header, "{date}")
        values[key] = value.replace(pool_id, "{pool}")
    return {"status": response.status_code, "code": body["code"], "message": text, "values": values}


def test_the_positive_control_is_served(two_accounts: ChildServer) -> None:
    assert send(two_accounts.endpoint, good(f"/pools/{EXISTING}")).status_code == 200
    missing = send(two_accounts.endpoint, good(f"/pools/{MISSING}"))
    assert missing.status_code == 404
    assert missing.json()["code"] == "PoolNotFound"


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_every_attack_is_refused_the_same_for_an_existing_and_a_missing_pool(
    two_accounts: ChildServer, attack: str
) -> None:
    answers = []
    for pool_id in (EXISTING, MISSING):
        sent = ATTACKS[attack](f"/pools/{pool_id}")
        response = send(two_accounts.endpoint, sent)
        if attack in TOO_LARGE_TO_READ:
            assert response.status_code == 431, response.text
            assert response.json()["code"] == "RequestHeaderTooLarge"
        else:
            assert response.status_code == 403, (attack, response.text)
            assert response.json()["code"] == "AuthenticationFailed"
            assert response.headers["content-type"].startswith("application/json")
        assert response.headers["request-id"]
        answers.append(normalized(response, sent, pool_id))
    assert answers[0] == answers[1]
    detail = answers[0]["values"].get("AuthenticationErrorDetail", "")
    for word in ("exist", "not found", "NotFound", "unknown account"):  # the account sent is echoed, no other
        assert word not in detail, (attack, detail)
    # Nothing happened to the pool.
    assert send(two_accounts.endpoint, good(f"/pools/{EXISTING}")).status_code == 200


def test_an_unknown_account_reads_as_a_wrong_key(two_accounts: ChildServer) -> None:
    path = f"/pools/{EXISTING}"
    date = now_text()  # one date for both: the detail quotes the string to sign, date included
    unknown = send(two_accounts.endpoint, signed_as(path, account="nosuchaccount", key=WRONG_KEY, date=date))
    wrong = send(two_accounts.endpoint, signed_as(path, key=WRONG_KEY, date=date))

    def shape(response: httpx.Response, account: str) -> str:
        detail = {v["key"]: v["value"] for v in response.json()["values"]}["AuthenticationErrorDetail"]
        return re.sub(r"'[A-Za-z0-9+/=]{44}'", "'{mac}'", detail).replace(account, "{account}")

    assert unknown.status_code == wrong.status_code == 403
    assert shape(unknown, "nosuchaccount") == shape(wrong, DEV_ACCOUNT_NAME)


def test_the_other_account_s_own_key_is_served_and_sees_no_pool_of_this_one(two_accounts: ChildServer) -> None:
    path = f"/pools/{EXISTING}"
    response = send(two_accounts.endpoint, signed_as(path, account=OTHER_NAME, key=OTHER_KEY))
    assert response.status_code == 404
    assert response.json()["code"] == "PoolNotFound"


def test_the_matrix_is_counted() -> None:
    # docs/reliability.md cites this count; a change to the matrix changes it there too.
    assert len(ATTACKS) == 31
