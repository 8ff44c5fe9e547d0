"""`batchite`: serve the Batch API, run the quickstart, show the development account."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from batchite.service.accounts import AccountConfigError, AccountRegistry

DEFAULT_PORT = 8091
app = typer.Typer(add_completion=False, no_args_is_help=True, help="Batchite: a local Azure Batch service.")
console = Console()


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
    access_log: bool = typer.Option(False, help="Log every request."),
) -> None:
    """Run the Batch service in the foreground (SQLite in DATA_DIR, local compute nodes)."""
    import uvicorn

    from batchite.api.app import ApiSettings, create_app
    from batchite.clock import Clock
    from batchite.service import BatchService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    accounts = _accounts()
    url = public_url.rstrip("/") or f"http://{host}:{port}"
    batch = BatchService.local(data_dir.resolve(), accounts, url, Clock(time_scale))
    application = create_app(batch, ApiSettings(strict_api_version=strict_api_version))
    console.print(f"[bold green]Batchite[/bold green] serving the Azure Batch API at [bold]{url}[/bold]")
    for account in accounts:
        console.print(f"  account name: [bold]{account.name}[/bold]")
        print(f"  account key:  {account.keys[0]}")
    console.print(f"  data dir:     {data_dir.resolve()}")
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=access_log)


@app.command()
def account() -> None:
    """Print the account names and keys this service accepts."""
    for acc in _accounts():
        console.print(f"{acc.name} {acc.keys[0]}")


@app.command()
def quickstart(
    endpoint: str = typer.Option("", help="A running Batchite (default: start one on a free port)."),
    account_name: str = typer.Option("", help="Account name (default: the development account)."),
    account_key: str = typer.Option("", help="Account key (default: the development key)."),
    files: int = typer.Option(4, min=1, max=50, help="How many generated files to count words in."),
) -> None:
    """A first run: create a pool, run a small parallel job of real work, show its output, clean up."""
    from batchite.cli.quickstart import run_quickstart

    raise typer.Exit(run_quickstart(console, endpoint, account_name, account_key, files))


if __name__ == "__main__":
    app()
