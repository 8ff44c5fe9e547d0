"""From a task's wire settings to the agent's TaskStaging: resource files (and multi-instance
commonResourceFiles), output files, and the application packages of the pool and of the task.

Auto-storage containers and package blobs are signed here for the account's linked storage (a
read/list SAS), so the agent only ever sees URLs. A reference that cannot be satisfied becomes the
staging's pre_failure: the task then fails before anything runs, as the real service fails it with
a pre-processing error.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from batchite.agent.files import (
    PREPROCESSING,
    TASK_DIR,
    WORKING_DIR,
    OutputFileSpec,
    PackageSpec,
    ResourceFileSpec,
    TaskFailure,
    TaskStaging,
)
from batchite.domain.applications import Resolved, application_id, resolve
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Store
from batchite.wire.models import BatchApplicationPackageReference, OutputFile, ResourceFile

NO_STORAGE = "the Batch account has no linked storage account (batchite serve --storage-connection-string)"


class Part(StrEnum):
    """Which part of a task a staging is for."""

    WHOLE = "task"  # everything
    COORDINATION = "coordination"  # a multi-instance task's commonResourceFiles, on every node
    APPLICATION = "application"  # its resourceFiles and outputFiles, on the primary


def _resource_file(rf: ResourceFile, base: str, storage: LinkedStorage | None) -> ResourceFileSpec | TaskFailure:
    file_path, mode, prefix = rf.file_path or "", rf.file_mode or None, rf.blob_prefix or ""
    given = [v for v in (rf.http_url, rf.storage_container_url, rf.auto_storage_container_name) if v]
    if len(given) != 1:
        return TaskFailure(
            PREPROCESSING,
            "BlobDownloadMiscError",
            "A resource file must give exactly one of httpUrl, storageContainerUrl and autoStorageContainerName",
            (("FilePath", file_path),),
        )
    if rf.http_url:
        return ResourceFileSpec(
            http_url=rf.http_url, source=rf.http_url, file_path=file_path, file_mode=mode, base=base
        )
    if rf.storage_container_url:
        url = rf.storage_container_url
        return ResourceFileSpec(
            container_url=url, blob_prefix=prefix, source=url, file_path=file_path, file_mode=mode, base=base
        )
    auto = rf.auto_storage_container_name or ""
    if storage is None:
        return TaskFailure(
            PREPROCESSING,
            "ResourceContainerListMiscError",
            f"The auto-storage container '{auto}' cannot be listed: {NO_STORAGE}",
            (("ContainerSource", auto),),
        )
    return ResourceFileSpec(
        container_url=storage.container_sas_url(auto, "rl"),
        blob_prefix=prefix,
        source=storage.container_url(auto),
        file_path=file_path,
        file_mode=mode,
        base=base,
    )


def _output_file(of: OutputFile) -> OutputFileSpec | None:
    container = of.destination.container
    if container is None or not container.container_url:
        return None
    return OutputFileSpec(
        file_pattern=of.file_pattern,
        container_url=container.container_url,
        path=container.path or "",
        upload_headers=tuple((h.name, h.value or "") for h in container.upload_headers or []),
        condition=str(of.upload_options.upload_condition),
    )


class Staging:
    """Builds the staging of a task (or start, preparation, release, job manager task)."""

    def __init__(self, store: Store, storage: LinkedStorage | None) -> None:
        self.store = store
        self.storage = storage

    def _package(self, account: str, ref: BatchApplicationPackageReference) -> PackageSpec | TaskFailure:
        found = resolve(
            lambda app_id: self.store.applications.get(account, "", app_id),
            lambda app, version: self.store.packages.get(account, app.key, version),
            ref,
        )
        if isinstance(found, Resolved) and self.storage is None:
            found = NO_STORAGE
        if not isinstance(found, Resolved):
            app_id = application_id(ref.application_id or "")
            return TaskFailure(
                PREPROCESSING,
                "ApplicationPackageError",
                f"The application package could not be deployed: {found}",
                (("ApplicationId", app_id), ("Version", ref.version or ""), ("Message", found)),
            )
        assert self.storage is not None
        return PackageSpec(
            application_id=found.application.id,
            version=found.package.id,
            source_url=self.storage.blob_sas_url(found.container, found.blob, "r"),
            tag=found.tag,
            default_version=found.default_version,
        )

    def build(
        self,
        account: str,
        *,
        pool_refs: Sequence[BatchApplicationPackageReference] = (),
        task_refs: Sequence[BatchApplicationPackageReference] | None = None,
        resource_files: Sequence[ResourceFile] | None = None,
        common_resource_files: Sequence[ResourceFile] | None = None,
        output_files: Sequence[OutputFile] | None = None,
        part: Part = Part.WHOLE,
    ) -> TaskStaging | None:
        """None when there is nothing to stage."""
        refs = [*pool_refs, *(task_refs or ())]
        files: list[tuple[ResourceFile, str]] = []
        if part != Part.COORDINATION:
            files += [(rf, WORKING_DIR) for rf in resource_files or ()]
        if part != Part.APPLICATION:
            files += [(rf, TASK_DIR) for rf in common_resource_files or ()]  # the task directory, above wd
        outputs = [] if part == Part.COORDINATION else list(output_files or ())
        if not (refs or files or outputs):
            return None
        staging = TaskStaging()
        failures: list[TaskFailure] = []
        seen: dict[tuple[str, str], int] = {}
        for ref in refs:
            spec = self._package(account, ref)
            if isinstance(spec, TaskFailure):
                failures.append(spec)
                continue
            name = (spec.application_id.lower(), spec.version)
            if name not in seen:
                seen[name] = len(staging.packages)
                staging.packages.append(spec)
            elif spec.default_version:  # the same package by version and as default: keep both names
                old = staging.packages[seen[name]]
                staging.packages[seen[name]] = PackageSpec(
                    old.application_id, old.version, old.source_url, old.tag, True
                )
        for rf, base in files:
            item = _resource_file(rf, base, self.storage)
            if isinstance(item, TaskFailure):
                failures.append(item)
            else:
                staging.resource_files.append(item)
        for of in outputs:
            out = _output_file(of)
            if out is not None:
                staging.output_files.append(out)
        staging.pre_failure = failures[0] if failures else None
        return staging
