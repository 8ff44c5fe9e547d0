"""`batchite`: serve the Batch API, run the quickstart, show the development account."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import typer
from rich.console import Console

from batchite import __version__
from batchite.agent.event_loop import run_event_loop
from batchite.cli.apps import apps
from batchite.cli.az_setup import az_setup
from batchite.cli.logging_setup import configure_logging
from batchite.cli.serve_settings import settings_from
from batchite.cli.submit import register as register_job_commands
from batchite.config_file import ENV_VAR as CONFIG_ENV_VAR
from batchite.service.accounts import AccountConfigError, AccountRegistry
from batchite.settings import DEFAULT_MGMT_PORT, DEFAULT_PORT, SettingInfo, Settings, SettingsError, settings_table
from batchite.storage.linked import ENV_VAR as STORAGE_ENV_VAR
from batchite.storage.linked import LinkedStorage, StorageConfigError

if typing.TYPE_CHECKING:
    from starlette.applications import Starlette

    from batchite.portal.context import Portal
    from batchite.scheduler.scheduler import SchedulerSettings
    from batchite.service import BatchService

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Batchite: a local Azure Batch service.")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"batchite {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Batchite: a local Azure Batch service."""


app.add_typer(apps, name="app")
register_job_commands(app)  # submit, watch, logs
console = Console()
errors = Console(stderr=True)  # why the service cannot start: on stderr, where a supervisor's log has it


def _storage(connection_string: str) -> LinkedStorage | None:
    try:
        return LinkedStorage.parse(connection_string) if connection_string.strip() else None
    except StorageConfigError as exc:
        errors.print(f"[red]The storage connection string is malformed:[/red] {exc}")
        raise typer.Exit(2) from exc


def _accounts() -> AccountRegistry:
    try:
        return AccountRegistry.from_environment()
    except AccountConfigError as exc:
        errors.print(f"[red]BATCHITE_ACCOUNTS is malformed:[/red] {exc}")
        raise typer.Exit(2) from exc


def build_portal(settings: Settings, batch: BatchService, accounts: AccountRegistry) -> tuple[Starlette, Portal]:
    """The portal at /portal; one-click development sign-in when bound to loopback."""
    from batchite.portal.app import create_portal
    from batchite.portal.context import PortalSettings, is_loopback
    from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

    dev = accounts.get(DEV_ACCOUNT_NAME)
    dev_account = (DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY) if dev is not None and DEV_ACCOUNT_KEY in dev.keys else None
    groups = None
    if settings.mgmt_port:  # accounts are created in the management plane's resource groups
        from batchite.cli.management import management_store
        from batchite.cli.portal_groups import ManagementGroups

        groups = ManagementGroups(management_store(settings.data_dir.resolve() / "mgmt"))
    return create_portal(batch, PortalSettings(is_loopback(settings.host), dev_account, groups))


def _containers(settings: Settings, data_dir: Path) -> tuple[SchedulerSettings, str]:
    """The scheduler's settings, container tasks turned off where no engine answers; what runs them."""
    from batchite.agent.container_engine import find_engine

    engine = settings.container_settings  # checked when the settings were made
    found = find_engine(engine, data_dir / "containers")
    scheduler = settings.scheduler
    if isinstance(found, str):
        off = msgspec.structs.replace(engine, choice="none")
        return dataclasses.replace(scheduler, container_engine=off), f"unavailable ({found})"
    return scheduler, found.describe()


def _serve(settings: Settings) -> None:
    """Run the Batch service in the foreground (SQLite in DATA_DIR, local compute nodes)."""
    import uvicorn
    from starlette.routing import Mount

    from batchite.api.app import ApiSettings, create_app
    from batchite.clock import SystemClock
    from batchite.mgmt.tokens import ClientConfigError, parse_clients
    from batchite.service import BatchService
    from batchite.store.sqlite import SchemaMismatch

    configure_logging(settings)
    accounts = _accounts()
    storage = _storage(settings.storage_connection_string)
    data_dir = settings.data_dir.resolve()
    clock = SystemClock(settings.time_scale)
    try:
        parse_clients(settings.mgmt_clients)
    except ClientConfigError as exc:
        errors.print(f"[red]--mgmt-clients:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        isolation = settings.isolation_level
    except ValueError as exc:
        errors.print(f"[red]--isolation:[/red] {exc}")
        raise typer.Exit(2) from exc
    ray = settings.ray  # --backend was checked when the settings were made
    scheduler_settings, containers = _containers(settings, data_dir)
    try:
        batch = BatchService.local(
            data_dir, accounts, settings.url, clock, storage, scheduler_settings, isolation, ray=ray
        )
    except SchemaMismatch as exc:  # the data directory is another version's
        errors.print(f"[red]--data-dir:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    api = ApiSettings(
        strict_api_version=settings.strict_api_version,
        stop_agents=settings.stop_agents,
        max_concurrent_requests=settings.max_concurrent_requests,
        metrics=settings.metrics,
    )
    portal_app, portal = build_portal(settings, batch, accounts)
    application = create_app(batch, api, [Mount("/portal", portal_app)])
    console.print(f"[bold green]Batchite[/bold green] serving the Azure Batch API at [bold]{settings.url}[/bold]")
    for account in accounts:
        console.print(f"  account name: [bold]{account.name}[/bold]")
        print(f"  account key:  {account.keys[0]}")
    console.print(f"  data dir:     {data_dir}")
    agents = "stop with the service" if settings.stop_agents else "outlive the service"
    console.print(f"  isolation:    {isolation} (node agents {agents})")
    console.print(f"  container tasks: {containers}", soft_wrap=True, highlight=False)
    if ray is not None:
        where = ray.address or "this machine's"
        console.print(f"  backends:     {', '.join(batch.scheduler_backends())} (Ray cluster: {where})")
    if storage is not None:
        console.print(f"  storage:      {storage.blob_endpoint} (account {storage.account_name})")
    from batchite.api.http_limits import LimitedHttpToolsProtocol
    from batchite.cli.management import TlsServer, build_management, print_banner, serve_all, tls_config
    from batchite.mgmt.tls import TlsConfigError, ensure_tls

    data_server = uvicorn.Server(
        uvicorn.Config(
            application,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            log_config=None,  # cli/logging_setup.py has set logging up: uvicorn's loggers reach its handler
            http=LimitedHttpToolsProtocol,
        )
    )
    tls = None
    if settings.mgmt_port or settings.https_port:
        try:
            tls = ensure_tls(data_dir, settings.host, settings.cert, settings.key)
        except TlsConfigError as exc:
            errors.print(f"[red]--cert/--key:[/red] {exc}")
            raise typer.Exit(2) from exc
    https_server = None
    if tls is not None and settings.https_port:
        https_server = TlsServer(
            tls_config(application, settings, settings.https_port, tls, http=LimitedHttpToolsProtocol)
        )
        console.print(f"  over HTTPS:   https://{settings.account_endpoint} (accounts' accountEndpoint)")
    mgmt_server = None
    if tls is not None and settings.mgmt_port:
        plane = build_management(settings, data_dir, batch, tls)
        print_banner(console, settings, plane)
        mgmt_server = TlsServer(tls_config(plane.app, settings, settings.mgmt_port, tls))
    portal.stopping = lambda: bool(data_server.should_exit)
    console.print(f"  portal:       {settings.url}/portal/")
    run_event_loop(serve_all(data_server, https_server, mgmt_server))


def _flags(info: SettingInfo) -> list[str]:
    """--time-scale; --stop-agents/--no-stop-agents, so that a flag can undo a file's `true`."""
    return [f"{info.flag}/--no-{info.flag[2:]}"] if info.type_name == "bool" else [info.flag]


def _serve_command(run: Callable[[Settings], None] = _serve) -> Callable[..., None]:
    """`batchite serve`, with one option per Settings field (its flag and BATCHITE_* variable) and
    --config FILE (BATCHITE_CONFIG), whose keys stand in for the options left at their defaults."""
    hints = typing.get_type_hints(Settings)
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None,
                "--config",
                envvar=CONFIG_ENV_VAR,
                help="A TOML file of settings (keys: the options' names, e.g. time_scale); flags and "
                "BATCHITE_* variables win over it.",
            ),
            annotation=Path | None,
        ),
    ]
    parameters += [
        inspect.Parameter(
            info.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(info.default, *_flags(info), envvar=info.env, help=info.help),
            annotation=hints[info.name],
        )
        for info in settings_table()
    ]

    def serve(ctx: typer.Context, config: Path | None, **values: Any) -> None:
        run(settings_from(ctx, config, values))

    serve.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    serve.__doc__ = _serve.__doc__
    return serve


app.command(name="serve")(_serve_command())
app.command(name="az-setup")(az_setup)


@app.command()
def account() -> None:
    """Print the account names and keys this service accepts."""
    for acc in _accounts():
        console.print(f"{acc.name} {acc.keys[0]}")


@app.command()
def token(
    data_dir: Path = typer.Option(
        Path(".batchite"), "--data-dir", envvar="BATCHITE_DATA_DIR", help="The server's data dir."
    ),
    host: str = typer.Option("127.0.0.1", "--host", envvar="BATCHITE_HOST", help="The server's --host."),
    mgmt_port: int = typer.Option(
        DEFAULT_MGMT_PORT, "--mgmt-port", envvar="BATCHITE_MGMT_PORT", help="Its --mgmt-port."
    ),
    scope: str = typer.Option("https://management.azure.com/.default", help="The scope (audience + /.default)."),
) -> None:
    """Print a bearer token for the management plane (signed with DATA_DIR's token key), for scripts."""
    from batchite.cli.management import issuer_for
    from batchite.mgmt.tokens import DEV_CLIENT_ID, audience_of

    try:
        settings = Settings(host=host, mgmt_port=mgmt_port, data_dir=data_dir)
    except SettingsError as exc:
        errors.print(f"[red]--{exc.key.replace('_', '-')}:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    print(issuer_for(settings, data_dir.resolve()).issue(DEV_CLIENT_ID, audience_of(scope)))


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
