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
from batchite.wire.reasons import plain_reason
from batchite.wire.types import TOO_DEEP, WireError, decode

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


def check_json_content_type(value: str | None) -> None:
    """A body says it is JSON: `application/json` with any parameters (the SDKs add
    `odata=minimalmetadata`, older ones `charset=utf-8`); a charset, if given, is UTF-8."""
    if value is None or not value.strip():
        raise BatchError(
            400,
            "MissingRequiredHeader",
            "A required HTTP header was not specified.",
            [("HeaderName", "Content-Type")],
        )
    media, *parameters = (part.strip().lower() for part in value.split(";"))
    charsets = [p.partition("=")[2].strip().strip('"') for p in parameters if p.startswith("charset")]
    if media != "application/json" or any(c not in ("utf-8", "utf8") for c in charsets):
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value provided for one of the HTTP headers was not in the correct format.",
            [("HeaderName", "Content-Type"), ("HeaderValue", value), ("Reason", "A body must be application/json.")],
        )


MAX_SHOWN = 1024  # characters of an offending value shown back in PropertyValue
_ABSENT = object()


def _value_at(data: bytes, steps: tuple[str | int, ...]) -> Any:
    """What the body holds at a wire location (for the error's PropertyValue), or _ABSENT."""
    try:
        value: Any = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):  # nested deeper than can be read back
        return _ABSENT
    for step in steps:
        in_list = isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value)
        if not in_list and not (isinstance(step, str) and isinstance(value, dict) and step in value):
            return _ABSENT
        value = value[step]
    return value


def shown(value: Any) -> str | None:
    """A value as the client wrote it: a string as it is, anything else as JSON, cut at MAX_SHOWN."""
    try:
        text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    except RecursionError:
        return None
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def body_error(err: WireError, data: bytes) -> BatchError:
    """The Batch error for a body that does not fit its model."""
    if err.malformed or not err.path:
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
    value = _value_at(data, err.steps or tuple(err.path.split(".")))
    text = None if value is _ABSENT else shown(value)
    values = [("PropertyName", err.path)]
    if text is not None:  # a number too large or a list too deep to read back is not shown
        values.append(("PropertyValue", text))
    return BatchError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        [*values, ("Reason", err.reason)],
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
        data = b"".join(chunks)
        if data.strip():
            check_json_content_type(self.headers.get("content-type"))
        return data

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
        except (msgspec.DecodeError, RecursionError) as exc:
            raise BatchError(
                400,
                "InvalidRequestBody",
                "The specified Request Body is not syntactically valid.",
                [
                    (
                        "Reason",
                        TOO_DEEP if isinstance(exc, RecursionError) else plain_reason(str(exc)),
                    )
                ],
            ) from None
        if not isinstance(value, dict):
            raise BatchError(400, "InvalidRequestBody", "The request body must be a JSON object.")
        return value
