"""Putting the management plane together for `batchite serve` and `batchite token`."""

from __future__ import annotations

import asyncio
import functools
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from batchite.mgmt.app import create_mgmt_app
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tls import TlsFiles
from batchite.mgmt.tokens import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_TENANT_ID,
    TokenIssuer,
    load_or_create_signing_key,
    parse_clients,
)
from batchite.service.batch import BatchService
from batchite.settings import Settings
from batchite.store.management import ManagementStore


@dataclass
class ManagementPlane:
    app: Any  # the Starlette app
    tls: TlsFiles
    issuer: TokenIssuer


def issuer_for(settings: Settings, data_dir: Path) -> TokenIssuer:
    """The token issuer (its key made on first start); ClientConfigError for a bad --mgmt-clients."""
    clients = parse_clients(settings.mgmt_clients)
    return TokenIssuer(load_or_create_signing_key(data_dir), settings.mgmt_url, clients=clients)


@functools.cache
def management_store(directory: Path) -> ManagementStore:
    """One store per directory in this process: the management plane and the portal share it."""
    return ManagementStore(directory)


def build_management(settings: Settings, data_dir: Path, batch: BatchService, tls: TlsFiles) -> ManagementPlane:
    """The token issuer and the ARM app over DATA_DIR/mgmt, with Microsoft.Batch on `batch`."""
    issuer = issuer_for(settings, data_dir)
    store = management_store(data_dir / "mgmt")
    app = create_mgmt_app(issuer, store, batch, account_endpoint=settings.account_endpoint)
    return ManagementPlane(app, tls, issuer)


def print_banner(console: Console, settings: Settings, plane: ManagementPlane) -> None:
    print(f"  management:   {settings.mgmt_url} (Resource Manager and its token issuer, HTTPS)")
    print(f"  tenant id:    {DEV_TENANT_ID}")
    print(f"  client id:    {DEV_CLIENT_ID}")
    print(f"  client secret: {DEV_CLIENT_SECRET}")
    print(f"  subscription: {DEV_SUBSCRIPTION_ID}")
    for client in plane.issuer.clients[1:]:
        print(f"  client id:    {client.client_id} (configured)")
    console.print(f"  CA to trust:  {plane.tls.ca or '(your own: ' + str(plane.tls.cert) + ')'}")


def tls_config(app: Any, settings: Settings, port: int, tls: TlsFiles, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,  # cli/logging_setup.py has set logging up: uvicorn's loggers reach its handler
        ssl_certfile=str(tls.cert),
        ssl_keyfile=str(tls.key),
        lifespan="off",
        timeout_graceful_shutdown=5,
        **extra,
    )


class TlsServer(uvicorn.Server):
    """uvicorn over TLS, whose shutdown drops idle keep-alive connections at once: closing one
    gracefully waits for the client's close_notify, which an idle client never sends."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport = getattr(connection, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
        await super().shutdown(sockets)


def _stop_on_signals(servers: list[Any]) -> None:
    """SIGTERM and SIGINT stop the servers (they then stop serving, commit, and return), and the
    process exits 0. uvicorn handles them while it serves, then raises the signal again for the
    handler it found: this one, which only asks for the stop already under way."""

    def stop(_signum: int, _frame: Any) -> None:
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


async def serve_all(*servers_or_none: Any) -> None:
    """Run the uvicorn servers in one event loop; when one stops (a signal, a failure) the others stop too."""
    servers = [s for s in servers_or_none if s is not None]
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals(servers)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
