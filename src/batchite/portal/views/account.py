"""The portal's account pages: the dashboard."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.portal.context import Signed, account_page


@account_page
async def dashboard(signed: Signed) -> Response:
    return signed.render("account/dashboard.html")


routes: list[BaseRoute] = [Route("/", dashboard, methods=["GET"])]
top_routes: list[BaseRoute] = []  # /portal/accounts/...: not under one account
