"""Batchite's admin operations for applications and their packages, until the management plane
serves them; `batchite app` calls them. SharedKey of the account and an api-version, like the Batch
operations, but outside the Batch operation list.

    GET    /_batchite/admin/applications
    PUT    /_batchite/admin/applications/{app}                     {displayName, allowUpdates, defaultVersion}
    GET    /_batchite/admin/applications/{app}
    DELETE /_batchite/admin/applications/{app}
    GET    /_batchite/admin/applications/{app}/versions
    PUT    /_batchite/admin/applications/{app}/versions/{version}  -> storageUrl to upload the zip to
    GET    /_batchite/admin/applications/{app}/versions/{version}
    POST   /_batchite/admin/applications/{app}/versions/{version}/activate  {format: zip}
    DELETE /_batchite/admin/applications/{app}/versions/{version}
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from batchite.api import render
from batchite.api.request import RequestContext
from batchite.api.routing import Router
from batchite.wire.types import encode

router = Router()
APPS = "/_batchite/admin/applications"
APP = f"{APPS}/{{app}}"
VERSIONS = f"{APP}/versions"
VERSION = f"{VERSIONS}/{{version}}"
ACTIVATE = f"{VERSION}/activate"


def _json(value: Any) -> Response:
    return render.json_response(encode(value))


@router.operation("Batchite_ListApplications", "GET", APPS, batch_api=False)
async def list_apps(ctx: RequestContext) -> Response:
    return _json({"value": ctx.batch.packages.list_applications(ctx.account)})


@router.operation("Batchite_PutApplication", "PUT", APP, batch_api=False)
async def put_app(ctx: RequestContext) -> Response:
    body = await ctx.json_object(required=False)
    allow = body.get("allowUpdates")
    default = body.get("defaultVersion")
    return _json(
        ctx.batch.packages.put_application(
            ctx.account,
            ctx.path("app"),
            display_name=None if body.get("displayName") is None else str(body["displayName"]),
            allow_updates=None if allow is None else bool(allow),
            default_version=None if default is None else str(default),
        )
    )


@router.operation("Batchite_GetApplication", "GET", APP, batch_api=False)
async def get_app(ctx: RequestContext) -> Response:
    return _json(ctx.batch.packages.get_application(ctx.account, ctx.path("app")))


@router.operation("Batchite_DeleteApplication", "DELETE", APP, batch_api=False)
async def delete_app(ctx: RequestContext) -> Response:
    await ctx.batch.packages.delete_application(ctx.account, ctx.path("app"))
    return Response(status_code=200)


@router.operation("Batchite_ListApplicationPackages", "GET", VERSIONS, batch_api=False)
async def list_versions(ctx: RequestContext) -> Response:
    return _json({"value": ctx.batch.packages.list_versions(ctx.account, ctx.path("app"))})


@router.operation("Batchite_PutApplicationPackage", "PUT", VERSION, batch_api=False)
async def put_version(ctx: RequestContext) -> Response:
    return _json(await ctx.batch.packages.create_version(ctx.account, ctx.path("app"), ctx.path("version")))


@router.operation("Batchite_GetApplicationPackage", "GET", VERSION, batch_api=False)
async def get_version(ctx: RequestContext) -> Response:
    return _json(ctx.batch.packages.get_version(ctx.account, ctx.path("app"), ctx.path("version")))


@router.operation("Batchite_DeleteApplicationPackage", "DELETE", VERSION, batch_api=False)
async def delete_version(ctx: RequestContext) -> Response:
    await ctx.batch.packages.delete_version(ctx.account, ctx.path("app"), ctx.path("version"))
    return Response(status_code=200)


@router.operation("Batchite_ActivateApplicationPackage", "POST", ACTIVATE, batch_api=False)
async def activate(ctx: RequestContext) -> Response:
    body = await ctx.json_object(required=False)
    fmt = str(body.get("format") or "")
    return _json(await ctx.batch.packages.activate(ctx.account, ctx.path("app"), ctx.path("version"), fmt))
