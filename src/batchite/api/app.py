"""The Starlette application: routes of every resource, a health probe, the metrics, Batch-shaped
404/405, and the version header on every response."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from batchite import __version__, metrics
from batchite.api.admission import Admission
from batchite.api.errors import error_response
from batchite.api.openapi import openapi_json
from batchite.api.route_index import IndexedRouter
from batchite.api.routes import (
    account,
    admin,
    certificates,
    files,
    jobs,
    jobschedules,
    nodes,
    pools,
    tasks,
)
from batchite.domain.errors import no_such_route
from batchite.service import BatchService
from batchite.version_header import VersionHeader


@dataclass
class ApiSettings:
    strict_api_version: bool = False
    stop_agents: bool = False  # when the service stops, its node agents stop too
    max_concurrent_requests: int = 256  # beyond it (and a short wait), 503 ServerBusy
    metrics: bool = True  # serve /metrics (Prometheus text format, unauthenticated like the health probe)


async def health(request: Request) -> Response:
    """Alive (it answers) and ready (the store takes writes, every node's agent is attached): 200,
    else 503 with the check that failed. No account names: it is not signed."""
    batch: BatchService = request.app.state.batch
    checks = batch.observability.readiness()
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if ready else "unavailable", "alive": True, "ready": ready, "checks": checks}
    return JSONResponse({**body, "version": __version__}, status_code=200 if ready else 503)


async def metrics_text(request: Request) -> Response:
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


async def _unknown(request: Request, exc: Exception) -> Response:
    base = f"{request.url.scheme}://{request.headers.get('host', '')}"
    err = no_such_route(getattr(exc, "status_code", 404), request.method, request.url.path)
    return error_response(err, str(uuid.uuid4()), base, head=request.method == "HEAD")


def create_app(
    batch: BatchService, settings: ApiSettings | None = None, mounts: list[BaseRoute] | None = None
) -> Starlette:
    """The data plane; `mounts` are served beside it (the portal at /portal)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        batch.start()
        batch.observability.bind_metrics()
        try:
            yield
        finally:
            await batch.stop(app.state.settings.stop_agents)

    routes: list[BaseRoute] = [
        Route("/_batchite/health", health, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    settings = settings or ApiSettings()
    if settings.metrics:
        routes.append(Route("/metrics", metrics_text, methods=["GET"]))
    for module in (account, admin, certificates, pools, nodes, files, jobs, jobschedules, tasks):
        routes.extend(module.router.routes)
    routes.extend(mounts or [])
    admission = Middleware(Admission, limit=settings.max_concurrent_requests)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(VersionHeader), admission],
        lifespan=lifespan,
        exception_handlers={404: _unknown, 405: _unknown},
    )
    app.router = IndexedRouter(routes, lifespan=lifespan)
    app.state.batch = batch
    app.state.settings = settings
    return app
