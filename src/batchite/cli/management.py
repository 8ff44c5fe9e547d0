"""Putting the management plane together for `batchite serve` and `batchite token`."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from batchite.mgmt.app import create_mgmt_app
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tls import TlsFiles, ensure_tls
from batchite.mgmt.tokens import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_TENANT_ID,
    TokenIssuer,
    load_or_create_signing_key,
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
    return TokenIssuer(load_or_create_signing_key(data_dir), settings.mgmt_url)


def build_management(settings: Settings, data_dir: Path, batch: BatchService) -> ManagementPlane:
    """TLS files (made on first start), the token issuer and the ARM app over DATA_DIR/mgmt, with
    Microsoft.Batch/batchAccounts on `batch`'s stored accounts; deleting a resource group deletes its accounts."""
    tls = ensure_tls(data_dir, settings.host, settings.cert, settings.key)
    issuer = issuer_for(settings, data_dir)
    accounts = batch.batch_accounts

    async def delete_group_accounts(subscription_id: str, resource_group: str) -> None:
        accounts.delete_resource_group(subscription_id, resource_group)  # on the loop: it stops the accounts' work

    endpoint = settings.url.split("://", 1)[-1].rstrip("/")
    app = create_mgmt_app(
        issuer, ManagementStore(data_dir / "mgmt"), [delete_group_accounts], batch, account_endpoint=endpoint
    )
    return ManagementPlane(app, tls, issuer)


def print_banner(console: Console, settings: Settings, plane: ManagementPlane) -> None:
    print(f"  management:   {settings.mgmt_url} (Resource Manager and its token issuer, HTTPS)")
    print(f"  tenant id:    {DEV_TENANT_ID}")
    print(f"  client id:    {DEV_CLIENT_ID}")
    print(f"  client secret: {DEV_CLIENT_SECRET}")
    print(f"  subscription: {DEV_SUBSCRIPTION_ID}")
    console.print(f"  CA to trust:  {plane.tls.ca or '(your own: ' + str(plane.tls.cert) + ')'}")


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


async def serve_all(data_plane: Any, management: Any | None) -> None:
    """Run the uvicorn servers in one event loop; when one stops (a signal, a failure) the other stops too."""
    servers = [s for s in (data_plane, management) if s is not None]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()
