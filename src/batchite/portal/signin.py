"""Signing in and out: an account name and key (checked against the account's keys), or one click as
the development account on a server bound to loopback. A session may hold several accounts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError
from batchite.portal.context import PREFIX, checked_form, forbidden, portal_of, redirect
from batchite.portal.sessions import COOKIE, PortalSession

REASONS = {"key": "That account's key has changed: sign in again with a current key."}


def with_cookie(request: Request, response: Response, session: PortalSession) -> Response:
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


def _next(request: Request, form_value: object) -> str:
    target = form_value if isinstance(form_value, str) else ""
    # Only a path of the portal: never another site (an open redirect).
    return target if target.startswith(PREFIX + "/a/") and "//" not in target and "\\" not in target else ""


async def home(request: Request) -> Response:
    """The sign-in page, with the accounts this session holds."""
    portal = portal_of(request)
    session = portal.session_of(request) or portal.sessions.new()
    reason = REASONS.get(request.query_params.get("reason", ""), "")
    values = {
        "next": _next(request, request.query_params.get("next")),
        "reason": reason,
        "dev_offered": portal.dev_sign_in_offered(request),
        "dev_account": portal.settings.dev_account[0] if portal.settings.dev_account else "",
        "session": session,
        "signed_accounts": sorted(session.accounts),
        "csrf": session.csrf,
    }
    return with_cookie(request, portal.render(request, "signin.html", values), session)


async def sign_in(request: Request) -> Response:
    portal = portal_of(request)
    session = portal.session_of(request)
    form = await checked_form(request, session)
    if form is None or session is None:
        return forbidden(portal, request)
    name = str(form.get("account", "")).strip()
    key = str(form.get("key", "")).strip()
    if not name or not key or not portal.valid_key(name, key):
        err = BatchError(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request: the account name or key is not right.",
            [("AccountName", name)],
        )
        values = {"error": err, "account_name": name, "next": _next(request, form.get("next")), "csrf": session.csrf}
        values["dev_offered"] = portal.dev_sign_in_offered(request)
        values["dev_account"] = portal.settings.dev_account[0] if portal.settings.dev_account else ""
        return portal.render(request, "signin.html", values, 403)
    session.accounts[name] = key
    return redirect(request, _next(request, form.get("next")) or f"{PREFIX}/a/{name}/")


async def sign_in_dev(request: Request) -> Response:
    portal = portal_of(request)
    session = portal.session_of(request)
    form = await checked_form(request, session)
    if form is None or session is None or not portal.dev_sign_in_offered(request) or not portal.settings.dev_account:
        return forbidden(portal, request)
    name, key = portal.settings.dev_account
    session.accounts[name] = key
    return redirect(request, f"{PREFIX}/a/{name}/")


async def sign_out(request: Request) -> Response:
    """Out of one account (`account` in the form), or of all of them."""
    portal = portal_of(request)
    session = portal.session_of(request)
    form = await checked_form(request, session)
    if form is None or session is None:
        return forbidden(portal, request)
    which = str(form.get("account", ""))
    if which:
        session.accounts.pop(which, None)
    else:
        session.accounts.clear()
    return redirect(request, f"{PREFIX}/")


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-in/dev", sign_in_dev, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
