"""The request line and headers are bounded while they are read (raw sockets: no client sends
these), answered with the Batch error JSON; what official clients send stays well inside."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from batchite.api.http_limits import MAX_HEAD, MAX_URL
from batchite.cli.server import ChildServer
from tests.e2e.helpers import Raw

API = "2025-06-01"


@pytest.fixture
def raw(endpoint: str) -> Iterator[Raw]:
    r = Raw(endpoint)
    yield r
    r.close()


def exchange(endpoint: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` on a fresh connection and read the answer until the server closes."""
    address = urlsplit(endpoint)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # the server may stop reading: its answer is still there to read
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def batch_error(body: bytes) -> tuple[str, dict[str, str]]:
    doc = json.loads(body)
    assert set(doc["message"]) == {"lang", "value"}
    assert "RequestId:" in doc["message"]["value"]
    return doc["code"], {v["key"]: v["value"] for v in doc.get("values") or []}


def rss_kib(server: ChildServer) -> int:
    with open(f"/proc/{server.process.pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1])


def get(path: str, *headers: bytes) -> bytes:
    return b"\r\n".join([f"GET {path} HTTP/1.1".encode(), b"Host: localhost", *headers, b"", b""])


def test_a_1_mb_header_is_431_request_header_too_large(endpoint: str, raw: Raw) -> None:
    status, headers, body = exchange(endpoint, get(f"/pools?api-version={API}", b"x-big: " + b"a" * 1024 * 1024))
    assert status == 431
    assert headers["connection"] == "close"
    assert headers["content-type"].startswith("application/json")
    assert headers["request-id"]
    code, values = batch_error(body)
    assert code == "RequestHeaderTooLarge"
    assert values == {"MaxLimit": str(MAX_HEAD)}
    assert raw.request("GET", "/pools").status_code == 200  # the server goes on


def test_many_small_headers_past_the_limit_are_431_too(endpoint: str) -> None:
    many = [f"x-h{i}: {'v' * 60}".encode() for i in range(MAX_HEAD // 64 + 10)]
    status, _, body = exchange(endpoint, get(f"/pools?api-version={API}", *many))
    assert status == 431
    assert batch_error(body)[0] == "RequestHeaderTooLarge"


def test_a_100_kb_url_is_414_request_url_too_long(endpoint: str, raw: Raw) -> None:
    status, headers, body = exchange(endpoint, get(f"/pools?api-version={API}&$filter=" + "a" * 100 * 1024))
    assert status == 414
    assert headers["connection"] == "close"
    code, values = batch_error(body)
    assert code == "RequestUrlTooLong"
    assert values == {"MaxLimit": str(MAX_URL)}
    assert raw.request("GET", "/pools").status_code == 200


def test_a_url_just_past_the_limit_is_414_and_one_inside_is_served(endpoint: str) -> None:
    base = f"/pools?api-version={API}&x="
    status, _, body = exchange(endpoint, get(base + "a" * (MAX_URL - len(base) + 1)))
    assert status == 414, body
    status, _, body = exchange(endpoint, get(base + "a" * (MAX_URL - len(base))))
    assert status == 403, body  # read and handed to the service: unsigned, so refused there
    assert batch_error(body)[0] == "AuthenticationFailed"


def test_what_is_not_http_is_400_in_the_batch_error_json(endpoint: str) -> None:
    status, headers, body = exchange(endpoint, b"GET /pools HTTP/1.1\r\nHost: localhost\r\nbad header\r\n\r\n")
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert batch_error(body)[0] == "InvalidHttpRequest"


def test_a_16_kb_header_and_an_8_kb_filter_from_the_sdk_are_served(raw: Raw, client: Any, uid: Any) -> None:
    assert raw.request("GET", "/pools", headers={"x-pad": "p" * 16 * 1024}).status_code == 200
    ids = [uid(f"nosuchpool{i}") for i in range(400)]
    terms = [f"id eq '{i}'" for i in ids]
    flt = " or ".join(terms)
    while len(flt) < 8 * 1024:
        terms.append(f"id eq '{uid('more')}{len(terms)}'")
        flt = " or ".join(terms)
    assert len(flt) >= 8 * 1024
    assert list(client.list_pools(filter=flt)) == []


def test_huge_heads_do_not_grow_the_server(endpoint: str, server: ChildServer, raw: Raw) -> None:
    for _ in range(3):  # warm up: the first refusals allocate what any request would
        exchange(endpoint, get("/pools", b"x-big: " + b"a" * 1024 * 1024))
    before = rss_kib(server)
    for _ in range(5):
        status, _, _ = exchange(endpoint, get("/pools", b"x-big: " + b"a" * 3 * 1024 * 1024))
        assert status == 431
        status, _, _ = exchange(endpoint, get("/pools?x=" + "u" * 1024 * 1024))
        assert status == 414
    after = rss_kib(server)
    # 5 x 4 MB were sent; unbounded buffering would hold them (and more, copied). Loosely bounded.
    assert after - before < 8 * 1024, (before, after)
    assert raw.request("GET", "/pools").status_code == 200
