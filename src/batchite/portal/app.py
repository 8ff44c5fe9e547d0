"""The portal application, mounted by the data plane at /portal (over HTTP and HTTPS alike)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from batchite.portal import signin
from batchite.portal.context import Portal, PortalSettings
from batchite.portal.formatting import FILTERS
from batchite.portal.views import account, jobs, nodes, pools, tasks, usage
from batchite.service import BatchService

HERE = Path(__file__).parent


def templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


def create_portal(batch: BatchService, settings: PortalSettings | None = None) -> tuple[Starlette, Portal]:
    portal = Portal(batch, templates(), settings or PortalSettings())
    routes: list[BaseRoute] = [Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    routes += signin.routes
    routes += account.top_routes  # creating an account: before any account is signed in
    account_routes = [route for module in (account, usage, pools, nodes, jobs, tasks) for route in module.routes]
    routes.append(Mount("/a/{account}", routes=account_routes))
    app = Starlette(routes=routes)
    app.state.portal = portal
    return app, portal
