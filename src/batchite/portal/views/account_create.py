"""Creating a Batch account, as the Azure portal's form does: subscription, resource group, account
name (its rules checked as you type), location and linked storage.

Offered where the one-click development sign-in is (a server bound to loopback, a loopback client):
anyone who reaches such a server may already act as the development account. Elsewhere accounts are
created through the management plane (az batch account create, azure-mgmt-batch). The resource
groups and locations are the management plane's (`PortalSettings.resource_groups`): without it
served, the form says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from batchite.domain.entities.accounts import DEV_SUBSCRIPTION_ID, BatchAccountRecord
from batchite.domain.errors import BatchError, invalid_property, missing_property
from batchite.portal.context import PREFIX, Portal, checked_form, forbidden, portal_of, redirect
from batchite.portal.ports import ResourceGroups
from batchite.portal.sessions import PortalSession
from batchite.portal.signin import with_cookie
from batchite.service.batch_accounts import BatchAccountError

NAME_LENGTH = (3, 24)
_NAME_CHARS = re.compile(r"^[a-z0-9]*$")


@dataclass(frozen=True)
class NameRule:
    text: str
    met: bool


def name_rules(name: str) -> list[NameRule]:
    """The account name's rules, each met or not (what the form says as you type)."""
    low, high = NAME_LENGTH
    return [
        NameRule(f"{low} to {high} characters ({len(name)} now)", low <= len(name) <= high),
        NameRule("Only lowercase letters and digits", bool(name) and bool(_NAME_CHARS.match(name))),
    ]


def linked_storage_id(portal: Portal, resource_group: str) -> str | None:
    """The ARM id of the server's linked storage account in the account's group (as the management
    plane names it in autoStorage), or None when the server has no storage."""
    storage = portal.batch.ctx.storage
    if storage is None:
        return None
    return (
        f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{storage.account_name}"
    )


def _session(portal: Portal, request: Request) -> tuple[PortalSession, bool]:
    found = portal.session_of(request)
    return (found, False) if found is not None else (portal.sessions.new(), True)


def _page(
    portal: Portal,
    request: Request,
    session: PortalSession,
    values: dict[str, object],
    status: int = 200,
) -> Response:
    groups = portal.settings.resource_groups
    offered = portal.dev_sign_in_offered(request)
    storage = portal.batch.ctx.storage
    context = {
        "offered": offered,
        "mgmt": groups is not None,
        "subscription": DEV_SUBSCRIPTION_ID,
        "groups": groups.names(DEV_SUBSCRIPTION_ID) if groups is not None and offered else [],
        "locations": groups.locations() if groups is not None else [],
        "storage_name": storage.account_name if storage is not None else "",
        "session": session,
        "signed_accounts": sorted(session.accounts),
        "csrf": session.csrf,
        **values,
    }
    return portal.render(request, "account/create.html", context, status)


async def new_account(request: Request) -> Response:
    portal = portal_of(request)
    session, fresh = _session(portal, request)
    groups = portal.settings.resource_groups
    values: dict[str, object] = {"form": {"location": groups.locations()[0][0] if groups else ""}}
    response = _page(portal, request, session, values)
    return with_cookie(request, response, session) if fresh else response


async def check_name(request: Request) -> Response:
    """The account name's rules and availability, as a fragment for the form's live region."""
    portal = portal_of(request)
    if not portal.dev_sign_in_offered(request):
        return HTMLResponse('<p class="invalid">Not offered here.</p>', status_code=403)
    name = request.query_params.get("name", "").strip()
    rules = name_rules(name)
    availability = portal.batch.batch_accounts.check_name_availability(name) if all(r.met for r in rules) else None
    template = portal.templates.env.get_template("account/_name_check.html")
    return HTMLResponse(template.render(name=name, rules=rules, availability=availability))


def _form_error(err: BatchAccountError | BatchError, name: str) -> BatchError:
    if isinstance(err, BatchError):
        return err
    return BatchError(err.status, err.code, err.message, [("AccountName", name)])


async def create_account(request: Request) -> Response:
    portal = portal_of(request)
    session = portal.session_of(request)
    form = await checked_form(request, session)
    if form is None or session is None or not portal.dev_sign_in_offered(request):
        return forbidden(portal, request)
    values = {k: str(v).strip() for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    name = values.get("name", "")
    try:
        record = await _create(portal, values)
    except (BatchError, BatchAccountError) as err:
        error = _form_error(err, name)
        return _page(portal, request, session, {"form": values, "error": error}, error.status)
    session.accounts[record.name] = record.primary_key  # signed in to the new account at once
    return redirect(request, f"{PREFIX}/a/{record.name}/")


async def _create(portal: Portal, values: dict[str, str]) -> BatchAccountRecord:
    """The new account, once it is stored; a BatchError (or the service's) when refused."""
    groups: ResourceGroups | None = portal.settings.resource_groups
    if groups is None:
        raise BatchError(
            409,
            "ManagementPlaneNotServed",
            "Batch accounts are created in the management plane's resource groups: start the server with "
            "--mgmt-port to create them here.",
        )
    for required in ("subscription", "resourceGroup", "name", "location"):
        if not values.get(required):
            raise missing_property(required)
    if values["subscription"].lower() != DEV_SUBSCRIPTION_ID:
        raise BatchError(
            404, "SubscriptionNotFound", f"The subscription '{values['subscription']}' could not be found."
        )
    location = values["location"]
    if location not in {n for n, _ in groups.locations()}:
        raise invalid_property("location", location, "The location is not available for Microsoft.Batch.")
    name, group = values["name"], values["resourceGroup"]
    storage = values.get("storage", "")
    linked = portal.batch.ctx.storage
    if storage and (linked is None or storage != linked.account_name):
        raise invalid_property("storage", storage, "The server has no such storage account to link.")
    storage_id = linked_storage_id(portal, group) if storage else None
    accounts = portal.batch.batch_accounts
    availability = accounts.check_name_availability(name)
    if not availability.available:  # before the group is made: a refused name leaves nothing behind
        status, code = (
            (400, "AccountNameInvalid") if availability.reason == "Invalid" else (409, "AccountAlreadyExists")
        )
        raise BatchError(status, code, availability.message or "", [("AccountName", name)])
    groups.ensure(DEV_SUBSCRIPTION_ID, group, location)  # on the loop, as the management plane writes it
    record = accounts.create(DEV_SUBSCRIPTION_ID, group, name, location, None, storage_id)
    await portal.batch.committed()
    return record


routes: list[BaseRoute] = [
    Route("/accounts/new", new_account, methods=["GET"]),
    Route("/accounts/new", create_account, methods=["POST"]),
    Route("/accounts/check-name", check_name, methods=["GET"]),
]
