"""Routing by the first path segment: a request is matched only against the routes that can take it.

Starlette's router tries every route in turn, a regular expression each: with the data plane's
72 operations, the portal and the probes, that was a sixth of the time of a `get_task`. A route's
first segment is literal (`/jobs/...`, `/pools/...`), so the routes are split by it once, each
group a plain Starlette router in the original order, with the redirects and the 404 it would
give; a request goes to the group of its first segment (routes that begin with a parameter are
tried for any). What Starlette sees of it (scope["router"], url_for) is still the whole router.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send


def _first_segment(route: BaseRoute) -> str | None:
    """The literal first segment of a route's path; None when it begins with a parameter."""
    path = route.path if isinstance(route, Route | Mount) else None
    if path is None:
        return None
    first = path.lstrip("/").split("/", 1)[0]
    return None if "{" in first else first


class IndexedRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(routes=routes, **options)
        keys = {_first_segment(route) for route in self.routes} - {None}
        anywhere = [route for route in self.routes if _first_segment(route) is None]
        self._groups = {
            key: Router([r for r in self.routes if _first_segment(r) in (key, None)], self.redirect_slashes)
            for key in keys
        }
        self._rest = Router(anywhere, self.redirect_slashes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        path: str = scope["path"][len(scope.get("root_path", "")) :]
        group = self._groups.get(path.lstrip("/").split("/", 1)[0], self._rest)
        scope.setdefault("router", self)
        await group.app(scope, receive, send)
