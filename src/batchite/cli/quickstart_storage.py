"""`batchite quickstart --storage`: inputs uploaded to blob storage and handed to the tasks as SAS
resource files, results collected back into a container as output files, as on Azure. Needs a blob
service: the one given, Azurite already listening on 127.0.0.1:10000, or an Azurite it starts."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from batchite.cli.azurite import AzuriteServer, AzuriteUnavailable, azurite_answers, start_azurite
from batchite.cli.quickstart import (
    connect,
    create_pool_and_job,
    delete_job_and_pool,
    generate_inputs,
    wait_with_progress,
)
from batchite.storage.linked import AZURITE_BLOB_PORT, LinkedStorage, azurite_connection_string

POOL_ID = "quickstart-storage-pool"
JOB_ID = "quickstart-storage-job"


def _blob_service(console: Console, linked: LinkedStorage | None) -> tuple[LinkedStorage, AzuriteServer | None]:
    if linked is not None:
        return linked, None
    if azurite_answers(AZURITE_BLOB_PORT):
        console.print(f"Using Azurite on 127.0.0.1:{AZURITE_BLOB_PORT} (development account devstoreaccount1)")
        return LinkedStorage.parse(azurite_connection_string()), None
    console.print("No Azurite on 127.0.0.1:10000; starting one on a free port...")
    azurite = start_azurite(Path(tempfile.mkdtemp(prefix="batchite-azurite-")))
    return LinkedStorage.parse(azurite.connection_string), azurite


def _sas(storage: LinkedStorage, container: str, blob: str | None, permission: str) -> str:
    hours = 2
    if blob is None:
        return storage.container_sas_url(container, permission, hours)
    return storage.blob_sas_url(container, blob, permission, hours)


def run_storage_quickstart(
    console: Console, endpoint: str, name: str, key: str, file_count: int, linked: LinkedStorage | None
) -> int:
    from azure.batch import models as m

    try:
        storage, azurite = _blob_service(console, linked)
    except AzuriteUnavailable as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    client, child, endpoint, name = connect(
        console, endpoint, name, key, ["--storage-connection-string", storage.connection_string]
    )
    suffix = uuid.uuid4().hex[:8]
    inputs_c, outputs_c = f"quickstart-input-{suffix}", f"quickstart-output-{suffix}"
    console.print(Panel(f"Batch    {endpoint} ({name})\nStorage  {storage.blob_endpoint}", title="Batchite quickstart"))
    work = Path(tempfile.mkdtemp(prefix="batchite-quickstart-"))
    try:
        for container in (inputs_c, outputs_c):
            storage.create_container(container)
        with storage.service() as svc:
            inputs = generate_inputs(work, file_count)
            for path in inputs:
                svc.get_blob_client(inputs_c, path.name).upload_blob(path.read_bytes(), overwrite=True)
        console.print(f"Uploaded {len(inputs)} input files to container [bold]{inputs_c}[/bold]")
        output_url = _sas(storage, outputs_c, None, "rcwl")
        create_pool_and_job(console, client, POOL_ID, JOB_ID)
        tasks = []
        for path in inputs:
            task_id = f"count-{path.stem}"
            tasks.append(
                m.BatchTaskCreateOptions(
                    id=task_id,
                    command_line=f"/bin/sh -c 'wc -w < {path.name} > {path.stem}.count && cat {path.stem}.count'",
                    resource_files=[
                        m.ResourceFile(http_url=_sas(storage, inputs_c, path.name, "r"), file_path=path.name)
                    ],
                    output_files=[
                        _output(m, "*.count", output_url, "counts", "tasksuccess"),
                        _output(m, "../std*.txt", output_url, f"logs/{task_id}", "taskcompletion"),
                    ],
                )
            )
        client.create_tasks(JOB_ID, tasks)
        console.print(f"Added job [bold]{JOB_ID}[/bold]: {len(tasks)} tasks, each with its input as a resource file")
        wait_with_progress(console, client, len(tasks), JOB_ID)
        results = {t.id: t.execution_info.result if t.execution_info else None for t in client.list_tasks(JOB_ID)}
        failed = [task_id for task_id, result in results.items() if result != "success"]
        with storage.service() as svc:
            container = svc.get_container_client(outputs_c)
            names = sorted(b.name for b in container.list_blobs())
            console.print(f"Output container [bold]{outputs_c}[/bold] now holds {len(names)} blobs:")
            for blob in names:
                text = container.download_blob(blob).readall().decode(errors="replace").strip()
                shown = f": {text} words" if blob.startswith("counts/") else ""
                console.print(f"  {blob}{shown}")
        summary = "[green]All tasks succeeded.[/green]" if not failed else f"[red]Failed: {', '.join(failed)}[/red]"
        console.print(summary)
        return 1 if failed else 0
    finally:
        _cleanup(console, client, storage, (inputs_c, outputs_c))
        shutil.rmtree(work, ignore_errors=True)
        if child is not None:
            child.stop()
        if azurite is not None:
            azurite.stop()


def _output(m: Any, pattern: str, url: str, path: str, condition: str) -> Any:
    return m.OutputFile(
        file_pattern=pattern,
        destination=m.OutputFileDestination(
            container=m.OutputFileBlobContainerDestination(container_url=url, path=path)
        ),
        upload_options=m.OutputFileUploadConfiguration(upload_condition=condition),
    )


def _cleanup(console: Console, client: Any, storage: LinkedStorage, containers: tuple[str, ...]) -> None:
    delete_job_and_pool(console, client, POOL_ID, JOB_ID)
    for step in [lambda c=c: storage.delete_container(c) for c in containers]:
        try:
            step()
        except Exception as exc:  # cleanup is best effort
            console.print(f"[yellow]cleanup: {exc}[/yellow]")
    console.print("Deleted the job, the pool and the containers.")
    client.close()
