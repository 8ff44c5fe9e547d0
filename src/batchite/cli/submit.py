"""`batchite submit job.yaml`: create the pool (or auto pool), the job and its tasks a job file
names, through the official azure-batch SDK; a progress bar until they are complete, then a
summary table. Exit codes: 0 all succeeded, 1 a task failed, 2 bad input, 3 the service refused."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from batchite.cli.batch_connection import (
    ACCOUNT_KEY,
    ACCOUNT_NAME,
    ENDPOINT,
    EXIT_BAD_INPUT,
    EXIT_REFUSED,
    EXIT_TASK_FAILED,
    error_code,
    errors,
    make_client,
    refusals,
)
from batchite.cli.submit_spec import (
    AutoPoolSpec,
    OutputFileSpec,
    PlannedTask,
    PoolSpec,
    ResourceFileSpec,
    SpecError,
    SubmitSpec,
    expand_tasks,
    parse_spec,
)
from batchite.cli.watch import exit_code_of, failures, summary_table, task_rows, wait_with_progress

console = Console()
_UPLOAD = {"success": "tasksuccess", "failure": "taskfailure", "completion": "taskcompletion"}


def load(path: Path) -> SubmitSpec:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_spec(text)


def _vm_configuration(image: str, node_agent_sku: str) -> Any:
    from azure.batch import models as m

    publisher, offer, sku, *version = image.split("/")
    reference = m.BatchVmImageReference(
        publisher=publisher, offer=offer, sku=sku, version=version[0] if version else "latest"
    )
    return m.VirtualMachineConfiguration(image_reference=reference, node_agent_sku_id=node_agent_sku)


def _pool_fields(pool: PoolSpec | AutoPoolSpec) -> dict[str, Any]:
    return {
        "vm_size": pool.vm_size,
        "virtual_machine_configuration": _vm_configuration(pool.image, pool.node_agent_sku),
        "target_dedicated_nodes": pool.nodes or 0,
        "target_low_priority_nodes": pool.low_priority_nodes or 0,
        "task_slots_per_node": pool.slots_per_node,
    }


def ensure_pool(client: Any, pool: PoolSpec) -> None:
    """An existing pool is checked (PoolNotFound is the service's refusal); one with nodes is
    created, or reused when it exists already."""
    from azure.batch import models as m
    from azure.core.exceptions import HttpResponseError

    if not pool.creates:
        client.get_pool(pool.id, select=["id"])
        console.print(f"Using pool [bold]{escape(pool.id)}[/bold]", highlight=False)
        return
    try:
        client.create_pool(m.BatchPoolCreateOptions(id=pool.id, **_pool_fields(pool)))
        console.print(f"Created pool [bold]{escape(pool.id)}[/bold]", highlight=False)
    except HttpResponseError as exc:
        if error_code(exc) != "PoolExists":
            raise
        console.print(f"Pool [bold]{escape(pool.id)}[/bold] exists already: using it", highlight=False)


def pool_info(spec: SubmitSpec) -> Any:
    from azure.batch import models as m

    if spec.pool is not None:
        return m.BatchPoolInfo(pool_id=spec.pool.id)
    auto = spec.auto_pool
    assert auto is not None  # parse_spec: pool or auto_pool
    return m.BatchPoolInfo(
        auto_pool_specification=m.BatchAutoPoolSpecification(
            auto_pool_id_prefix=auto.id_prefix,
            pool_lifetime_option="job",
            keep_alive=auto.keep_alive,
            pool=m.BatchPoolSpecification(**_pool_fields(auto)),
        )
    )


def _env(values: dict[str, str]) -> Any:
    from azure.batch import models as m

    return [m.EnvironmentSetting(name=k, value=v) for k, v in values.items()] or None


def _resource(f: ResourceFileSpec) -> Any:
    from azure.batch import models as m

    return m.ResourceFile(
        http_url=f.url,
        storage_container_url=f.container_url,
        auto_storage_container_name=f.auto_storage_container,
        blob_prefix=f.prefix,
        file_path=f.path,
        file_mode=f.mode,
    )


def _output(f: OutputFileSpec) -> Any:
    from azure.batch import models as m

    container = m.OutputFileBlobContainerDestination(container_url=f.container_url, path=f.path)
    return m.OutputFile(
        file_pattern=f.pattern,
        destination=m.OutputFileDestination(container=container),
        upload_options=m.OutputFileUploadConfiguration(upload_condition=_UPLOAD[f.upload]),
    )


def task_options(task: PlannedTask) -> Any:
    from azure.batch import models as m

    constraints = None if task.max_retries is None else m.BatchTaskConstraints(max_task_retry_count=task.max_retries)
    return m.BatchTaskCreateOptions(
        id=task.id,
        command_line=task.command,
        resource_files=[_resource(f) for f in task.resource_files] or None,
        output_files=[_output(f) for f in task.output_files] or None,
        environment_settings=_env(task.environment),
        constraints=constraints,
    )


def container_blobs(url: str, glob: str) -> list[tuple[str, str]]:
    """(name, download URL) of the blobs of a container SAS URL whose names match `glob`."""
    from azure.storage.blob import ContainerClient

    base, _, sas = url.partition("?")
    with ContainerClient.from_container_url(url) as container:
        names = sorted(b.name for b in container.list_blobs() if fnmatch.fnmatchcase(b.name, glob))
    return [(name, f"{base.rstrip('/')}/{name}" + (f"?{sas}" if sas else "")) for name in names]


def _add_tasks(client: Any, job_id: str, tasks: list[PlannedTask]) -> None:
    from azure.batch.models import CreateTasksError

    try:
        client.create_tasks(job_id, [task_options(t) for t in tasks])
    except CreateTasksError as exc:
        for result in exc.failure_tasks:
            error = result.error
            errors.print(
                f"[red]task {escape(str(result.task_id))}:[/red] {escape(f'{error.code}: {_message(error)}')}",
                highlight=False,
            )
        for other in exc.errors:
            errors.print(f"[red]The service refused:[/red] {escape(str(other))}", highlight=False)
        raise typer.Exit(EXIT_REFUSED) from exc


def _message(error: Any) -> str:
    message = getattr(error, "message", None)
    return str(getattr(message, "value", message))


def submit(
    job_file: Path = typer.Argument(..., help="The job file (YAML): see docs/cli.md."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the tasks, with a progress bar and a summary."),
    timeout: float = typer.Option(0, "--timeout", min=0, help="Stop waiting after this many seconds (0: never)."),
    interval: float = typer.Option(0.5, "--interval", min=0.05, help="Seconds between polls."),
    endpoint: str = ENDPOINT,
    account_name: str = ACCOUNT_NAME,
    account_key: str = ACCOUNT_KEY,
) -> None:
    """Run the pool or auto pool, job and tasks (or sweep) of a YAML job file.

    Shows a progress bar, then a summary table. Exit code 0: all tasks succeeded, 1: a task
    failed (or --timeout passed), 2: the file is wrong, 3: the service refused.
    """
    try:
        spec = load(job_file)
        planned = expand_tasks(spec) if spec.sweep is None or spec.sweep.container is None else None
    except SpecError as exc:
        errors.print(f"[red]{escape(str(job_file))}:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    job_id = spec.job.id
    with refusals(), make_client(endpoint, account_name, account_key) as client:
        if planned is None:
            assert spec.sweep is not None and spec.sweep.container is not None
            source = spec.sweep.container
            try:
                planned = expand_tasks(spec, container_blobs(source.url, source.glob))
            except SpecError as exc:
                errors.print(f"[red]{escape(str(job_file))}:[/red] {escape(str(exc))}", highlight=False)
                raise typer.Exit(EXIT_BAD_INPUT) from exc
        if spec.pool is not None:
            ensure_pool(client, spec.pool)
        _create_job(client, spec)
        _add_tasks(client, job_id, planned)
        console.print(f"Added {len(planned)} task(s) to job [bold]{escape(job_id)}[/bold]", highlight=False)
        if spec.job.terminate_when_done:
            from azure.batch import models as m

            client.update_job(job_id, m.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
        if not wait:
            return
        try:
            finished = wait_with_progress(client, job_id, console, interval, timeout)
        except KeyboardInterrupt:
            errors.print(f"Stopped waiting; job {job_id} goes on (batchite watch {job_id}).", markup=False)
            raise typer.Exit(130) from None
        rows = task_rows(client, job_id)
    console.print(summary_table(rows, f"job {job_id}"))
    for line in failures(rows):
        errors.print(f"[red]failed[/red] {escape(line)}", highlight=False)
    if not finished:
        errors.print(f"[yellow]Timed out after {timeout:g}s; the job goes on.[/yellow]")
        raise typer.Exit(EXIT_TASK_FAILED)
    raise typer.Exit(exit_code_of(rows))


def _create_job(client: Any, spec: SubmitSpec) -> None:
    from azure.batch import models as m

    job = spec.job
    client.create_job(
        m.BatchJobCreateOptions(
            id=job.id,
            pool_info=pool_info(spec),
            priority=job.priority,
            constraints=m.BatchJobConstraints(max_task_retry_count=job.max_task_retries),
            common_environment_settings=_env(job.environment),
        )
    )
    where = spec.pool.id if spec.pool is not None else "an auto pool"
    console.print(f"Created job [bold]{escape(job.id)}[/bold] on {escape(where)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `submit`, `watch` and `logs` to the `batchite` command."""
    from batchite.cli.logs import logs
    from batchite.cli.watch import watch

    app.command()(submit)
    app.command()(watch)
    app.command()(logs)
