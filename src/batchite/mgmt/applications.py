"""Applications and application packages over ARM (azure-mgmt-batch 19.0.0's Application and
ApplicationPackage operations), on the service's PackageService: the same entities the data
plane's list/get applications read.

A version's create answers a SAS `storageUrl` into the linked storage (the server's
`--storage-connection-string`) to upload the zip to; activate checks that a zip is there. Each
resource shows its `etag` (also the `ETag` header). Lists are paged (`maxresults`). Deleting what
does not exist answers 204 (the application of a version must exist: 404 otherwise).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from batchite.domain.errors import BatchError
from batchite.mgmt.batch_accounts import ACCOUNT_PATH, BatchAccounts, account_id
from batchite.mgmt.errors import ArmError
from batchite.mgmt.paging import paged
from batchite.mgmt.routing import ArmRequest, ArmRouter, json_response
from batchite.service.batch import BatchService
from batchite.service.packages import ApplicationView, PackageView

APPLICATION_TYPE = "Microsoft.Batch/batchAccounts/applications"
PACKAGE_TYPE = f"{APPLICATION_TYPE}/versions"
TARGET = "BatchAccount"  # the target Microsoft.Batch names in its application errors


class ApplicationProperties(msgspec.Struct, rename="camel"):
    display_name: str | None = None
    allow_updates: bool | None = None
    default_version: str | None = None


class ApplicationBody(msgspec.Struct):
    """Application_Create and Application_Update: an empty body is an application with defaults."""

    properties: ApplicationProperties | None = None
    tags: dict[str, str] | None = None


class PackageBody(msgspec.Struct):
    """ApplicationPackage_Create: its properties are all read-only; tags are kept."""

    tags: dict[str, str] | None = None


class ActivateBody(msgspec.Struct):
    format: str | None = None


def arm_error(err: BatchError) -> ArmError:
    """The service's error as ARM answers it: the same status and code; a property's bad value is
    ARM's InvalidParameter naming it as the target."""
    values = dict(err.values)
    if err.code == "InvalidPropertyValue":
        name = values.get("PropertyName", "")
        reason = values.get("Reason", "")
        message = f"The value '{values.get('PropertyValue', '')}' of '{name}' is invalid. {reason}".strip()
        return ArmError(err.status, "InvalidParameter", message, target=name or None)
    return ArmError(err.status, err.code, err.message, target=TARGET)


def etag_of(etag: str) -> str:
    return f'W/"{etag}"'


def _properties(view: ApplicationView) -> dict[str, Any]:
    properties: dict[str, Any] = {"displayName": view.display_name, "allowUpdates": view.allow_updates}
    if view.default_version:
        properties["defaultVersion"] = view.default_version
    return properties


def _state(view: PackageView) -> str:
    return str(view.state).capitalize()  # ARM spells the states Pending, Active


class Applications:
    def __init__(self, accounts: BatchAccounts, batch: BatchService) -> None:
        self.accounts = accounts
        self.batch = batch
        self.packages = batch.packages

    # -- bodies ---------------------------------------------------------------------------------
    @staticmethod
    def application_body(base: str, view: ApplicationView) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"{base}/applications/{view.id}",
            "name": view.id,
            "type": APPLICATION_TYPE,
            "etag": etag_of(view.etag),
            "properties": _properties(view),
        }
        if view.tags is not None:
            body["tags"] = view.tags
        return body

    @staticmethod
    def package_body(base: str, view: PackageView) -> dict[str, Any]:
        properties: dict[str, Any] = {"state": _state(view)}
        for name, value in (
            ("format", view.format),
            ("storageUrl", view.storage_url),
            ("storageUrlExpiry", view.storage_url_expiry),
            ("lastActivationTime", view.last_activation_time),
        ):
            if value is not None:
                properties[name] = value
        body: dict[str, Any] = {
            "id": f"{base}/applications/{view.application_id}/versions/{view.version}",
            "name": view.version,
            "type": PACKAGE_TYPE,
            "etag": etag_of(view.etag),
            "properties": properties,
        }
        if view.tags is not None:
            body["tags"] = view.tags
        return body

    def _application(self, base: str, view: ApplicationView) -> Response:
        return json_response(self.application_body(base, view), headers={"ETag": etag_of(view.etag)})

    def _package(self, base: str, view: PackageView) -> Response:
        return json_response(self.package_body(base, view), headers={"ETag": etag_of(view.etag)})

    async def _account(self, req: ArmRequest) -> tuple[str, str]:
        """The account's name (its key on the data plane) and its ARM id."""
        record = await self.accounts.account_of(req)
        return record.name, account_id(record)

    # -- applications ---------------------------------------------------------------------------
    async def _put(self, req: ArmRequest, must_exist: bool) -> Response:
        account, base = await self._account(req)
        body = await req.body(ApplicationBody)
        props = body.properties or ApplicationProperties()
        try:
            view = self.packages.put_application(
                account,
                req.params["applicationName"],
                display_name=props.display_name,
                allow_updates=props.allow_updates,
                default_version=props.default_version,
                tags=body.tags,
                must_exist=must_exist,
            )
        except BatchError as err:
            raise arm_error(err) from err
        await self.batch.committed()
        return self._application(base, view)

    async def create(self, req: ArmRequest) -> Response:
        return await self._put(req, must_exist=False)

    async def update(self, req: ArmRequest) -> Response:
        return await self._put(req, must_exist=True)

    async def get(self, req: ArmRequest) -> Response:
        account, base = await self._account(req)
        try:
            view = self.packages.get_application(account, req.params["applicationName"])
        except BatchError as err:
            raise arm_error(err) from err
        return self._application(base, view)

    async def list(self, req: ArmRequest) -> Response:
        account, base = await self._account(req)
        views = self.packages.list_applications(account)
        return json_response(paged(req, views, lambda v: self.application_body(base, v)))

    async def delete(self, req: ArmRequest) -> Response:
        account, _ = await self._account(req)
        try:
            await self.packages.delete_application(account, req.params["applicationName"])
        except BatchError as err:
            if err.status == 404:
                return Response(status_code=204)
            raise arm_error(err) from err
        await self.batch.committed()
        return Response(status_code=200)

    # -- versions -------------------------------------------------------------------------------
    async def create_version(self, req: ArmRequest) -> Response:
        account, base = await self._account(req)
        body = await req.body(PackageBody)
        try:
            view = await self.packages.create_version(
                account, req.params["applicationName"], req.params["versionName"], tags=body.tags
            )
        except BatchError as err:
            raise arm_error(err) from err
        await self.batch.committed()
        return self._package(base, view)

    async def get_version(self, req: ArmRequest) -> Response:
        account, base = await self._account(req)
        try:
            view = self.packages.get_version(account, req.params["applicationName"], req.params["versionName"])
        except BatchError as err:
            raise arm_error(err) from err
        return self._package(base, view)

    async def list_versions(self, req: ArmRequest) -> Response:
        account, base = await self._account(req)
        try:
            views = self.packages.list_versions(account, req.params["applicationName"])
        except BatchError as err:
            raise arm_error(err) from err
        return json_response(paged(req, views, lambda v: self.package_body(base, v)))

    async def delete_version(self, req: ArmRequest) -> Response:
        account, _ = await self._account(req)
        try:
            await self.packages.delete_version(account, req.params["applicationName"], req.params["versionName"])
        except BatchError as err:
            if err.code == "ApplicationPackageNotFound":
                return Response(status_code=204)
            raise arm_error(err) from err
        await self.batch.committed()
        return Response(status_code=200)

    async def activate(self, req: ArmRequest) -> Response:
        account, base = await self._account(req)
        body = await req.body(ActivateBody)
        if not body.format:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid: format is required.")
        try:
            view = await self.packages.activate(
                account, req.params["applicationName"], req.params["versionName"], body.format
            )
        except BatchError as err:
            raise arm_error(err) from err
        await self.batch.committed()
        return self._package(base, view)


def add_application_routes(router: ArmRouter, accounts: BatchAccounts, batch: BatchService) -> None:
    account = ACCOUNT_PATH
    apps = Applications(accounts, batch)
    one = account + "/applications/{applicationName}"
    version = one + "/versions/{versionName}"
    router.add("GET", account + "/applications", apps.list)
    router.add("PUT", one, apps.create)
    router.add("GET", one, apps.get)
    router.add("PATCH", one, apps.update)
    router.add("DELETE", one, apps.delete)
    router.add("GET", one + "/versions", apps.list_versions)
    router.add("PUT", version, apps.create_version)
    router.add("GET", version, apps.get_version)
    router.add("DELETE", version, apps.delete_version)
    router.add("POST", version + "/activate", apps.activate)
