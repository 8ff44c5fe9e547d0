"""`batchite app`: applications and their packages, through a running Batchite's management plane
(the ARM Application and ApplicationPackage operations, as azure-mgmt-batch calls them), with a
bearer token from its development issuer (client credentials). The service must run with a linked
storage account (`batchite serve --storage-connection-string`, e.g. Azurite's).

HTTP goes through azure-core's PipelineClient over its requests transport, trusting `--ca` (the
management plane's `DATA_DIR/tls/ca.pem`); a package's zip is PUT to the storageUrl the service
hands out as a block blob (`x-ms-blob-type: BlockBlob`), as the Azure Python samples upload it.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import typer
from rich.console import Console
from rich.table import Table

from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tls import CA_FILE
from batchite.mgmt.tokens import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_TENANT_ID, MANAGEMENT_SCOPE
from batchite.service.accounts import DEV_ACCOUNT_NAME

API_VERSION = "2025-06-01"  # azure-mgmt-batch 19.0.0's
DEFAULT_GROUP = "batchite"  # where the configured accounts (the development account) live in ARM
DEFAULT_CA = f".batchite/tls/{CA_FILE}"  # the default DATA_DIR's
apps = typer.Typer(no_args_is_help=True, help="Applications and application packages (needs linked storage).")
console = Console()

MGMT = typer.Option("https://127.0.0.1:8443", "--mgmt-endpoint", help="The management plane's endpoint.")
CA = typer.Option(DEFAULT_CA, "--ca", help="The CA to trust (the management plane's DATA_DIR/tls/ca.pem).")
GROUP = typer.Option(DEFAULT_GROUP, "--resource-group", help="The account's resource group.")
NAME = typer.Option(DEV_ACCOUNT_NAME, "--account-name", help="The Batch account (default: the development one).")
SUBSCRIPTION = typer.Option(DEV_SUBSCRIPTION_ID, "--subscription", help="The subscription id.")
TENANT = typer.Option(DEV_TENANT_ID, "--tenant", help="The tenant to get a token from.")
CLIENT = typer.Option(DEV_CLIENT_ID, "--client-id", help="The client (application) id.")
SECRET = typer.Option(DEV_CLIENT_SECRET, "--client-secret", help="Its secret.")


class AppError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status}: {text}")
        self.status = status
        self.text = text


def _error_text(response: Any) -> str:
    text = str(response.text())
    with suppress(ValueError, KeyError, TypeError):
        error = json.loads(text)
        found = error.get("error") or error  # ARM's {"error": {...}}; the token endpoint's own body
        text = f"{found.get('message') or found.get('error_description')} ({found.get('code') or found['error']})"
    return text


@dataclass(frozen=True)
class Target:
    """Which account's applications, on which management plane, as whom (`batchite app`'s options)."""

    mgmt_endpoint: str
    ca: str
    resource_group: str = DEFAULT_GROUP
    account_name: str = DEV_ACCOUNT_NAME
    subscription: str = DEV_SUBSCRIPTION_ID
    tenant: str = DEV_TENANT_ID
    client_id: str = DEV_CLIENT_ID
    client_secret: str = DEV_CLIENT_SECRET


class ManagementClient:
    """The application operations of one account, over ARM with a client-credentials token."""

    def __init__(self, target: Target) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.transport import RequestsTransport

        self.endpoint = target.mgmt_endpoint.rstrip("/")
        group, name = quote(target.resource_group, safe=""), quote(target.account_name, safe="")
        self.account = (
            f"/subscriptions/{quote(target.subscription, safe='')}/resourceGroups/{group}"
            f"/providers/Microsoft.Batch/batchAccounts/{name}"
        )
        self._tenant, self._client_id, self._secret = target.tenant, target.client_id, target.client_secret
        self._token = ""
        self._expires = 0.0
        verify = target.ca if self.endpoint.startswith("https:") else True
        self._arm: Any = PipelineClient(
            self.endpoint, transport=RequestsTransport(connection_verify=verify), policies=[]
        )
        self._blobs: Any = PipelineClient("", transport=RequestsTransport(), policies=[])

    def close(self) -> None:
        self._arm.close()
        self._blobs.close()

    def _send(self, client: Any, method: str, url: str, **kw: Any) -> Any:
        from azure.core.rest import HttpRequest

        return client.send_request(HttpRequest(method, url, **kw))

    def token(self) -> str:
        """A bearer token for the management plane, fetched again a minute before it expires."""
        if self._token and time.monotonic() < self._expires - 60:
            return self._token
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret,
            "scope": MANAGEMENT_SCOPE,
        }
        url = f"{self.endpoint}/{quote(self._tenant, safe='')}/oauth2/v2.0/token"
        response = self._send(
            self._arm,
            "POST",
            url,
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code != 200:
            raise AppError(response.status_code, _error_text(response))
        body = response.json()
        self._token, self._expires = body["access_token"], time.monotonic() + float(body.get("expires_in", 0))
        return self._token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """An ARM call on `{account}{path}`; its JSON (None when empty), AppError for an error."""
        url = f"{self.endpoint}{self.account}{path}?api-version={API_VERSION}"
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        response = self._send(self._arm, method, url, json=body, headers=headers)
        if response.status_code >= 400:
            raise AppError(response.status_code, _error_text(response))
        return response.json() if response.text() else None

    def pages(self, path: str) -> list[Any]:
        """Every item of a list, following nextLink."""
        found = self.call("GET", path)
        items = list(found["value"])
        while found.get("nextLink"):
            headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
            response = self._send(self._arm, "GET", found["nextLink"], headers=headers)
            if response.status_code >= 400:
                raise AppError(response.status_code, _error_text(response))
            found = response.json()
            items += found["value"]
        return items

    @staticmethod
    def app_path(app_id: str | None = None, version: str | None = None) -> str:
        path = "/applications" + (f"/{quote(app_id, safe='')}" if app_id is not None else "")
        return path + (f"/versions/{quote(version, safe='')}" if version is not None else "")

    # -- operations (also used by tests) ---------------------------------------------------------
    def create(self, app_id: str, display_name: str | None = None, **properties: Any) -> Any:
        """Create the application, or set the properties given (displayName, allowUpdates, defaultVersion)."""
        props = {k: v for k, v in {"displayName": display_name, **properties}.items() if v is not None}
        return self.call("PUT", self.app_path(app_id), {"properties": props})

    def update(self, app_id: str, **properties: Any) -> Any:
        props = {k: v for k, v in properties.items() if v is not None}
        return self.call("PATCH", self.app_path(app_id), {"properties": props})

    def put_blob(self, url: str, data: bytes) -> None:
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"}
        response = self._send(self._blobs, "PUT", url, content=data, headers=headers)
        if response.status_code >= 400:
            raise AppError(response.status_code, f"the upload to storage failed: {response.text()[:300]}")

    def upload(self, app_id: str, version: str, data: bytes, activate: bool = True) -> Any:
        """Create the version, upload its zip to the storageUrl, activate it; the package's properties."""
        package = self.call("PUT", self.app_path(app_id, version))
        self.put_blob(package["properties"]["storageUrl"], data)
        if activate:
            package = self.call("POST", self.app_path(app_id, version) + "/activate", {"format": "zip"})
        return package["properties"]


def zip_bytes(path: Path) -> bytes:
    """The file itself when it is a zip; a directory is zipped (paths relative to it, modes kept)."""
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(path.rglob("*")):
            if item.is_file():
                zf.write(item, item.relative_to(path).as_posix())
    return buffer.getvalue()


@apps.callback()
def target(
    ctx: typer.Context,
    mgmt_endpoint: str = MGMT,
    ca: str = CA,
    resource_group: str = GROUP,
    account_name: str = NAME,
    subscription: str = SUBSCRIPTION,
    tenant: str = TENANT,
    client_id: str = CLIENT,
    client_secret: str = SECRET,
) -> None:
    """Applications and application packages of a Batch account (default: the development
    account), through the management plane; the options go before the command."""
    ctx.obj = Target(mgmt_endpoint, ca, resource_group, account_name, subscription, tenant, client_id, client_secret)


@contextmanager
def _client(where: Target) -> Iterator[ManagementClient]:
    from azure.core.exceptions import AzureError

    mgmt, ca = where.mgmt_endpoint, where.ca
    if mgmt.startswith("https:") and not Path(ca).is_file():
        console.print(f"[red]no CA file at {ca}:[/red] pass --ca (the server's DATA_DIR/tls/ca.pem)")
        raise typer.Exit(1)
    client = ManagementClient(where)
    try:
        yield client
    except AppError as exc:
        console.print(f"[red]{exc.status}[/red] {exc.text}")
        raise typer.Exit(1) from exc
    except (AzureError, OSError) as exc:
        console.print(f"[red]cannot reach {mgmt}:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()


@apps.command("create")
def create(
    ctx: typer.Context,
    app_id: str = typer.Argument(..., help="The application id."),
    display_name: str = typer.Option(None, "--display-name", help="Its display name."),
    default_version: str = typer.Option(None, "--default-version", help="The version used when none is given."),
    allow_updates: bool = typer.Option(True, help="Whether active packages can be replaced."),
) -> None:
    """Create an application (or update its display name, default version, allowUpdates)."""
    with _client(ctx.obj) as client:
        client.create(app_id, display_name, defaultVersion=default_version, allowUpdates=allow_updates)
    console.print(f"Application [bold]{app_id}[/bold] ready.")


@apps.command("upload")
def upload(
    ctx: typer.Context,
    app_id: str = typer.Argument(..., help="The application id (created when missing)."),
    version: str = typer.Argument(..., help="The package version."),
    package: Path = typer.Argument(..., exists=True, help="A .zip file, or a directory to zip."),
    activate: bool = typer.Option(True, help="Activate the package after the upload."),
    default: bool = typer.Option(False, "--default", help="Make this version the application's default."),
) -> None:
    """Upload a package version (to the storageUrl the service hands out), then activate it."""
    data = zip_bytes(package)
    with _client(ctx.obj) as client:
        try:
            client.call("GET", client.app_path(app_id))
        except AppError as exc:
            if exc.status != 404:
                raise
            client.create(app_id)
        result = client.upload(app_id, version, data, activate)
        if default:
            client.update(app_id, defaultVersion=version)
    state = str(result.get("state", "")).lower()
    console.print(f"{app_id} {version}: {len(data)} bytes uploaded, state [bold]{state}[/bold]")


@apps.command("activate")
def activate_cmd(
    ctx: typer.Context,
    app_id: str = typer.Argument(...),
    version: str = typer.Argument(...),
) -> None:
    """Activate an uploaded package version."""
    with _client(ctx.obj) as client:
        client.call("POST", client.app_path(app_id, version) + "/activate", {"format": "zip"})
    console.print(f"{app_id} {version}: active")


@apps.command("list")
def list_cmd(
    ctx: typer.Context,
    app_id: str = typer.Argument(None, help="Only this application."),
) -> None:
    """List applications and their package versions."""
    with _client(ctx.obj) as client:
        items = [client.call("GET", client.app_path(app_id))] if app_id else client.pages(client.app_path())
        versions = {item["name"]: client.pages(client.app_path(item["name"]) + "/versions") for item in items}
    table = Table("application", "display name", "default", "version", "state", "activated")
    for item in items:
        props = item.get("properties") or {}
        for v in versions[item["name"]] or [{}]:
            vprops = v.get("properties") or {}
            table.add_row(
                item["name"],
                props.get("displayName") or "",
                props.get("defaultVersion") or "",
                v.get("name", ""),
                str(vprops.get("state", "")).lower(),
                vprops.get("lastActivationTime", ""),
            )
    console.print(table)


@apps.command("delete")
def delete_cmd(
    ctx: typer.Context,
    app_id: str = typer.Argument(...),
    version: str = typer.Argument(None, help="Only this version (default: the application and all versions)."),
) -> None:
    """Delete a package version, or an application with all its versions."""
    with _client(ctx.obj) as client:
        client.call("DELETE", client.app_path(app_id, version))
    console.print(f"Deleted {app_id}" + (f" {version}" if version else ""))
