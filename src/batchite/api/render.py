"""Responses from entities and wire models: the SDK's shape, with url, ETag and OData metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import msgspec
from starlette.responses import Response

from batchite.api.errors import JSON_TYPE
from batchite.api.request import RequestContext
from batchite.clock import http_date
from batchite.domain.entities import Entity
from batchite.wire.types import encode, to_builtins


def entity_headers(entity: Entity[Any, Any]) -> dict[str, str]:
    headers = {"ETag": entity.etag}
    if entity.last_modified is not None:
        headers["Last-Modified"] = http_date(entity.last_modified)
    return headers


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)


def select(item: dict[str, Any], clause: str | None) -> dict[str, Any]:
    if not clause:
        return item
    names = {n.strip() for n in clause.split(",") if n.strip()}
    return {k: v for k, v in item.items() if k in names}


_SECRET_KEYS = (b'"password"', b'"sshPrivateKey"')  # of user accounts: Azure never returns them


def _forget_secrets(value: Any) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "userAccounts" and isinstance(item, list):
                for account in item:
                    if isinstance(account, dict):
                        account.pop("password", None)
                        linux = account.get("linuxUserConfiguration")
                        if isinstance(linux, dict):
                            linux.pop("sshPrivateKey", None)
            else:
                _forget_secrets(item)
    elif isinstance(value, list):
        for item in value:
            _forget_secrets(item)


def encode_shown(value: Any) -> bytes:
    """A body as the API shows it: the user accounts' passwords and SSH keys (of a pool, or of an
    auto pool in a job or job schedule) left out. Only a body that holds one is decoded again."""
    body = encode(value)
    if not any(key in body for key in _SECRET_KEYS):
        return body
    plain = msgspec.json.decode(body)
    _forget_secrets(plain)
    return encode(plain)


def _object(metadata: str, wire: msgspec.Struct | dict[str, Any], clause: str | None) -> bytes:
    """`{"odata.metadata": ..., <the model's properties>}`, $select applied."""
    head = b'{"odata.metadata":' + encode(metadata)
    body = encode_shown(select(to_builtins(wire), clause)) if clause else encode_shown(wire)
    return head + (b"}" if body == b"{}" else b"," + body[1:])


def shown(entity: Entity[Any, Any], url: str) -> msgspec.Struct:
    """The wire part as the API shows it: with its URL, ETag and Last-Modified where it has them."""
    wire = entity.wire
    fields = wire.__struct_fields__
    changes: dict[str, Any] = {}
    if "url" in fields:
        changes["url"] = url
    if "etag" in fields:
        changes["etag"] = entity.etag
    if "last_modified" in fields:
        changes["last_modified"] = entity.last_modified
    return msgspec.structs.replace(wire, **changes) if changes else wire


def expanded(ctx: RequestContext, item: Entity[Any, Any], url: str) -> msgspec.Struct:
    """`shown`, with the statistics of a pool, job, job schedule or task when `$expand` asks for
    `stats` (service/statistics.py); any other `$expand` value is ignored."""
    wire = shown(item, url)
    clause = ctx.query.get("$expand")
    if not clause or "stats" not in {n.strip().lower() for n in clause.split(",")}:
        return wire
    found = ctx.batch.statistics.of(item, url)
    if found is None:
        return wire
    name, stats = found
    return msgspec.structs.replace(wire, **{name: stats})


def entity(ctx: RequestContext, item: Entity[Any, Any], resource: str, path: str, status: int = 200) -> Response:
    """GET of one entity."""
    url = f"{ctx.base_url}{path}"
    body = _object(f"{ctx.base_url}/$metadata#{resource}/@Element", expanded(ctx, item, url), ctx.query.get("$select"))
    return json_response(body, status, entity_headers(item))


def model(
    ctx: RequestContext, wire: msgspec.Struct, metadata: str, *, headers: dict[str, str] | None = None
) -> Response:
    """A model that is not an entity (task counts, remote login settings, autoScaleRun)."""
    return json_response(_object(f"{ctx.base_url}/$metadata#{metadata}", wire, ctx.query.get("$select")), 200, headers)


def entity_done(ctx: RequestContext, item: Entity[Any, Any], path: str, status: int) -> Response:
    """A write of an entity: no body, its ETag and where it is."""
    headers = entity_headers(item)
    headers["DataServiceId"] = f"{ctx.base_url}{quote(path)}"  # a node user's name may be any Unicode
    return Response(status_code=status, headers=headers)


def listing(ctx: RequestContext, resource: str, items: Sequence[msgspec.Struct], next_link: str | None) -> Response:
    """A list operation's page: `value`, and `odata.nextLink` when there is more."""
    clause = ctx.query.get("$select")
    value = encode_shown([select(to_builtins(i), clause) for i in items]) if clause else encode_shown(list(items))
    body = b'{"odata.metadata":' + encode(f"{ctx.base_url}/$metadata#{resource}") + b',"value":' + value
    if next_link is not None:
        body += b',"odata.nextLink":' + encode(next_link)
    return json_response(body + b"}")
