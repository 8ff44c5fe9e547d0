"""Applications and their package versions, as the service stores them and the scheduler deploys them.

Records: kind "application" (parent "", id = application id; doc = the data plane's view: id,
displayName, versions = the active versions; extra = allowUpdates, defaultVersion) and kind
"applicationpackage" (parent = the application's key, id = version; doc = state pending|active,
format, storageUrl, storageUrlExpiry, lastActivationTime; extra = container, blob (the active zip),
uploadBlob (where storageUrl points)).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchite.domain.record import Record

APPLICATION = "application"
PACKAGE = "applicationpackage"
APP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VERSION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

Getter = Callable[[str, str, str], Record | None]  # (kind, parent, id) -> record of one account


def application_id(reference_id: str) -> str:
    """A reference's applicationId may be the ARM id (.../applications/{name}); the name is the id."""
    return reference_id.rstrip("/").rsplit("/", 1)[-1]


def container_name(app_id: str) -> str:
    """The linked storage container of an application's packages: app-<id>-<guid> (container rules)."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", app_id.lower()))[:22].strip("-") or "app"
    return f"app-{slug}-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Resolved:
    application: Record
    package: Record
    default_version: bool  # referenced without a version

    @property
    def container(self) -> str:
        return str(self.package.extra.get("container", ""))

    @property
    def blob(self) -> str:
        return str(self.package.extra.get("blob", ""))

    @property
    def tag(self) -> str:
        return f"{self.package.doc.get('lastActivationTime', '')}|{self.package.etag}"


def resolve(get: Getter, reference: dict[str, Any]) -> Resolved | str:
    """The active package a reference names, or why it names none."""
    app_id = application_id(str(reference.get("applicationId") or ""))
    app = get(APPLICATION, "", app_id) if app_id else None
    if app is None:
        return f"the application '{app_id}' does not exist"
    version = reference.get("version") or app.extra.get("defaultVersion")
    if not version:
        return f"no version was given and the application '{app.id}' has no default version"
    package = get(PACKAGE, app.key, str(version))
    if package is None:
        return f"the application '{app.id}' has no version '{version}'"
    if package.doc.get("state") != "active":
        return f"version '{version}' of the application '{app.id}' is not active"
    return Resolved(app, package, not reference.get("version"))
