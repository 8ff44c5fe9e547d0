"""Applications and application packages (the management plane's part): create an application,
create a version (a SAS storageUrl into the linked storage to upload its zip to), activate it,
list, delete. The data plane's list/get applications (service/applications.py) show the active
versions. Calls that touch storage run it on a worker thread and are coroutines.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from batchite.domain import applications as apps
from batchite.domain.entities import Application, ApplicationPackage
from batchite.domain.entities.records import ApplicationInternal, PackageInternal, PackageRecord, PackageState
from batchite.domain.errors import BatchError, conflict, invalid_property, not_found
from batchite.service.context import ServiceContext, require
from batchite.storage.linked import LinkedStorage
from batchite.wire.models import BatchApplication, BatchApplicationPackageReference
from batchite.wire.types import WireStruct

UPLOAD_URL_HOURS = 24
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class PackageView(WireStruct, kw_only=True):
    version: str
    application_id: str
    state: PackageState
    format: str | None = None
    storage_url: str | None = None
    storage_url_expiry: datetime | None = None
    last_activation_time: datetime | None = None
    etag: str = ""
    tags: dict[str, str] | None = None


class ApplicationView(WireStruct, kw_only=True):
    id: str
    display_name: str
    allow_updates: bool
    default_version: str | None = None
    versions: list[PackageView]
    etag: str = ""
    tags: dict[str, str] | None = None


def _package_not_found() -> BatchError:
    return BatchError(404, "ApplicationPackageNotFound", "The specified application package does not exist.")


class PackageService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- helpers --------------------------------------------------------------------------
    @property
    def storage(self) -> LinkedStorage:
        if self.ctx.storage is None:
            raise conflict(
                "AutoStorageNotConfigured",
                "The Batch account has no linked storage account; start batchite serve with "
                "--storage-connection-string (or BATCHITE_STORAGE_CONNECTION_STRING).",
            )
        return self.ctx.storage

    def _app(self, account: str, app_id: str) -> Application:
        return require(self.ctx.store.applications.get(account, "", app_id), not_found("application"))

    def _version(self, account: str, app: Application, version: str) -> ApplicationPackage:
        return require(self.ctx.store.packages.get(account, app.key, version), _package_not_found())

    def _versions(self, account: str, app: Application) -> builtins.list[ApplicationPackage]:
        return self.ctx.store.packages.list(account, app.key)

    def _refresh_active(self, account: str, app: Application) -> None:
        versions = self._versions(account, app)
        app.wire.versions = sorted(v.id for v in versions if v.wire.state == PackageState.ACTIVE)
        self.ctx.store.applications.update(app)

    @staticmethod
    def package_view(app: Application, package: ApplicationPackage) -> PackageView:
        w = package.wire
        return PackageView(
            version=package.id,
            application_id=app.id,
            state=w.state,
            format=w.format,
            storage_url=w.storage_url,
            storage_url_expiry=w.storage_url_expiry,
            last_activation_time=w.last_activation_time,
            etag=package.etag,
            tags=package.internal.tags,
        )

    def view(self, account: str, app: Application) -> ApplicationView:
        return ApplicationView(
            id=app.id,
            display_name=app.wire.display_name or app.id,
            allow_updates=app.internal.allow_updates,
            default_version=app.internal.default_version,
            versions=[self.package_view(app, v) for v in self._versions(account, app)],
            etag=app.etag,
            tags=app.internal.tags,
        )

    # -- applications -------------------------------------------------------------------
    def put_application(
        self,
        account: str,
        app_id: str,
        display_name: str | None = None,
        allow_updates: bool | None = None,
        default_version: str | None = None,
        tags: dict[str, str] | None = None,
        must_exist: bool = False,
    ) -> ApplicationView:
        """Create the application, or update the properties given (must_exist: only update, 404
        ApplicationNotFound when missing)."""
        if not apps.APP_ID.match(app_id or ""):
            raise invalid_property("applicationName", app_id, "Use 1-64 letters, digits, hyphens and underscores.")
        app = self.ctx.store.applications.get(account, "", app_id)
        if app is None and must_exist:
            raise not_found("application")
        if app is None:
            wire = BatchApplication(id=app_id, display_name=app_id, versions=[])
            internal = ApplicationInternal(container=apps.container_name(app_id))
            app = self.ctx.store.applications.insert(Application(account, "", wire, internal))
        if display_name is not None:
            app.wire.display_name = display_name
        if allow_updates is not None:
            app.internal.allow_updates = allow_updates
        if default_version is not None:
            if default_version and self.ctx.store.packages.get(account, app.key, default_version) is None:
                raise _package_not_found()
            app.internal.default_version = default_version or None
        if tags is not None:
            app.internal.tags = tags
        self.ctx.store.applications.update(app)
        return self.view(account, app)

    def get_application(self, account: str, app_id: str) -> ApplicationView:
        return self.view(account, self._app(account, app_id))

    def list_applications(self, account: str) -> builtins.list[ApplicationView]:
        return [self.view(account, a) for a in self.ctx.store.applications.list(account, "")]

    async def delete_application(self, account: str, app_id: str) -> None:
        app = self._app(account, app_id)
        container = app.internal.container
        if self.ctx.storage is not None and container:
            await asyncio.to_thread(self.ctx.storage.delete_container, container)
        self.ctx.store.packages.delete_all(account, app.key)
        self.ctx.store.applications.delete(account, "", app.id)

    # -- versions -------------------------------------------------------------------------
    async def create_version(
        self, account: str, app_id: str, version: str, tags: dict[str, str] | None = None
    ) -> PackageView:
        """A pending package with a storageUrl (a SAS URL valid for a day) to upload the zip to."""
        if not apps.VERSION.match(version or ""):
            raise invalid_property("versionName", version, "Use 1-64 letters, digits, periods, hyphens, underscores.")
        app = self._app(account, app_id)
        storage = self.storage
        existing = self.ctx.store.packages.get(account, app.key, version)
        if existing is not None and existing.wire.state == PackageState.ACTIVE and not app.internal.allow_updates:
            raise conflict(
                "ApplicationUpdatesNotAllowed", "The application does not allow updates to its active packages."
            )
        container = app.internal.container
        await asyncio.to_thread(storage.create_container, container)
        blob = f"{app.id.lower()}-{version}-{uuid.uuid4().hex}"
        url = storage.blob_sas_url(container, blob, "rcw", UPLOAD_URL_HOURS)
        expiry = self.ctx.clock.now() + timedelta(hours=UPLOAD_URL_HOURS)
        existing = self.ctx.store.packages.get(account, app.key, version)  # it may have come meanwhile
        if existing is None:  # a new version is pending until activated; an active one stays active
            record = PackageRecord(id=version, state=PackageState.PENDING, storage_url=url, storage_url_expiry=expiry)
            package = ApplicationPackage(account, app.key, record, PackageInternal(container=container))
            package = self.ctx.store.packages.insert(package)
        else:
            package = existing
            package.wire.storage_url, package.wire.storage_url_expiry = url, expiry
        package.internal.container, package.internal.upload_blob = container, blob
        if tags is not None:
            package.internal.tags = tags
        self.ctx.store.packages.update(package)
        self._refresh_active(account, app)
        return self.package_view(app, package)

    def get_version(self, account: str, app_id: str, version: str) -> PackageView:
        app = self._app(account, app_id)
        return self.package_view(app, self._version(account, app, version))

    def list_versions(self, account: str, app_id: str) -> builtins.list[PackageView]:
        app = self._app(account, app_id)
        return [self.package_view(app, v) for v in self._versions(account, app)]

    async def activate(self, account: str, app_id: str, version: str, fmt: str) -> PackageView:
        app = self._app(account, app_id)
        package = self._version(account, app, version)
        if (fmt or "").lower() != "zip":
            raise invalid_property("format", fmt, "The only supported package format is zip.")
        storage = self.storage
        container, blob = package.internal.container, package.internal.upload_blob
        size = await asyncio.to_thread(storage.blob_size, container, blob)
        if not size:
            raise conflict(
                "ApplicationPackageBlobNotFound",
                "Upload the package's zip file to its storageUrl before activating it.",
                [("StorageUrl", (package.wire.storage_url or "").split("?", 1)[0])],
            )
        head = await asyncio.to_thread(storage.read_blob_head, container, blob, 4)
        if not head.startswith(ZIP_MAGIC):
            raise BatchError(400, "InvalidApplicationPackage", "The uploaded application package is not a zip file.")
        package = self._version(account, app, version)  # read again after the awaits
        package.wire.state, package.wire.format = PackageState.ACTIVE, "zip"
        package.wire.last_activation_time = self.ctx.clock.now()
        old, package.internal.blob = package.internal.blob, blob
        self.ctx.store.packages.update(package)
        app = self._app(account, app_id)
        self._refresh_active(account, app)
        if old and old != blob:
            await asyncio.to_thread(self._delete_blobs, storage, container, [old])
        return self.package_view(app, package)

    async def delete_version(self, account: str, app_id: str, version: str) -> None:
        app = self._app(account, app_id)
        package = self._version(account, app, version)
        self.ctx.store.packages.delete(account, app.key, package.id)
        if app.internal.default_version == package.id:
            app.internal.default_version = None
        self._refresh_active(account, app)
        blobs = {package.internal.blob, package.internal.upload_blob} - {""}
        if self.ctx.storage is not None and blobs:
            await asyncio.to_thread(self._delete_blobs, self.ctx.storage, package.internal.container, blobs)

    @staticmethod
    def _delete_blobs(storage: LinkedStorage, container: str, names: Iterable[str]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage.service() as svc:
            for name in names:
                with contextlib.suppress(ResourceNotFoundError):
                    svc.get_blob_client(container, name).delete_blob()


def check_package_references(
    ctx: ServiceContext, account: str, refs: builtins.list[BatchApplicationPackageReference] | None
) -> None:
    """A pool's applicationPackageReferences must all name active packages (409 otherwise)."""
    for ref in refs or []:
        found = apps.resolve(
            lambda app_id: ctx.store.applications.get(account, "", app_id),
            lambda app, version: ctx.store.packages.get(account, app.key, version),
            ref,
        )
        if isinstance(found, str):
            raise conflict(
                "InvalidApplicationPackageReferences",
                "One or more of the specified application package references are invalid.",
                [("ApplicationId", ref.application_id or ""), ("Reason", found)],
            )
