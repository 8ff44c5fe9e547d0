"""From a task's wire document to the agent's TaskStaging: resource files (and multi-instance
commonResourceFiles), output files, and the application packages of the pool and of the task.

Auto-storage containers and package blobs are signed here for the account's linked storage (a
read/list SAS), so the agent only ever sees URLs. A reference that cannot be satisfied becomes the
staging's pre_failure: the task then fails before anything runs, as the real service fails it with
a pre-processing error.
"""

from __future__ import annotations

from typing import Any

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
from batchite.store.base import Record, Store

NO_STORAGE = "the Batch account has no linked storage account (batchite serve --storage-connection-string)"


def _resource_file(rf: dict[str, Any], base: str, storage: LinkedStorage | None) -> ResourceFileSpec | TaskFailure:
    http_url, container_url, auto = rf.get("httpUrl"), rf.get("storageContainerUrl"), rf.get("autoStorageContainerName")
    file_path = str(rf.get("filePath") or "")
    mode = str(rf["fileMode"]) if rf.get("fileMode") else None
    prefix = str(rf.get("blobPrefix") or "")
    given = [v for v in (http_url, container_url, auto) if v]
    if len(given) != 1:
        return TaskFailure(
            PREPROCESSING,
            "BlobDownloadMiscError",
            "A resource file must give exactly one of httpUrl, storageContainerUrl and autoStorageContainerName",
            (("FilePath", file_path),),
        )
    if http_url:
        return ResourceFileSpec(
            http_url=str(http_url), source=str(http_url), file_path=file_path, file_mode=mode, base=base
        )
    if container_url:
        return ResourceFileSpec(
            container_url=str(container_url),
            blob_prefix=prefix,
            source=str(container_url),
            file_path=file_path,
            file_mode=mode,
            base=base,
        )
    if storage is None:
        return TaskFailure(
            PREPROCESSING,
            "ResourceContainerListMiscError",
            f"The auto-storage container '{auto}' cannot be listed: {NO_STORAGE}",
            (("ContainerSource", str(auto)),),
        )
    return ResourceFileSpec(
        container_url=storage.container_sas_url(str(auto), "rl"),
        blob_prefix=prefix,
        source=storage.container_url(str(auto)),
        file_path=file_path,
        file_mode=mode,
        base=base,
    )


def _output_file(of: dict[str, Any]) -> OutputFileSpec | None:
    container = (of.get("destination") or {}).get("container") or {}
    if not container.get("containerUrl"):
        return None
    headers = tuple((str(h.get("name")), str(h.get("value") or "")) for h in container.get("uploadHeaders") or [])
    return OutputFileSpec(
        file_pattern=str(of.get("filePattern") or ""),
        container_url=str(container["containerUrl"]),
        path=str(container.get("path") or ""),
        upload_headers=headers,
        condition=str((of.get("uploadOptions") or {}).get("uploadCondition") or "taskcompletion").lower(),
    )


def _package(
    store: Store, storage: LinkedStorage | None, account: str, ref: dict[str, Any]
) -> PackageSpec | TaskFailure:
    found = resolve(lambda kind, parent, id_: store.get(account, kind, parent, id_), ref)
    app_id = application_id(str(ref.get("applicationId") or ""))
    if isinstance(found, Resolved) and storage is None:
        found = NO_STORAGE
    if not isinstance(found, Resolved):
        version = str(ref.get("version") or "")
        return TaskFailure(
            PREPROCESSING,
            "ApplicationPackageError",
            f"The application package could not be deployed: {found}",
            (("ApplicationId", app_id), ("Version", version), ("Message", found)),
        )
    assert storage is not None
    return PackageSpec(
        application_id=found.application.id,
        version=found.package.id,
        source_url=storage.blob_sas_url(found.container, found.blob, "r"),
        tag=found.tag,
        default_version=found.default_version,
    )


def build_staging(
    store: Store,
    storage: LinkedStorage | None,
    account: str,
    pool_id: str,
    doc: dict[str, Any],
    pool: Record | None = None,
    part: str = "task",
    pool_refs: list[dict[str, Any]] | None = None,
) -> TaskStaging | None:
    """The staging of a task (or start, preparation, release, job manager task); None when there is none.

    part: "task" (everything), or for a multi-instance task "coordination" (commonResourceFiles, on
    every node) and "application" (resourceFiles and outputFiles, on the primary).
    """
    if pool_refs is None:
        pool = pool or store.get(account, "pool", "", pool_id)
        pool_refs = list((pool.doc.get("applicationPackageReferences") if pool else None) or [])
    refs = list(pool_refs)
    refs += list(doc.get("applicationPackageReferences") or [])
    resource_files = [] if part == "coordination" else [(rf, WORKING_DIR) for rf in doc.get("resourceFiles") or []]
    common = (doc.get("multiInstanceSettings") or {}).get("commonResourceFiles") or []
    if part != "application":
        resource_files += [(rf, TASK_DIR) for rf in common]  # to the task directory, above wd
    outputs = [] if part == "coordination" else doc.get("outputFiles") or []
    if not (refs or resource_files or outputs):
        return None
    staging = TaskStaging()
    failures: list[TaskFailure] = []
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        spec = _package(store, storage, account, ref)
        if isinstance(spec, TaskFailure):
            failures.append(spec)
        elif (spec.application_id.lower(), spec.version) not in seen:
            seen.add((spec.application_id.lower(), spec.version))
            staging.packages.append(spec)
        elif spec.default_version:  # the same package by version and as default: keep both names
            staging.packages = [
                PackageSpec(p.application_id, p.version, p.source_url, p.tag, True)
                if (p.application_id.lower(), p.version) == (spec.application_id.lower(), spec.version)
                else p
                for p in staging.packages
            ]
    for rf, base in resource_files:
        item = _resource_file(rf, base, storage)
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
