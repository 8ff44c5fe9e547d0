"""`batchite app`: applications and their packages, through a running Batchite's admin endpoints
(/_batchite/admin/applications, SharedKey of the account). The service must run with a linked
storage account (`batchite serve --storage-connection-string`, e.g. Azurite's)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.table import Table

from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

API_VERSION = "2025-06-01"
apps = typer.Typer(no_args_is_help=True, help="Applications and application packages (needs linked storage).")
console = Console()

ENDPOINT = typer.Option("http://127.0.0.1:8091", "--endpoint", help="The Batchite endpoint.")
NAME = typer.Option("", "--account-name", help="Account name (default: the development account).")
KEY = typer.Option("", "--account-key", help="Account key (default: the development key).")


class AdminError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status}: {text}")
        self.status = status
        self.text = text


class AdminClient:
    """Signed calls to /_batchite/admin/applications through the azure-batch SDK's SharedKey policy."""

    def __init__(self, endpoint: str, name: str, key: str) -> None:
        from azure.batch import BatchClient
        from azure.core.credentials import AzureNamedKeyCredential

        self.endpoint = endpoint.rstrip("/")
        credential = AzureNamedKeyCredential(name or DEV_ACCOUNT_NAME, key or DEV_ACCOUNT_KEY)
        self._client = BatchClient(endpoint=self.endpoint, credential=credential, retry_total=0)

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        url = f"{self.endpoint}/_batchite/admin/applications{path}?api-version={API_VERSION}"
        request = HttpRequest(method, url, json=body if body is not None else ({} if method != "GET" else None))
        response: Any
        try:
            response = self._client.send_request(request)
        except HttpResponseError as exc:  # the SDK's pipeline raises for some statuses (404)
            if exc.response is None:
                raise
            response = exc.response
        if response.status_code >= 400:
            text = response.text()
            with suppress(ValueError, KeyError, TypeError):
                text = json.loads(text)["message"]["value"].split("\n")[0] + f" ({json.loads(text)['code']})"
            raise AdminError(response.status_code, text)
        return response.json() if response.text() else None

    @staticmethod
    def app_path(app_id: str, version: str | None = None) -> str:
        path = f"/{quote(app_id, safe='')}"
        return path + (f"/versions/{quote(version, safe='')}" if version is not None else "")

    # -- operations (also used by tests and the quickstart) ----------------------------------
    def create(self, app_id: str, display_name: str | None = None, **extra: Any) -> Any:
        body = {k: v for k, v in {"displayName": display_name, **extra}.items() if v is not None}
        return self.call("PUT", self.app_path(app_id), body)

    def upload(self, app_id: str, version: str, data: bytes, activate: bool = True) -> Any:
        from azure.storage.blob import BlobClient

        package = self.call("PUT", self.app_path(app_id, version))
        with BlobClient.from_blob_url(package["storageUrl"]) as blob:
            blob.upload_blob(data, overwrite=True)
        if activate:
            package = self.call("POST", self.app_path(app_id, version) + "/activate", {"format": "zip"})
        return package


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


@contextmanager
def _client(endpoint: str, name: str, key: str) -> Iterator[AdminClient]:
    client = AdminClient(endpoint, name, key)
    try:
        yield client
    except AdminError as exc:
        console.print(f"[red]{exc.status}[/red] {exc.text}")
        raise typer.Exit(1) from exc
    except OSError as exc:
        console.print(f"[red]cannot reach {endpoint}:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()


@apps.command("create")
def create(
    app_id: str = typer.Argument(..., help="The application id."),
    display_name: str = typer.Option(None, "--display-name", help="Its display name."),
    default_version: str = typer.Option(None, "--default-version", help="The version used when none is given."),
    allow_updates: bool = typer.Option(True, help="Whether active packages can be replaced."),
    endpoint: str = ENDPOINT,
    account_name: str = NAME,
    account_key: str = KEY,
) -> None:
    """Create an application (or update its display name, default version, allowUpdates)."""
    with _client(endpoint, account_name, account_key) as client:
        client.create(app_id, display_name, defaultVersion=default_version, allowUpdates=allow_updates)
    console.print(f"Application [bold]{app_id}[/bold] ready.")


@apps.command("upload")
def upload(
    app_id: str = typer.Argument(..., help="The application id (created when missing)."),
    version: str = typer.Argument(..., help="The package version."),
    package: Path = typer.Argument(..., exists=True, help="A .zip file, or a directory to zip."),
    activate: bool = typer.Option(True, help="Activate the package after the upload."),
    default: bool = typer.Option(False, "--default", help="Make this version the application's default."),
    endpoint: str = ENDPOINT,
    account_name: str = NAME,
    account_key: str = KEY,
) -> None:
    """Upload a package version (to the storageUrl the service hands out), then activate it."""
    data = zip_bytes(package)
    with _client(endpoint, account_name, account_key) as client:
        try:
            client.call("GET", client.app_path(app_id))
        except AdminError as exc:
            if exc.status != 404:
                raise
            client.create(app_id)
        result = client.upload(app_id, version, data, activate)
        if default:
            client.create(app_id, defaultVersion=version)
    console.print(f"{app_id} {version}: {len(data)} bytes uploaded, state [bold]{result.get('state')}[/bold]")


@apps.command("activate")
def activate_cmd(
    app_id: str = typer.Argument(...),
    version: str = typer.Argument(...),
    endpoint: str = ENDPOINT,
    account_name: str = NAME,
    account_key: str = KEY,
) -> None:
    """Activate an uploaded package version."""
    with _client(endpoint, account_name, account_key) as client:
        client.call("POST", client.app_path(app_id, version) + "/activate", {"format": "zip"})
    console.print(f"{app_id} {version}: active")


@apps.command("list")
def list_cmd(
    app_id: str = typer.Argument(None, help="Only this application."),
    endpoint: str = ENDPOINT,
    account_name: str = NAME,
    account_key: str = KEY,
) -> None:
    """List applications and their package versions."""
    with _client(endpoint, account_name, account_key) as client:
        items = [client.call("GET", client.app_path(app_id))] if app_id else client.call("GET", "")["value"]
    table = Table("application", "display name", "default", "version", "state", "activated")
    for item in items:
        versions = item.get("versions") or [{}]
        for v in versions:
            table.add_row(
                item["id"],
                item.get("displayName") or "",
                item.get("defaultVersion") or "",
                v.get("version", ""),
                v.get("state", ""),
                v.get("lastActivationTime", ""),
            )
    console.print(table)


@apps.command("delete")
def delete_cmd(
    app_id: str = typer.Argument(...),
    version: str = typer.Argument(None, help="Only this version (default: the application and all versions)."),
    endpoint: str = ENDPOINT,
    account_name: str = NAME,
    account_key: str = KEY,
) -> None:
    """Delete a package version, or an application with all its versions."""
    with _client(endpoint, account_name, account_key) as client:
        client.call("DELETE", client.app_path(app_id, version))
    console.print(f"Deleted {app_id}" + (f" {version}" if version else ""))
