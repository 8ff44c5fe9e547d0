"""A pytest plugin: a running Batchite for a test suite.

Registered by the `pytest11` entry point `batchite.pytest_plugin`, so installing `batchite[pytest]` is enough.
Fixtures: `batchite` (a `BatchiteServer`: endpoint, account name and key, data directory, the
management endpoint when served, the linked storage when on) and `batch_client` (an
`azure.batch.BatchClient` for it). Options: `pytest --help`, section "batchite"; docs/pytest-plugin.md.

Nothing heavy is imported at load time: this module is loaded by every pytest run where the
package is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import pytest

if TYPE_CHECKING:
    from batchite.cli.azurite import AzuriteServer
    from batchite.cli.server import ChildServer

Scope = Literal["session", "package", "module", "class", "function"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
QUOTA_FLAGS = {
    "pool": "--pool-quota",
    "dedicated-core": "--dedicated-core-quota",
    "low-priority-core": "--low-priority-core-quota",
    "active-job": "--active-job-quota",
}
STORAGE_MARKER = "batchite_storage"


@dataclass(frozen=True)
class BatchiteServer:
    """A Batchite serving the tests: where it answers and the account to sign requests with."""

    endpoint: str
    account_name: str
    account_key: str
    data_dir: Path
    management_endpoint: str | None = None  # https://127.0.0.1:PORT with --batchite-management
    storage_connection_string: str | None = None  # Azurite's, with --batchite-storage or the marker


@dataclass(frozen=True)
class PluginOptions:
    """The plugin's options, checked once at configuration."""

    scope: Scope = "session"
    time_scale: float | None = None
    quotas: dict[str, int] = field(default_factory=dict)
    storage: bool = False
    management: bool = False
    serve_args: tuple[str, ...] = ()

    def serve_arguments(self, storage_connection_string: str | None) -> list[str]:
        args: list[str] = []
        if self.time_scale is not None:
            args += ["--time-scale", repr(self.time_scale)]
        for name, value in self.quotas.items():
            args += [QUOTA_FLAGS[name], str(value)]
        if storage_connection_string:
            args += ["--storage-connection-string", storage_connection_string]
        return args + list(self.serve_args)


OPTIONS_KEY = pytest.StashKey[PluginOptions]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("batchite", "Batchite (a local Azure Batch service) for the batchite fixtures")
    group.addoption(
        "--batchite-scope",
        dest="batchite_scope",
        default=None,
        help="Scope of the batchite server: session (default: one for the whole run) or function (a fresh "
        "server per test); also package, module, class. Ini: batchite_scope.",
    )
    group.addoption(
        "--batchite-time-scale",
        dest="batchite_time_scale",
        default=None,
        help="Run the server's time this many times faster than wall time (serve --time-scale). "
        "Ini: batchite_time_scale.",
    )
    group.addoption(
        "--batchite-quota",
        dest="batchite_quota",
        action="append",
        default=[],
        metavar="NAME=N",
        help=f"An account quota, repeatable; NAME is one of {', '.join(QUOTA_FLAGS)} (serve --pool-quota etc.). "
        "Ini: batchite_quota (one a line).",
    )
    group.addoption(
        "--batchite-storage",
        dest="batchite_storage",
        action="store_true",
        default=None,
        help="Start Azurite and link it to the server as its storage account (also: a test marked "
        f"{STORAGE_MARKER}). Ini: batchite_storage.",
    )
    group.addoption(
        "--batchite-management",
        dest="batchite_management",
        action="store_true",
        default=None,
        help="Serve the management plane (ARM) too, on a free port: batchite.management_endpoint. "
        "Ini: batchite_management.",
    )
    group.addoption(
        "--batchite-serve-arg",
        dest="batchite_serve_arg",
        action="append",
        default=[],
        metavar="ARG",
        help="An argument passed to `batchite serve` as it is, repeatable (--batchite-serve-arg=--node-release-time "
        "--batchite-serve-arg=1). Ini: batchite_serve_args.",
    )
    parser.addini("batchite_scope", "Scope of the batchite server (session or function).", default="session")
    parser.addini("batchite_time_scale", "serve --time-scale for the batchite server.", default="")
    parser.addini("batchite_quota", "Account quotas NAME=N for the batchite server, one a line.", type="linelist")
    parser.addini("batchite_storage", "Link Azurite to the batchite server.", type="bool", default=False)
    parser.addini("batchite_management", "Serve the management plane too.", type="bool", default=False)
    parser.addini("batchite_serve_args", "Arguments passed to `batchite serve`.", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{STORAGE_MARKER}: the batchite server has Azurite linked as its storage account"
    )
    config.stash[OPTIONS_KEY] = read_options(config)


def read_options(config: pytest.Config) -> PluginOptions:
    """The options from the command line, else the ini file; a pytest.UsageError for a bad value."""

    def value(name: str, ini: str) -> Any:
        given = config.getoption(name)
        return given if given not in (None, []) else config.getini(ini)

    scope = str(value("batchite_scope", "batchite_scope")).strip() or "session"
    if scope not in SCOPES:
        raise pytest.UsageError(f"--batchite-scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return PluginOptions(
        scope=scope,
        time_scale=_time_scale(str(value("batchite_time_scale", "batchite_time_scale")).strip()),
        quotas=_quotas(list(value("batchite_quota", "batchite_quota"))),
        storage=bool(value("batchite_storage", "batchite_storage")),
        management=bool(value("batchite_management", "batchite_management")),
        serve_args=tuple(value("batchite_serve_arg", "batchite_serve_args")),
    )


def _time_scale(text: str) -> float | None:
    if not text:
        return None
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not scale > 0 or scale == float("inf"):
        raise pytest.UsageError(f"--batchite-time-scale must be a positive number, not {text!r}")
    return scale


def _quotas(entries: list[str]) -> dict[str, int]:
    quotas: dict[str, int] = {}
    for entry in entries:
        name, sep, number = entry.partition("=")
        name = name.strip()
        if not sep or name not in QUOTA_FLAGS:
            raise pytest.UsageError(
                f"--batchite-quota takes NAME=N with NAME one of {', '.join(QUOTA_FLAGS)}, not {entry!r}"
            )
        try:
            quotas[name] = int(number.strip())
        except ValueError:
            quotas[name] = -1
        if quotas[name] < 0:
            raise pytest.UsageError(f"--batchite-quota {name} must be a whole number of 0 or more, not {number!r}")
    return quotas


def _scope(fixture_name: str, config: pytest.Config) -> Scope:
    return config.stash[OPTIONS_KEY].scope if OPTIONS_KEY in config.stash else "session"


def _wants_storage(request: pytest.FixtureRequest, options: PluginOptions) -> bool:
    """--batchite-storage, or a test this server serves is marked batchite_storage (any collected
    test for a server shared wider than one test)."""
    if options.storage:
        return True
    items = [request.node] if options.scope == "function" else request.session.items
    return any(item.get_closest_marker(STORAGE_MARKER) for item in items)


def _start_azurite(request: pytest.FixtureRequest, location: Path) -> AzuriteServer:
    from batchite.cli.azurite import AzuriteUnavailable, find_azurite, install_azurite, start_azurite

    try:
        binary = find_azurite() or install_azurite(request.config.rootpath / ".azurite")
        return start_azurite(location, binary=binary)
    except AzuriteUnavailable as error:
        pytest.fail(f"batchite plugin: Azurite for the linked storage did not start: {error}", pytrace=False)


@pytest.fixture(scope=_scope)
def batchite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchiteServer]:
    """A Batchite server of its own (a process, a fresh data directory, a free port)."""
    from batchite.cli.server import start_child_server
    from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

    options = request.config.stash[OPTIONS_KEY]
    data_dir = tmp_path_factory.mktemp("batchite")
    azurite = _start_azurite(request, data_dir / "azurite") if _wants_storage(request, options) else None
    connection = azurite.connection_string if azurite else None
    child: ChildServer | None = None
    try:
        try:
            child = start_child_server(
                data_dir / "server",
                extra_args=options.serve_arguments(connection),
                mgmt_port=0 if options.management else None,
            )
        except RuntimeError as error:
            pytest.fail(f"batchite plugin: {error}", pytrace=False)
        yield BatchiteServer(
            endpoint=child.endpoint,
            account_name=DEV_ACCOUNT_NAME,
            account_key=DEV_ACCOUNT_KEY,
            data_dir=child.data_dir,
            management_endpoint=child.mgmt_endpoint,
            storage_connection_string=connection,
        )
    finally:
        if child is not None:
            child.stop()
        if azurite is not None:
            azurite.stop()


@pytest.fixture(scope=_scope)
def batch_client(batchite: BatchiteServer) -> Iterator[Any]:
    """An azure.batch.BatchClient signed with the development account's key (SharedKey)."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    client = BatchClient(
        endpoint=batchite.endpoint, credential=AzureNamedKeyCredential(batchite.account_name, batchite.account_key)
    )
    yield client
    client.close()
