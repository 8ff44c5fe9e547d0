"""Helpers shared by the scheduling, autoscale and node-operation tests: cleanup of what a test
creates, waits on task/job/node states, and a SharedKey-signed raw HTTP client for requests the
SDK will not build."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import httpx
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batchite.api.auth import sign, string_to_sign
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import wait_for
from tests.sdk import pool_options

POLL = 0.1
API = "2025-06-01"
JSON_CT = "application/json; odata=minimalmetadata"


class Cleanup:
    """Deletes, in reverse order, the jobs and pools a test registered (call `run` at teardown)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.items: list[tuple[str, str]] = []

    def __call__(self, kind: str, ident: str) -> None:
        self.items.append((kind, ident))

    def run(self) -> None:
        for kind, ident in reversed(self.items):
            try:
                if kind == "job":
                    self.client.begin_delete_job(ident, polling_interval=POLL).result()
                else:
                    self.client.begin_delete_pool(ident, polling_interval=POLL).result()
            except (ResourceNotFoundError, HttpResponseError):
                pass
        self.items.clear()


def make_pool(
    client: Any, pool_id: str, cleanup: Callable[[str, str], None], dedicated: int = 1, slots: int = 1, **extra: Any
) -> str:
    """A pool whose `dedicated` nodes are all idle."""
    client.create_pool(pool_options(pool_id, dedicated=dedicated, slots=slots, **extra))
    cleanup("pool", pool_id)
    wait_nodes(client, pool_id, dedicated)
    return pool_id


def wait_nodes(client: Any, pool_id: str, count: int, state: str = "idle", timeout: float = 20.0) -> list[Any]:
    def probe() -> list[Any] | None:
        nodes = list(client.list_nodes(pool_id))
        return nodes if len(nodes) == count and all(n.state == state for n in nodes) else None

    if count == 0:
        wait_for(lambda: not list(client.list_nodes(pool_id)), timeout=timeout)
        return []
    return wait_for(probe, timeout=timeout)


def wait_task(client: Any, job_id: str, task_id: str, state: str = "completed", timeout: float = 20.0) -> Any:
    return wait_for(lambda: (t := client.get_task(job_id, task_id)).state == state and t, timeout=timeout)


def wait_job(client: Any, job_id: str, state: str, timeout: float = 20.0) -> Any:
    return wait_for(lambda: (j := client.get_job(job_id)).state == state and j, timeout=timeout)


def wait_node(client: Any, pool_id: str, node_id: str, state: str, timeout: float = 20.0) -> Any:
    return wait_for(lambda: (n := client.get_node(pool_id, node_id)).state == state and n, timeout=timeout)


class Raw:
    """A SharedKey-signing HTTP client for hand-written requests."""

    def __init__(self, endpoint: str, account: str = DEV_ACCOUNT_NAME, key: str = DEV_ACCOUNT_KEY) -> None:
        self.http = httpx.Client(base_url=endpoint, timeout=10)
        self.account = account
        self.key = key

    def request(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        api_version: str | None = API,
        date: datetime | None = None,
        account: str | None = None,
        key: str | None = None,
        authorization: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        query = list(params or [])
        if api_version is not None:
            query.insert(0, ("api-version", api_version))
        raw_query = "&".join(f"{quote(n, safe='$')}={quote(v, safe='')}" for n, v in query)
        content: bytes | None = None
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {k.lower(): v for k, v in (headers or {}).items()}
        h["ocp-date"] = format_datetime(date or datetime.now(tz=UTC), usegmt=True)
        if content is not None:
            h.setdefault("content-type", JSON_CT)
            h["content-length"] = str(len(content))
        elif method not in ("GET", "HEAD"):
            h["content-length"] = "0"
        if authorization is not None:
            h["authorization"] = authorization
        elif signed:
            name = account or self.account
            text = string_to_sign(method, path, raw_query, h, name)
            h["authorization"] = f"SharedKey {name}:{sign(base64.b64decode(key or self.key), text)}"
        url = f"{path}?{raw_query}" if raw_query else path
        return self.http.request(method, url, content=content, headers=h)

    def close(self) -> None:
        self.http.close()


def error_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    body = response.json()
    return body["code"], {v["key"]: v["value"] for v in body.get("values") or []}


def all_completed(client: Any, job_id: str, count: int) -> dict[str, Any] | None:
    tasks = {t.id: t for t in client.list_tasks(job_id)}
    return tasks if len(tasks) == count and all(t.state == "completed" for t in tasks.values()) else None


def span(task: Any) -> tuple[dt.datetime, dt.datetime]:
    info = task.execution_info
    assert info.start_time is not None and info.end_time is not None, task.id
    return info.start_time, info.end_time


def stays(probe: Any, seconds: float) -> None:
    """probe() holds for `seconds` (checked repeatedly)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert probe()
        time.sleep(0.05)
