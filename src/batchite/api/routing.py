"""Routes, declared once: `@router.operation(id, method, path)` registers the Batch operation and
its Starlette route together, and wraps the handler in the protocol every operation shares:
request id, SharedKey, api-version, errors as the Batch error body, common headers, the commit
before the answer, and one log line per request."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchite import metrics
from batchite.api import auth
from batchite.api.contract import Contract
from batchite.api.errors import error_response
from batchite.api.request import RequestContext, invalid_query
from batchite.api.versions import PUBLISHED
from batchite.domain.errors import BatchError
from batchite.service import BatchService

log = logging.getLogger("batchite.api")
access_log = logging.getLogger("batchite.access")

Handler = Callable[[RequestContext], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
OPERATIONS: dict[str, tuple[str, str]] = {}  # Batch operationId -> (method, path), for the compatibility matrix
CONTRACTS: dict[str, Contract] = {}  # Batch operationId -> what it takes and answers, for /openapi.json
PATH_PARAMETERS = {"{filePath}": "{filePath:path}"}  # parameters that may hold slashes
SECRET_PARAMETERS = frozenset({"sig", "signature", "token", "access_token", "code", "key", "client_secret"})


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def operation(
        self, operation_id: str, method: str, path: str, contract: Contract | None = None, *, batch_api: bool = True
    ) -> Callable[[Handler], Endpoint]:
        """Register a handler for `method path` and what it takes and answers (`contract`, for the
        OpenAPI document); Batchite's own admin operations use it too, with batch_api=False so they
        stay out of the Batch operation list and the document."""

        def register(handler: Handler) -> Endpoint:
            if batch_api:
                OPERATIONS[operation_id] = (method, path)
                CONTRACTS[operation_id] = contract or Contract()
            endpoint = _wrap(operation_id, handler)
            route_path = path
            for name, pattern in PATH_PARAMETERS.items():
                route_path = route_path.replace(name, pattern)
            self.routes.append(Route(route_path, endpoint, methods=[method]))
            return endpoint

        return register


def _base_url(request: Request) -> str:
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def _wrap(operation_id: str, handler: Handler) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        base_url = _base_url(request)
        headers: dict[str, str] = {}
        repeated: set[str] = set()
        for raw_name, raw_value in request.scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name in headers:
                repeated.add(name)
            headers.setdefault(name, raw_value.decode("latin-1"))
        batch: BatchService = request.app.state.batch
        account = ""
        try:
            ctx = authorize(request, batch, request.app.state.settings, headers, request_id, base_url, repeated)
            account = ctx.account
            response = await handler(ctx)
            response.headers.update(ctx.response_headers)
            await batch.committed()
        except BatchError as err:
            response = error_response(err, request_id, base_url, head=request.method == "HEAD")
        except Exception:  # a bug of ours: log it, answer like the service does
            log.exception("internal error in %s (request %s)", operation_id, request_id)
            response = error_response(
                BatchError(500, "InternalServerError", "The server encountered an internal error. Please retry."),
                request_id,
                base_url,
            )
        response.headers["request-id"] = request_id
        if headers.get("client-request-id") and headers.get("return-client-request-id", "").lower() == "true":
            response.headers["client-request-id"] = headers["client-request-id"]
        seconds = time.perf_counter() - started
        metrics.request(operation_id, response.status_code, seconds)
        if access_log.isEnabledFor(logging.INFO):
            line = {
                "request_id": request_id,
                "account": account or "-",
                "operation": operation_id,
                "method": request.method,
                "path": loggable_path(request),
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
            }
            access_log.info(
                "%s %s %s %s %d %.1fms",
                request_id,
                account or "-",
                operation_id,
                request.method,
                response.status_code,
                seconds * 1000,
                extra={"access": line},
            )
        return response

    endpoint.__name__ = operation_id
    return endpoint


def loggable_path(request: Request) -> str:
    """The path and query a log line shows: a secret's value (a SAS `sig`, a token) redacted."""
    path = request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    if not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [
        f"{quote(k)}={'REDACTED' if k.lower() in SECRET_PARAMETERS else quote(v, safe='-._~:,')}" for k, v in pairs
    ]
    return f"{path}?{'&'.join(shown)}"


def authorize(
    request: Request,
    batch: BatchService,
    settings: Any,
    headers: dict[str, str],
    request_id: str,
    base_url: str,
    repeated_headers: set[str] | None = None,
) -> RequestContext:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    raw_path_text = raw_path.decode("latin-1").split("?", 1)[0]
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    now = datetime.now(tz=UTC)
    method = request.method
    account = auth.authenticate(batch.accounts, method, raw_path_text, raw_query, headers, now, repeated_headers)
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
    check_timeout(query.get("timeout"))
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


MAX_TIMEOUT = 30
_INT32_MAX = 2**31 - 1


def check_timeout(raw: str | None) -> None:
    """`timeout` (seconds the server may spend on the request) is an int32 of at least 1; a value
    above 30 is accepted and the default (30) is used instead, as on Azure."""
    if raw is None:
        return
    digits = raw[1:] if raw[:1] == "-" else raw
    if not digits.isascii() or not digits.isdigit() or len(digits) > 10 or int(digits) > _INT32_MAX:
        raise invalid_query("timeout", raw, "The value must be an integer number of seconds.")
    if int(raw) < 1:
        raise BatchError(
            400,
            "OutOfRangeQueryParameterValue",
            "One of the query parameters specified in the request URI is outside the permissible range.",
            [
                ("QueryParameterName", "timeout"),
                ("QueryParameterValue", raw),
                ("Reason", f"The value must be at least 1 second (one above {MAX_TIMEOUT} means {MAX_TIMEOUT})."),
            ],
        )
