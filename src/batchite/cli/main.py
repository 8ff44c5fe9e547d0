"""`batchite`: serve the Batch API, run the quickstart, show the development account."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console

from batchite.cli.apps import apps
from batchite.service.accounts import AccountConfigError, AccountRegistry
from batchite.storage.linked import ENV_VAR as STORAGE_ENV_VAR
from batchite.storage.linked import LinkedStorage, StorageConfigError

DEFAULT_PORT = 8091
app = typer.Typer(add_completion=False, no_args_is_help=True, help="Batchite: a local Azure Batch service.")
app.add_typer(apps, name="app")
console = Console()


def _storage(connection_string: str) -> LinkedStorage | None:
    try:
        return LinkedStorage.parse(connection_string) if connection_string.strip() else None
    except StorageConfigError as exc:
        console.print(f"[red]The storage connection string is malformed:[/red] {exc}")
        raise typer.Exit(2) from exc


def _accounts() -> AccountRegistry:
    try:
        return AccountRegistry.from_environment()
    except AccountConfigError as exc:
        console.print(f"[red]BATCHITE_ACCOUNTS is malformed:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, help="Port to listen on."),
    data_dir: Path = typer.Option(Path(".batchite"), "--data-dir", help="Where state and node directories live."),
    public_url: str = typer.Option("", help="URL clients use to reach this service (default http://HOST:PORT)."),
    strict_api_version: bool = typer.Option(False, help="Reject api-versions Batchite does not know."),
    time_scale: float = typer.Option(1.0, help="Run service time this many times faster than wall time."),
    preemption_rate: float = typer.Option(
        0.0, help="Chance per hour that a low-priority node is preempted (spot eviction); 0 = only on demand."
    ),
    preemption_recovery: float = typer.Option(60.0, help="Seconds (service time) before a preempted node returns."),
    preemption_seed: int | None = typer.Option(None, help="Seed of the preemption policy, for repeatable runs."),
    dedicated_core_quota: int = typer.Option(900, help="Dedicated cores an account may have in its pools."),
    low_priority_core_quota: int = typer.Option(100, help="Low-priority (spot) cores an account may have."),
    pool_quota: int = typer.Option(100, help="Pools an account may have."),
    active_job_quota: int = typer.Option(300, help="Active jobs and job schedules an account may have."),
    access_log: bool = typer.Option(False, help="Log every request."),
    storage_connection_string: str = typer.Option(
        "",
        "--storage-connection-string",
        envvar=STORAGE_ENV_VAR,
        help="The storage account linked to every Batch account (auto-storage, application packages); "
        "e.g. Azurite's development account.",
    ),
) -> None:
    """Run the Batch service in the foreground (SQLite in DATA_DIR, local compute nodes)."""
    import uvicorn

    from batchite.api.app import ApiSettings, create_app
    from batchite.clock import Clock
    from batchite.scheduler.base import Quotas
    from batchite.service import BatchService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # azure-storage-blob logs every request at INFO
    accounts = _accounts()
    url = public_url.rstrip("/") or f"http://{host}:{port}"
    storage = _storage(storage_connection_string)
    batch = BatchService.local(data_dir.resolve(), accounts, url, Clock(time_scale), storage)
    batch.scheduler.init_preemption(preemption_rate, timedelta(seconds=preemption_recovery), preemption_seed)
    batch.scheduler.quotas = Quotas(dedicated_core_quota, low_priority_core_quota, pool_quota, active_job_quota)
    application = create_app(batch, ApiSettings(strict_api_version=strict_api_version))
    console.print(f"[bold green]Batchite[/bold green] serving the Azure Batch API at [bold]{url}[/bold]")
    for account in accounts:
        console.print(f"  account name: [bold]{account.name}[/bold]")
        print(f"  account key:  {account.keys[0]}")
    console.print(f"  data dir:     {data_dir.resolve()}")
    if storage is not None:
        console.print(f"  storage:      {storage.blob_endpoint} (account {storage.account_name})")
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=access_log)


@app.command()
def account() -> None:
    """Print the account names and keys this service accepts."""
    for acc in _accounts():
        console.print(f"{acc.name} {acc.keys[0]}")


@app.command()
def preempt(
    pool_id: str = typer.Argument(..., help="The pool whose low-priority nodes to preempt."),
    node: list[str] = typer.Option([], "--node", help="A node to preempt (repeatable; default: all low-priority)."),
    endpoint: str = typer.Option(f"http://127.0.0.1:{DEFAULT_PORT}", help="The Batchite endpoint."),
    account_name: str = typer.Option("", help="Account name (default: the development account)."),
    account_key: str = typer.Option("", help="Account key (default: the development key)."),
) -> None:
    """Preempt low-priority (spot) nodes now, to see how a workload survives evictions."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.rest import HttpRequest

    from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

    credential = AzureNamedKeyCredential(account_name or DEV_ACCOUNT_NAME, account_key or DEV_ACCOUNT_KEY)
    with BatchClient(endpoint=endpoint, credential=credential) as client:
        request = HttpRequest(
            "POST",
            f"{endpoint}/_batchite/admin/pools/{pool_id}/preempt?api-version=2025-06-01",
            json={"nodeIds": node} if node else {},
        )
        response = client.send_request(request)
        if response.status_code != 200:
            console.print(f"[red]{response.status_code}[/red] {response.text()}")
            raise typer.Exit(1)
        preempted = response.json().get("preemptedNodeIds", [])
    console.print(f"Preempted {len(preempted)} node(s) of {pool_id}: " + ", ".join(preempted))


@app.command()
def quickstart(
    endpoint: str = typer.Option("", help="A running Batchite (default: start one on a free port)."),
    account_name: str = typer.Option("", help="Account name (default: the development account)."),
    account_key: str = typer.Option("", help="Account key (default: the development key)."),
    files: int = typer.Option(4, min=1, max=50, help="How many generated files to count words in."),
    storage: bool = typer.Option(
        False, "--storage", help="Inputs from blob storage (SAS resource files), outputs back to it (output files)."
    ),
    storage_connection_string: str = typer.Option(
        "", "--storage-connection-string", envvar=STORAGE_ENV_VAR, help="With --storage (default: Azurite's)."
    ),
) -> None:
    """A first run: create a pool, run a small parallel job of real work, show its output, clean up."""
    if storage:
        from batchite.cli.quickstart_storage import run_storage_quickstart

        linked = _storage(storage_connection_string)
        raise typer.Exit(run_storage_quickstart(console, endpoint, account_name, account_key, files, linked))
    from batchite.cli.quickstart import run_quickstart

    raise typer.Exit(run_quickstart(console, endpoint, account_name, account_key, files))


if __name__ == "__main__":
    app()
