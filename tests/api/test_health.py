"""GET /_batchite/health: alive and ready (store, agents), the version; 503 with the failing check
when not ready; no account in it; never held by the admission limit. The version header too."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from batchite import __version__
from batchite.api.admission import EXEMPT_PATHS
from batchite.api.app import create_app
from batchite.scheduler.live import Projection
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from batchite.service.observability import Observability
from batchite.store.sqlite import SqliteStore


def test_health_is_ok_and_ready(endpoint: str) -> None:
    with urllib.request.urlopen(f"{endpoint}/_batchite/health", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["x-batchite-version"] == __version__
        raw = resp.read().decode()
    assert json.loads(raw) == {
        "status": "ok",
        "alive": True,
        "ready": True,
        "checks": {"store": "ok", "agents": "ok"},
        "version": __version__,
    }
    assert DEV_ACCOUNT_NAME not in raw and DEV_ACCOUNT_KEY not in raw


def test_every_data_plane_response_has_the_version_header(client: Any, endpoint: str) -> None:
    seen: list[str] = []
    list(client.list_pools(raw_response_hook=lambda r: seen.append(r.http_response.headers["x-batchite-version"])))
    assert seen == [__version__]
    try:
        urllib.request.urlopen(f"{endpoint}/no/such/route", timeout=5)
    except urllib.error.HTTPError as err:
        assert err.code == 404
        assert err.headers["x-batchite-version"] == __version__
    with urllib.request.urlopen(f"{endpoint}/portal/", timeout=5) as resp:
        assert resp.headers["x-batchite-version"] == __version__


def test_health_and_metrics_are_exempt_from_admission() -> None:
    assert "/_batchite/health" in EXEMPT_PATHS and "/metrics" in EXEMPT_PATHS


def _observability(store: SqliteStore, projection: Any) -> Observability:
    return Observability(SimpleNamespace(store=store, scheduler=SimpleNamespace(projection=projection)))  # type: ignore[arg-type]


def _health(observability: Observability) -> tuple[int, dict[str, Any]]:
    app = create_app(SimpleNamespace(observability=observability))  # type: ignore[arg-type]

    async def get() -> httpx.Response:  # no lifespan: the service is not started
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            return await http.get("/_batchite/health")

    response = asyncio.run(get())
    assert response.headers["x-batchite-version"] == __version__
    return response.status_code, response.json()


def test_a_closed_store_is_not_ready(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "batchite.db")
    assert _observability(store, Projection()).readiness() == {"store": "ok", "agents": "ok"}
    store.close()
    status, body = _health(_observability(store, Projection()))
    assert status == 503
    assert body["alive"] is True and body["ready"] is False and body["status"] == "unavailable"
    assert body["checks"] == {"store": "closed", "agents": "ok"}


def test_nodes_whose_agents_are_not_attached_are_not_ready(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "batchite.db")
    attaching = SimpleNamespace(attaching=True)
    attached = SimpleNamespace(attaching=False)
    pools = {("acct", "p"): SimpleNamespace(nodes={"a": attaching, "b": attached})}
    status, body = _health(_observability(store, SimpleNamespace(pools=pools)))
    assert status == 503
    assert body["ready"] is False
    assert body["checks"]["store"] == "ok"
    assert body["checks"]["agents"] == "1 node(s) whose agent is not attached yet"
    assert "acct" not in json.dumps(body)
    attaching.attaching = False
    assert _health(_observability(store, SimpleNamespace(pools=pools)))[0] == 200
    store.close()


def test_the_management_plane_has_the_version_header_too(tmp_path: Path) -> None:
    from batchite.cli.server import start_child_server, unverified_tls
    from batchite.mgmt.tokens import DEV_TENANT_ID

    server = start_child_server(tmp_path, mgmt_port=0)
    try:
        assert server.mgmt_endpoint is not None
        url = f"{server.mgmt_endpoint}/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=5, context=unverified_tls()) as resp:
            assert resp.headers["x-batchite-version"] == __version__
    finally:
        server.stop()
