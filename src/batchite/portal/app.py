"""The portal application, mounted by the data plane at /portal (over HTTP and HTTPS alike)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from batchite.domain.errors import no_such_route
from batchite.portal import signin
from batchite.portal.context import Portal, PortalSettings, portal_of
from batchite.portal.formatting import FILTERS
from batchite.portal.views import account, jobs, nodes, pools, tasks, usage
from batchite.service import BatchService

HERE = Path(__file__).parent


def templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


async def _unknown(request: Request, exc: Exception) -> Response:
    """No such page: said as the data plane says it, on a portal page."""
    err = no_such_route(getattr(exc, "status_code", 404), request.method, request.url.path)
    return portal_of(request).render(request, "error.html", {"error": err}, err.status)


def create_portal(batch: BatchService, settings: PortalSettings | None = None) -> tuple[Starlette, Portal]:
    portal = Portal(batch, templates(), settings or PortalSettings())
    routes: list[BaseRoute] = [Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    routes += signin.routes
    routes += account.top_routes  # creating an account: before any account is signed in
    account_routes = [route for module in (account, usage, pools, nodes, jobs, tasks) for route in module.routes]
    routes.append(Mount("/a/{account}", routes=account_routes))
    app = Starlette(routes=routes, exception_handlers={404: _unknown, 405: _unknown})
    app.state.portal = portal
    return app, portal
