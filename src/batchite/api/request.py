"""One request as a handler sees it: who sent it, its query and headers, its body as a wire model."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from batchite.api.certificates import refuse_certificate_references
from batchite.domain.errors import BatchError
from batchite.service import BatchService
from batchite.wire.types import WireError, decode

log = logging.getLogger("batchite.api")
MAX_BODY = 1024 * 1024
T = TypeVar("T", bound=msgspec.Struct)


def invalid_query(name: str, value: str, reason: str) -> BatchError:
    return BatchError(
        400,
        "InvalidQueryParameterValue",
        "Value for one of the query parameters specified in the request URI is invalid.",
        [("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)],
    )


def body_too_large(limit: int) -> BatchError:
    return BatchError(
        413,
        "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.",
        [("MaxLimit", str(limit))],
    )


def _value_at(data: bytes, path: str) -> Any:
    """What the body holds at a wire path (for the error's PropertyValue), or None."""
    try:
        value: Any = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    for part in path.split(".") if path else []:
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, dict) and part in v), None)
        value = value.get(part) if isinstance(value, dict) else None
    return value


def body_error(err: WireError, data: bytes) -> BatchError:
    """The Batch error for a body that does not fit its model."""
    if err.malformed or (not err.path and "Expected `object`" in err.reason):
        return BatchError(
            400,
            "InvalidRequestBody",
            "The specified Request Body is not syntactically valid.",
            [("Reason", err.reason)],
        )
    if err.missing:
        return BatchError(
            400,
            "MissingRequiredProperty",
            "A required property was not specified in the request body.",
            [("PropertyName", err.path)],
        )
    value = _value_at(data, err.path)
    return BatchError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        [
            ("PropertyName", err.path or "body"),
            ("PropertyValue", "" if value is None or isinstance(value, dict | list) else str(value)),
            ("Reason", err.reason),
        ],
    )


@dataclass
class RequestContext:
    request: Request
    batch: BatchService
    account: str
    request_id: str
    base_url: str
    api_version: str
    query: dict[str, str]  # names lower-cased, values decoded
    headers: dict[str, str]
    response_headers: dict[str, str] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.query.get(name.lower())
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise invalid_query(name, raw, "The value must be true or false.")

    async def body_bytes(self, limit: int = MAX_BODY) -> bytes:
        """The body, read no further than `limit` bytes: a larger one is 413 before it is all in."""
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise body_too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > limit:
                raise body_too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def body(self, cls: type[T], *, required: bool = True, limit: int = MAX_BODY) -> T:
        """The body as a wire model; an empty body is a model of defaults unless one is required."""
        data = await self.body_bytes(limit)
        if not data.strip():
            if required:
                raise BatchError(400, "InvalidRequestBody", "The request body is missing.")
            data = b"{}"
        try:
            body = decode(cls, data, strict=False)
        except WireError as err:
            raise body_error(err, data) from None
        refuse_certificate_references(cls, data)
        return body

    async def json_object(self, *, required: bool = True) -> dict[str, Any]:
        """A body that is any JSON object (Batchite's own admin operations)."""
        data = await self.body_bytes()
        if not data.strip() and not required:
            return {}
        try:
            value = msgspec.json.decode(data)
        except msgspec.DecodeError as exc:
            raise BatchError(
                400,
                "InvalidRequestBody",
                "The specified Request Body is not syntactically valid.",
                [("Reason", str(exc))],
            ) from None
        if not isinstance(value, dict):
            raise BatchError(400, "InvalidRequestBody", "The request body must be a JSON object.")
        return value
