"""`--access-log` prints one line per request; `--log-format json` makes every line one JSON
object; no line ever holds a key, a SAS signature, an Authorization header or a token."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchite import __version__
from batchite.cli.logging_setup import redact
from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client, wait_for

SAS_SIG = "c2VjcmV0LXNhcy1zaWduYXR1cmU%3D"  # what a SAS URL's sig= looks like
SHARED_KEY_SIG = "Zm9yZ2VkLXNoYXJlZC1rZXktc2lnbmF0dXJl"
SECRETS = [SAS_SIG, "c2VjcmV0LXNhcy1zaWduYXR1cmU", SHARED_KEY_SIG, DEV_ACCOUNT_KEY]


def _log(server: ChildServer) -> str:
    return (server.data_dir / "server.log").read_text(errors="replace")


def _requests(server: ChildServer) -> None:
    """A signed SDK call, and a forged one with a SAS-like query and a SharedKey header."""
    client = make_client(server.endpoint)
    list(client.list_pools())
    client.close()
    url = f"{server.endpoint}/pools?api-version=2024-07-01.20.0&sv=2024-08-04&se=2030-01-01&sp=r&sig={SAS_SIG}"
    forged = urllib.request.Request(url, headers={"Authorization": f"SharedKey {DEV_ACCOUNT_NAME}:{SHARED_KEY_SIG}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(forged, timeout=5)
    assert err.value.code == 403
    host, port = server.endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # uvicorn's own warning, in the format too
        raw.sendall(b"NOT HTTP\r\n\r\n")
        answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400")
        assert f"\r\nx-batchite-version: {__version__}\r\n".encode() in answer  # the version, even here


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("json-log"), ["--access-log", "--log-format", "json"])
    yield child
    child.stop()


def test_json_access_lines_have_the_request_fields_and_no_secret(json_server: ChildServer) -> None:
    _requests(json_server)
    text = wait_for(lambda: (t := _log(json_server)).count('"batchite.access"') >= 2 and "Invalid HTTP" in t and t)
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is one JSON object
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    access = [line for line in lines if line["logger"] == "batchite.access"]
    signed, forged = access[0], access[1]
    assert signed["account"] == DEV_ACCOUNT_NAME
    assert signed["operation"] == "Pools_ListPools" and signed["method"] == "GET" and signed["status"] == 200
    assert isinstance(signed["duration_ms"], float) and signed["request_id"]
    assert signed["path"].startswith("/pools?api-version=")
    assert forged["status"] == 403 and forged["account"] == "-"
    assert "sig=REDACTED" in forged["path"] and "sp=r" in forged["path"]
    for secret in SECRETS:
        assert secret not in text


def test_console_access_lines_and_no_secret(tmp_path: Path) -> None:
    server = start_child_server(tmp_path, ["--access-log"])
    try:
        _requests(server)
        text = wait_for(lambda: (t := _log(server)).count("Pools_ListPools GET") >= 2 and "Invalid HTTP" in t and t)
    finally:
        server.stop()
    assert " INFO batchite.access: " in text
    assert f" {DEV_ACCOUNT_NAME} Pools_ListPools GET 200 " in text
    assert " - Pools_ListPools GET 403 " in text
    assert " WARNING uvicorn.error: Invalid HTTP request received." in text
    for secret in SECRETS:
        assert secret not in text


def test_no_access_lines_without_the_flag(server: ChildServer) -> None:
    _requests(server)
    wait_for(lambda: "Invalid HTTP" in _log(server))
    assert "batchite.access" not in _log(server)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /x?sv=1&sig=abc%2Bdef&se=2 200", "GET /x?sv=1&sig=REDACTED&se=2 200"),
        ("Authorization: SharedKey acct:c2lnbmF0dXJl", "Authorization: SharedKey acct:REDACTED"),
        ("authorization=Bearer eyJhbGciOi.eyJzdWIi.c2ln", "authorization=Bearer REDACTED"),
        ("token eyJhbGciOi.eyJzdWIi.c2ln issued", "token REDACTED issued"),
        ("POST /token client_secret=hunter2&grant_type=x", "POST /token client_secret=REDACTED&grant_type=x"),
    ],
)
def test_redaction(line: str, shown: str) -> None:
    assert redact(line) == shown
