"""Every operation goes through `operation`: request id, auth, api-version, errors, common headers."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from batchite.api import auth
from batchite.api.errors import JSON_TYPE, error_response
from batchite.api.versions import PUBLISHED
from batchite.domain.errors import BatchError
from batchite.domain.record import Record
from batchite.service import BatchService
from batchite.wire import from_wire, to_wire

log = logging.getLogger("batchite.api")
MAX_BODY = 1024 * 1024
ModelT = TypeVar("ModelT", bound=BaseModel)

Handler = Callable[["RequestContext"], Awaitable[Response]]
OPERATIONS: dict[str, tuple[str, str]] = {}  # operationId -> (method, path); filled by route modules


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
        data = await self.request.body()
        if len(data) > limit:
            raise BatchError(
                413,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
                [("MaxLimit", str(limit))],
            )
        return data

    async def json_body(self, limit: int = MAX_BODY, required: bool = True) -> dict[str, Any]:
        data = await self.body_bytes(limit)
        if not data.strip():
            if required:
                raise BatchError(400, "InvalidRequestBody", "The request body is missing.")
            return {}
        try:
            parsed = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BatchError(
                400,
                "InvalidRequestBody",
                "The specified Request Body is not syntactically valid.",
                [("Reason", str(exc))],
            ) from exc
        if not isinstance(parsed, dict):
            raise BatchError(400, "InvalidRequestBody", "The request body must be a JSON object.")
        return parsed

    async def model(self, cls: type[ModelT], required: bool = True, limit: int = MAX_BODY) -> dict[str, Any]:
        """Validate the body as a wire model and return its normalised wire document."""
        return validate(cls, await self.json_body(limit, required))

    def render(self, rec: Record, resource: str, path: str, status: int = 200) -> Response:
        doc = dict(rec.doc)
        doc["url"] = f"{self.base_url}{path}"
        doc = select(doc, self.query.get("$select"))
        body = {"odata.metadata": f"{self.base_url}/$metadata#{resource}/@Element", **doc}
        headers = entity_headers(rec)
        return json_response(body, status, headers)

    def entity_done(self, rec: Record, path: str, status: int) -> Response:
        headers = entity_headers(rec)
        headers["DataServiceId"] = f"{self.base_url}{path}"
        return Response(status_code=status, headers=headers)


def entity_headers(rec: Record) -> dict[str, str]:
    headers = {"ETag": rec.etag}
    if rec.last_modified is not None:
        headers["Last-Modified"] = format_datetime(rec.last_modified.astimezone(UTC), usegmt=True)
    return headers


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=JSON_TYPE, headers=headers)


def select(doc: dict[str, Any], clause: str | None) -> dict[str, Any]:
    if not clause:
        return doc
    names = [n.strip() for n in clause.split(",") if n.strip()]
    return {k: v for k, v in doc.items() if k in names}


def invalid_query(name: str, value: str, reason: str) -> BatchError:
    return BatchError(
        400,
        "InvalidQueryParameterValue",
        "Value for one of the query parameters specified in the request URI is invalid.",
        [("QueryParameterName", name), ("QueryParameterValue", value), ("Reason", reason)],
    )


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not isinstance(p, int)) or "body"


def validate(cls: type[ModelT], data: dict[str, Any]) -> dict[str, Any]:
    try:
        model = from_wire(cls, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _loc(tuple(first.get("loc", ())))
        if first.get("type") == "missing":
            raise BatchError(
                400,
                "MissingRequiredProperty",
                "A required property was not specified in the request body.",
                [("PropertyName", name)],
            ) from exc
        value = first.get("input")
        raise BatchError(
            400,
            "InvalidPropertyValue",
            "The value provided for one of the properties in the request body is invalid.",
            [
                ("PropertyName", name),
                ("PropertyValue", "" if isinstance(value, dict | list) else str(value)),
                ("Reason", str(first.get("msg", ""))),
            ],
        ) from exc
    return to_wire(model)


def _base_url(request: Request) -> str:
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def operation(
    operation_id: str, method: str, path: str, *, batch_api: bool = True
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler with the protocol every Batch operation shares (Batchite's own admin
    operations use it too, with batch_api=False so they stay out of the Batch operation list)."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        if batch_api:
            OPERATIONS[operation_id] = (method, path)

        async def endpoint(request: Request) -> Response:
            request_id = str(uuid.uuid4())
            base_url = _base_url(request)
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}
            batch: BatchService = request.app.state.batch
            settings = request.app.state.settings
            try:
                ctx = authorize(request, batch, settings, headers, request_id, base_url)
                response = await handler(ctx)
                response.headers.update(ctx.response_headers)
                await batch.committed()
            except BatchError as err:
                response = error_response(err, request_id, base_url, head=request.method == "HEAD")
            except Exception:  # a bug of ours: log it, answer like the service does
                log.exception("internal error in %s", operation_id)
                response = error_response(
                    BatchError(500, "InternalServerError", "The server encountered an internal error. Please retry."),
                    request_id,
                    base_url,
                )
            response.headers["request-id"] = request_id
            if headers.get("client-request-id") and headers.get("return-client-request-id", "").lower() == "true":
                response.headers["client-request-id"] = headers["client-request-id"]
            return response

        endpoint.__name__ = operation_id
        return endpoint

    return wrap


def authorize(
    request: Request,
    batch: BatchService,
    settings: Any,
    headers: dict[str, str],
    request_id: str,
    base_url: str,
) -> RequestContext:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    raw_path_text = raw_path.decode("latin-1").split("?", 1)[0]
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    account = auth.authenticate(batch.accounts, request.method, raw_path_text, raw_query, headers, datetime.now(tz=UTC))
    query = {k.lower(): v for k, v in request.query_params.items()}
    version = query.get("api-version")
    if not version:
        raise BatchError(
            400,
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified.",
            [("QueryParameterName", "api-version")],
        )
    if version not in PUBLISHED:
        if settings.strict_api_version:
            raise BatchError(
                400,
                "UnsupportedRequestVersion",
                "The specified version of the Batch REST API is not supported.",
                [("QueryParameterName", "api-version"), ("QueryParameterValue", version)],
            )
        log.warning("accepting unknown api-version %s (use --strict-api-version to reject)", version)
    timeout = query.get("timeout")
    if timeout is not None and not timeout.lstrip("-").isdigit():
        raise invalid_query("timeout", timeout, "The value must be an integer number of seconds.")
    return RequestContext(
        request=request,
        batch=batch,
        account=account,
        request_id=request_id,
        base_url=base_url,
        api_version=version,
        query=query,
        headers=headers,
    )
