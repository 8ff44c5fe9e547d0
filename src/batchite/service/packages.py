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
from datetime import timedelta
from typing import Any

from batchite.clock import format_time
from batchite.domain import applications as apps
from batchite.domain.errors import BatchError, conflict, invalid_property, not_found
from batchite.service.context import ServiceContext, require
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Record

UPLOAD_URL_HOURS = 24
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


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

    def _app(self, account: str, app_id: str) -> Record:
        return require(self.ctx.store.get(account, apps.APPLICATION, "", app_id), not_found("application"))

    def _version(self, account: str, app: Record, version: str) -> Record:
        return require(self.ctx.store.get(account, apps.PACKAGE, app.key, version), _package_not_found())

    def _versions(self, account: str, app: Record) -> builtins.list[Record]:
        return self.ctx.store.list(account, apps.PACKAGE, app.key)

    def _refresh_active(self, account: str, app: Record) -> None:
        app.doc["versions"] = sorted(v.id for v in self._versions(account, app) if v.doc.get("state") == "active")
        self.ctx.store.put(app)

    @staticmethod
    def package_view(app: Record, rec: Record) -> dict[str, Any]:
        view = {"version": rec.id, **{k: v for k, v in rec.doc.items() if k not in ("eTag", "lastModified", "id")}}
        view["applicationId"] = app.id
        return view

    def view(self, account: str, app: Record) -> dict[str, Any]:
        return {
            "id": app.id,
            "displayName": app.doc.get("displayName") or app.id,
            "allowUpdates": bool(app.extra.get("allowUpdates", True)),
            "defaultVersion": app.extra.get("defaultVersion"),
            "versions": [self.package_view(app, v) for v in self._versions(account, app)],
        }

    # -- applications -------------------------------------------------------------------
    def put_application(
        self,
        account: str,
        app_id: str,
        display_name: str | None = None,
        allow_updates: bool | None = None,
        default_version: str | None = None,
    ) -> dict[str, Any]:
        """Create the application, or update the properties given."""
        if not apps.APP_ID.match(app_id or ""):
            raise invalid_property("applicationName", app_id, "Use 1-64 letters, digits, hyphens and underscores.")
        rec = self.ctx.store.get(account, apps.APPLICATION, "", app_id)
        if rec is None:
            rec = Record(account, apps.APPLICATION, "", app_id, {"id": app_id, "versions": []})
            rec.extra = {"allowUpdates": True, "container": apps.container_name(app_id)}
            rec = self.ctx.store.insert(rec)
        if display_name is not None:
            rec.doc["displayName"] = display_name
        if allow_updates is not None:
            rec.extra["allowUpdates"] = bool(allow_updates)
        if default_version is not None:
            if default_version and self.ctx.store.get(account, apps.PACKAGE, rec.key, default_version) is None:
                raise _package_not_found()
            rec.extra["defaultVersion"] = default_version or None
        self.ctx.store.put(rec)
        return self.view(account, rec)

    def get_application(self, account: str, app_id: str) -> dict[str, Any]:
        return self.view(account, self._app(account, app_id))

    def list_applications(self, account: str) -> builtins.list[dict[str, Any]]:
        return [self.view(account, r) for r in self.ctx.store.list(account, apps.APPLICATION, "")]

    async def delete_application(self, account: str, app_id: str) -> None:
        app = self._app(account, app_id)
        container = str(app.extra.get("container", ""))
        if self.ctx.storage is not None and container:
            await asyncio.to_thread(self.ctx.storage.delete_container, container)
        self.ctx.store.delete_children(account, apps.PACKAGE, app.key)
        self.ctx.store.delete(account, apps.APPLICATION, "", app.id)

    # -- versions -------------------------------------------------------------------------
    async def create_version(self, account: str, app_id: str, version: str) -> dict[str, Any]:
        """A pending package with a storageUrl (a SAS URL valid for a day) to upload the zip to."""
        if not apps.VERSION.match(version or ""):
            raise invalid_property("versionName", version, "Use 1-64 letters, digits, periods, hyphens, underscores.")
        storage = self.storage
        app = self._app(account, app_id)
        existing = self.ctx.store.get(account, apps.PACKAGE, app.key, version)
        if existing is not None and existing.doc.get("state") == "active" and not app.extra.get("allowUpdates", True):
            raise conflict(
                "ApplicationUpdatesNotAllowed", "The application does not allow updates to its active packages."
            )
        container = str(app.extra["container"])
        await asyncio.to_thread(storage.create_container, container)
        blob = f"{app.id.lower()}-{version}-{uuid.uuid4().hex}"
        expiry = self.ctx.clock.now() + timedelta(hours=UPLOAD_URL_HOURS)
        doc = {
            "id": version,
            "storageUrl": storage.blob_sas_url(container, blob, "rcw", UPLOAD_URL_HOURS),
            "storageUrlExpiry": format_time(expiry),
        }
        if existing is None:  # a new version is pending until activated; an active one stays active
            doc["state"] = "pending"
            rec = self.ctx.store.insert(Record(account, apps.PACKAGE, app.key, version, doc, extra={"blob": ""}))
        else:
            rec = existing
            rec.doc.update(doc)
        rec.extra.update({"container": container, "uploadBlob": blob})
        self.ctx.store.put(rec)
        self._refresh_active(account, app)
        return self.package_view(app, rec)

    def get_version(self, account: str, app_id: str, version: str) -> dict[str, Any]:
        app = self._app(account, app_id)
        return self.package_view(app, self._version(account, app, version))

    def list_versions(self, account: str, app_id: str) -> builtins.list[dict[str, Any]]:
        app = self._app(account, app_id)
        return [self.package_view(app, v) for v in self._versions(account, app)]

    async def activate(self, account: str, app_id: str, version: str, fmt: str) -> dict[str, Any]:
        if (fmt or "").lower() != "zip":
            raise invalid_property("format", fmt, "The only supported package format is zip.")
        storage = self.storage
        app = self._app(account, app_id)
        rec = self._version(account, app, version)
        container, blob = str(rec.extra.get("container")), str(rec.extra.get("uploadBlob"))
        size = await asyncio.to_thread(storage.blob_size, container, blob)
        if not size:
            raise conflict(
                "ApplicationPackageBlobNotFound",
                "Upload the package's zip file to its storageUrl before activating it.",
                [("StorageUrl", str(rec.doc.get("storageUrl", "")).split("?", 1)[0])],
            )
        head = await asyncio.to_thread(storage.read_blob_head, container, blob, 4)
        if not head.startswith(ZIP_MAGIC):
            raise BatchError(400, "InvalidApplicationPackage", "The uploaded application package is not a zip file.")
        rec.doc.update({"state": "active", "format": "zip", "lastActivationTime": self.ctx.now_text()})
        old = str(rec.extra.get("blob") or "")
        rec.extra["blob"] = blob
        self.ctx.store.put(rec)
        if old and old != blob:
            await asyncio.to_thread(self._delete_blobs, storage, container, [old])
        self._refresh_active(account, app)
        return self.package_view(app, rec)

    async def delete_version(self, account: str, app_id: str, version: str) -> None:
        app = self._app(account, app_id)
        rec = self._version(account, app, version)
        self.ctx.store.delete(account, apps.PACKAGE, app.key, rec.id)
        if app.extra.get("defaultVersion") == rec.id:
            app.extra["defaultVersion"] = None
        self._refresh_active(account, app)
        blobs = {str(rec.extra.get(k) or "") for k in ("blob", "uploadBlob")} - {""}
        if self.ctx.storage is not None and blobs:
            await asyncio.to_thread(self._delete_blobs, self.ctx.storage, str(rec.extra.get("container")), blobs)

    @staticmethod
    def _delete_blobs(storage: LinkedStorage, container: str, names: Iterable[str]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage.service() as svc:
            for name in names:
                with contextlib.suppress(ResourceNotFoundError):
                    svc.get_blob_client(container, name).delete_blob()


def check_package_references(ctx: ServiceContext, account: str, refs: builtins.list[dict[str, Any]] | None) -> None:
    """A pool's applicationPackageReferences must all name active packages (409 otherwise)."""
    for ref in refs or []:
        found = apps.resolve(lambda kind, parent, id_: ctx.store.get(account, kind, parent, id_), ref)
        if isinstance(found, str):
            raise conflict(
                "InvalidApplicationPackageReferences",
                "One or more of the specified application package references are invalid.",
                [("ApplicationId", str(ref.get("applicationId", ""))), ("Reason", found)],
            )
