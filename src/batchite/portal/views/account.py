"""The portal's account pages: the dashboard (live), the keys and the quotas; creating an account
is in account_create.py (its routes are this module's `top_routes`)."""

from __future__ import annotations

import asyncio
import time
import weakref

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.entities.accounts import BatchAccountRecord
from batchite.domain.errors import BatchError
from batchite.portal import live
from batchite.portal.context import PREFIX, Signed, account_page
from batchite.portal.views import account_create
from batchite.service import BatchService
from batchite.service.account_overview import AccountOverview, AccountOverviewService
from batchite.service.batch_accounts import BatchAccountError

PARTS = ("pools", "nodes", "jobs", "tasks", "quotas")  # the dashboard's live fragments (SSE event names)
FRESH = 0.5  # seconds an overview serves every fragment of one stream's tick

_services: weakref.WeakKeyDictionary[BatchService, AccountOverviewService] = weakref.WeakKeyDictionary()


def overviews(batch: BatchService) -> AccountOverviewService:
    """One overview service per BatchService (it keeps completed jobs' task counts)."""
    found = _services.get(batch)
    if found is None:
        found = _services[batch] = AccountOverviewService(batch.ctx)
    return found


async def overview_of(batch: BatchService, account: str) -> AccountOverview:
    service = overviews(batch)
    stored = await asyncio.to_thread(service.stored, account)  # the store's part, off the event loop
    return service.overview(account, stored)  # the live projection's part, on it


def fragment(signed: Signed, part: str, overview: AccountOverview) -> str:
    template = signed.portal.templates.env.get_template(f"account/_{part}.html")
    return template.render(o=overview, base=signed.base, account=signed.account, prefix=PREFIX)


class Feed:
    """The overview behind one live stream: read once per tick for all its fragments; a stream of
    a session signed out of the account (its key regenerated away) says so instead, and shows
    nothing more of it."""

    def __init__(self, signed: Signed) -> None:
        self.signed = signed
        self.at = 0.0
        self.current: AccountOverview | None = None

    async def get(self) -> AccountOverview | None:
        key = self.signed.session.key_of(self.signed.account)  # as the session holds it now (it may follow a new key)
        if key is None or not self.signed.portal.valid_key(self.signed.account, key):
            return None
        if self.current is None or time.monotonic() - self.at > FRESH:
            self.current = await overview_of(self.signed.batch, self.signed.account)
            self.at = time.monotonic()
        return self.current

    def source(self, part: str) -> live.Source:
        async def render() -> str:
            overview = await self.get()
            if overview is None:
                return '<p class="notice" role="status">Signed out: this account\'s key has changed.</p>'
            return fragment(self.signed, part, overview)

        return render


@account_page
async def dashboard(signed: Signed) -> Response:
    overview = await overview_of(signed.batch, signed.account)
    return signed.render("account/dashboard.html", o=overview)


@account_page
async def events(signed: Signed) -> Response:
    """The dashboard's (or the quotas page's: `?parts=quotas`) fragments, pushed when they change."""
    asked = [p for p in signed.query("parts").split(",") if p in PARTS] or list(PARTS)
    feed = Feed(signed)
    return live.stream(signed.request, {part: feed.source(part) for part in asked})


@account_page
async def quotas(signed: Signed) -> Response:
    overview = await overview_of(signed.batch, signed.account)
    configured = signed.batch.accounts.is_configured(signed.account)
    return signed.render("account/quotas.html", o=overview, configured=configured)


# -- keys -------------------------------------------------------------------------------------
def data_plane_url(request: Request) -> str:
    """The account's URL as the user reaches this server (the data plane serves the portal)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def record_of(signed: Signed) -> BatchAccountRecord:
    record = overviews(signed.batch).record(signed.account, signed.batch.batch_accounts)
    if record is None:
        raise BatchError(404, "ResourceNotFound", f"The Batch account '{signed.account}' was not found.")
    return record


def keys_page(signed: Signed, record: BatchAccountRecord, status: int = 200, **values: object) -> Response:
    return signed.render(
        "account/keys.html",
        status,
        record=record,
        url=data_plane_url(signed.request),
        show=signed.query("show"),
        signed_with=signed.session.key_of(signed.account),
        **values,
    )


@account_page
async def keys(signed: Signed) -> Response:
    regenerated = signed.query("regenerated")
    return keys_page(signed, record_of(signed), regenerated=regenerated if regenerated in KEY_NAMES else "")


KEY_NAMES = {"primary": "Primary", "secondary": "Secondary"}


@account_page
async def regenerate(signed: Signed) -> Response:
    """A new primary or secondary key through the management plane's service; a session signed in
    with the old key keeps going with the new one (other sessions holding it are signed out)."""
    record = record_of(signed)
    which = signed.field("keyName").lower()
    old = record.primary_key if which == "primary" else record.secondary_key
    try:
        changed = signed.batch.batch_accounts.regenerate_key(
            record.subscription_id, record.resource_group, record.name, signed.field("keyName")
        )
    except BatchAccountError as err:
        error = BatchError(err.status, err.code, err.message, [("AccountName", record.name), ("KeyName", which)])
        return keys_page(signed, record, error.status, error=error)
    await signed.batch.committed()
    new = changed.primary_key if which == "primary" else changed.secondary_key
    if signed.session.key_of(signed.account) == old:
        signed.session.accounts[signed.account] = new
    return signed.redirect(f"/keys?regenerated={which}&show={which}")


routes: list[BaseRoute] = [
    Route("/", dashboard, methods=["GET"]),
    Route("/events", events, methods=["GET"]),
    Route("/keys", keys, methods=["GET"]),
    Route("/keys/regenerate", regenerate, methods=["POST"]),
    Route("/quotas", quotas, methods=["GET"]),
]
top_routes: list[BaseRoute] = account_create.routes  # /portal/accounts/...: not under one account
