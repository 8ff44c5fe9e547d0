"""ARM routing: paths matched case-insensitively, request ids, api-version and the bearer token checked."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from batchite.mgmt.errors import ArmError, error_response, missing_api_version, not_found_path, unauthorized
from batchite.mgmt.tokens import TokenError, TokenIssuer

log = logging.getLogger("batchite.mgmt")


@dataclass
class ArmRequest:
    request: Request
    params: dict[str, str]
    base_url: str  # https://127.0.0.1:8443, what Location headers start with
    api_version: str
    claims: dict[str, Any] = field(default_factory=dict)

    async def body(self, kind: type[Any]) -> Any:
        raw = await self.request.body()
        try:
            return msgspec.json.decode(raw or b"{}", type=kind)
        except msgspec.ValidationError as exc:
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid: {exc}.") from exc
        except msgspec.DecodeError as exc:
            raise ArmError(
                400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {exc}."
            ) from exc


Handler = Callable[[ArmRequest], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    authenticated: bool
    needs_api_version: bool


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status, headers, media_type="application/json; charset=utf-8")


_SEGMENT = r"(?P<{}>[^/]+)"


def compile_path(path: str) -> re.Pattern[str]:
    """`/subscriptions/{subscriptionId}` -> a case-insensitive regex with named groups."""
    parts = re.split(r"(\{\w+\})", path)
    regex = "".join(_SEGMENT.format(p[1:-1]) if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


class ArmRouter:
    def __init__(self, issuer: TokenIssuer, committed: Callable[[], Awaitable[None]] | None = None) -> None:
        """committed: awaited after every handler that succeeded, so its changes are on disk before the answer."""
        self.issuer = issuer
        self.committed = committed
        self.routes: list[Route] = []

    def add(
        self, method: str, path: str, handler: Handler, *, authenticated: bool = True, api_version: bool = True
    ) -> None:
        self.routes.append(Route(method, compile_path(path), handler, authenticated, api_version))

    def route(self, method: str, path: str, **kw: bool) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            self.add(method, path, handler, **kw)
            return handler

        return wrap

    def _authenticate(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        authority, tenant = self.issuer.authority, self.issuer.tenant_id
        if not header:
            raise unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                authority,
                tenant,
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(
                "InvalidAuthenticationToken",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                authority,
                tenant,
            )
        try:
            return self.issuer.verify(token.strip())
        except TokenError as exc:
            raise unauthorized(exc.code, exc.message, authority, tenant) from exc

    async def dispatch(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        correlation = request.headers.get("x-ms-correlation-request-id") or request_id
        try:
            response = await self._dispatch(request)
        except ArmError as error:
            response = error_response(error)
        except Exception:
            log.exception("management request %s %s failed", request.method, request.url.path)
            response = error_response(ArmError(500, "InternalServerError", "Encountered internal server error."))
        response.headers["x-ms-request-id"] = request_id
        response.headers["x-ms-correlation-request-id"] = correlation
        if client_id := request.headers.get("x-ms-client-request-id"):
            response.headers["x-ms-client-request-id"] = client_id
        return response

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        method = "GET" if request.method == "HEAD" and not self._has(path, "HEAD") else request.method
        matched = [(r, m) for r in self.routes if (m := r.pattern.match(path))]
        route = next(((r, m) for r, m in matched if r.method == method), None)
        if route is None:
            if matched:
                raise ArmError(
                    405, "HttpMethodNotAllowed", f"The HTTP method '{request.method}' is not supported at '{path}'."
                )
            raise not_found_path(path)
        found, match = route
        claims = self._authenticate(request) if found.authenticated else {}
        api_version = request.query_params.get("api-version", "")
        if found.needs_api_version and not api_version:
            raise missing_api_version()
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        arm = ArmRequest(request, match.groupdict(), base_url, api_version, claims)
        response = await found.handler(arm)
        if self.committed is not None:
            await self.committed()
        return response

    def _has(self, path: str, method: str) -> bool:
        return any(r.method == method and r.pattern.match(path) for r in self.routes)
