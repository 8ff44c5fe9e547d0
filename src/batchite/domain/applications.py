"""Applications and their package versions: naming rules, and which package a reference names.

An application (entity Application, id = application id) has package versions (entity
ApplicationPackage, parent = the application's key, id = version), each a zip in the linked
storage once it is active.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from batchite.domain.entities import Application, ApplicationPackage
from batchite.domain.entities.records import PackageState
from batchite.wire.models import BatchApplicationPackageReference

APP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
VERSION = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")

FindApplication = Callable[[str], Application | None]  # application id -> the account's application
FindPackage = Callable[[Application, str], ApplicationPackage | None]  # version -> its package


def application_id(reference_id: str) -> str:
    """A reference's applicationId may be the ARM id (.../applications/{name}); the name is the id."""
    return reference_id.rstrip("/").rsplit("/", 1)[-1]


def container_name(app_id: str) -> str:
    """The linked storage container of an application's packages: app-<id>-<guid> (container rules)."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", app_id.lower()))[:22].strip("-") or "app"
    return f"app-{slug}-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Resolved:
    application: Application
    package: ApplicationPackage
    default_version: bool  # referenced without a version

    @property
    def container(self) -> str:
        return self.package.internal.container

    @property
    def blob(self) -> str:
        return self.package.internal.blob

    @property
    def tag(self) -> str:
        """Changes whenever the package's content may have changed (a node deploys it again)."""
        activated = self.package.wire.last_activation_time
        return f"{activated.isoformat() if activated else ''}|{self.package.etag}"


def resolve(
    find_application: FindApplication, find_package: FindPackage, reference: BatchApplicationPackageReference
) -> Resolved | str:
    """The active package a reference names, or why it names none."""
    app_id = application_id(reference.application_id or "")
    app = find_application(app_id) if app_id else None
    if app is None:
        return f"the application '{app_id}' does not exist"
    version = reference.version or app.internal.default_version
    if not version:
        return f"no version was given and the application '{app.id}' has no default version"
    package = find_package(app, version)
    if package is None:
        return f"the application '{app.id}' has no version '{version}'"
    if package.wire.state != PackageState.ACTIVE:
        return f"version '{version}' of the application '{app.id}' is not active"
    return Resolved(app, package, not reference.version)
