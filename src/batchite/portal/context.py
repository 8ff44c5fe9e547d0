"""What every portal page shares, and the one request on one signed-in account that handlers get."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from batchite.domain.errors import BatchError
from batchite.portal.ports import ResourceGroups
from batchite.portal.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, PortalSession, SessionStore
from batchite.service import BatchService

PREFIX = "/portal"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class PortalSettings:
    bound_to_loopback: bool = True  # the server listens on loopback only: one-click development sign-in
    dev_account: tuple[str, str] | None = None  # (name, key) of the well-known development account, if served
    resource_groups: ResourceGroups | None = None  # the management plane's, when it is served (account create)


@dataclass
class Portal:
    """The portal's state, on the portal application's `state.portal`."""

    batch: BatchService
    templates: Jinja2Templates
    settings: PortalSettings
    sessions: SessionStore = field(default_factory=SessionStore)
    stopping: Callable[[], bool] = lambda: False  # the server is shutting down: live streams end

    def session_of(self, request: Request) -> PortalSession | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def dev_sign_in_offered(self, request: Request) -> bool:
        client = request.client.host if request.client else ""
        return self.settings.dev_account is not None and self.settings.bound_to_loopback and is_loopback(client)

    def valid_key(self, account: str, key: str) -> bool:
        found = self.batch.accounts.get(account)
        return found is not None and key in found.keys

    def render(self, request: Request, template: str, values: Mapping[str, Any], status: int = 200) -> HTMLResponse:
        session = self.session_of(request)
        fragment = request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
        context = {
            "request": request,
            "layout": "_fragment.html" if fragment else "base.html",
            "session": session,
            "signed_accounts": sorted(session.accounts) if session else [],
            "csrf": session.csrf if session else "",
            "prefix": PREFIX,
            **values,
        }
        return self.templates.TemplateResponse(request, template, context, status_code=status)


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def redirect(request: Request, url: str) -> Response:
    """After a change: a 303 for a plain form, an HX-Redirect for htmx."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def sign_in_redirect(request: Request, reason: str = "") -> Response:
    query = {"next": request.url.path}
    if reason:
        query["reason"] = reason
    return redirect(request, f"{PREFIX}/?{urlencode(query)}")


async def checked_form(request: Request, session: PortalSession | None) -> FormData | None:
    """The posted form, when the request carries the session's CSRF token and comes from this origin;
    else None (answer 403)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        return None
    form = await request.form()
    token = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if session is None or not session.csrf_matches(token if isinstance(token, str) else None):
        return None
    return form


@dataclass
class Signed:
    """One request on the pages of one signed-in account."""

    request: Request
    portal: Portal
    session: PortalSession
    account: str
    form: FormData | None = None  # a POST's form (its CSRF token checked)

    @property
    def batch(self) -> BatchService:
        return self.portal.batch

    @property
    def base(self) -> str:
        return f"{PREFIX}/a/{self.account}"

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str)]

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return self.portal.render(
            self.request, template, {"account": self.account, "base": self.base, **values}, status
        )

    def error(self, err: BatchError, template: str | None = None, **values: Any) -> HTMLResponse:
        """The Batch error as the service says it (code, message, values), with its status; inside
        `template` (a form shown again) when given."""
        return self.render(template or "error.html", err.status, error=err, **values)

    def redirect(self, path: str) -> Response:
        return redirect(self.request, path if path.startswith(PREFIX) else self.base + path)


Handler = Callable[[Signed], Awaitable[Response]]


def account_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page of one account: the session must hold it with a key the account still has (a
    regenerated key signs it out); a POST must carry the CSRF token, and is answered once its change
    is committed; a BatchError is shown as such."""

    async def endpoint(request: Request) -> Response:
        portal = portal_of(request)
        session = portal.session_of(request)
        account = request.path_params["account"]
        key = session.key_of(account) if session else None
        if session is None or key is None:
            return sign_in_redirect(request)
        if not portal.valid_key(account, key):
            del session.accounts[account]
            return sign_in_redirect(request, "key")
        form = None
        if request.method not in ("GET", "HEAD"):
            form = await checked_form(request, session)
            if form is None:
                return forbidden(portal, request)
        signed = Signed(request, portal, session, account, form)
        try:
            response = await handler(signed)
        except BatchError as err:
            return signed.error(err)
        if form is not None:
            await portal.batch.committed()  # what a change did is on disk before it is shown done
        return response

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def forbidden(portal: Portal, request: Request) -> HTMLResponse:
    err = BatchError(403, "Forbidden", "The request did not carry this session's token; reload the page and try again.")
    return portal.render(request, "error.html", {"error": err}, 403)
