"""What `submit`, `watch` and `logs` share: the account options (as `az batch` reads them), the
client, the exit codes, and how a refusal of the service is told."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from batchite.settings import DEFAULT_PORT

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3

ENDPOINT = typer.Option(
    f"http://127.0.0.1:{DEFAULT_PORT}", "--endpoint", envvar="AZURE_BATCH_ENDPOINT", help="The Batch account endpoint."
)
ACCOUNT_NAME = typer.Option(DEV_ACCOUNT_NAME, "--account-name", envvar="AZURE_BATCH_ACCOUNT", help="The account name.")
ACCOUNT_KEY = typer.Option(
    DEV_ACCOUNT_KEY, "--account-key", envvar="AZURE_BATCH_ACCESS_KEY", help="The account key.", show_default=False
)

errors = Console(stderr=True)


def make_client(endpoint: str, account_name: str, account_key: str) -> Any:
    """A BatchClient with SharedKey; an endpoint without a scheme is https, as az takes it."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    # the SDK logs a traceback when an error's body was not read (a streamed download): not for users
    logging.getLogger("azure.batch._utils.model_base").setLevel(logging.ERROR)
    if "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    credential = AzureNamedKeyCredential(account_name, account_key)
    # a busy service's 503 is retried as the SDK does; no service at all is said at once
    return BatchClient(endpoint=endpoint.rstrip("/"), credential=credential, retry_connect=0)


def error_code(exc: BaseException) -> str | None:
    error = getattr(exc, "error", None)
    return getattr(error, "code", None)


def describe(exc: BaseException) -> str:
    """A service error as `Code: message`; anything else (no connection) as its own message."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError) and exc.error is not None and exc.error.code:
        message = exc.error.message
        if isinstance(message, dict):  # Batch's {"lang": ..., "value": ...}
            message = message.get("value", message)
        return f"{exc.error.code}: {message}"
    storage_code = getattr(exc, "error_code", None)  # azure-storage-blob's (a container sweep's listing)
    if isinstance(exc, HttpResponseError) and storage_code:
        return f"{storage_code}: {str(exc.message).splitlines()[0]}"
    if isinstance(exc, HttpResponseError) and exc.status_code:
        return f"HTTP {exc.status_code}: {exc.reason}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the SDK's errors (an error answer, no connection) into exit code 3 with the reason."""
    from azure.core.exceptions import AzureError, ServiceRequestError

    try:
        yield
    except ServiceRequestError as exc:  # nothing answered: no connection, no such host
        errors.print(f"[red]Cannot reach the service:[/red] {escape(describe(exc))}", highlight=False)
        raise typer.Exit(EXIT_REFUSED) from exc
    except AzureError as exc:
        errors.print(f"[red]The service refused:[/red] {escape(describe(exc))}", highlight=False)
        raise typer.Exit(EXIT_REFUSED) from exc


def text(value: Any) -> str:
    """An SDK enum member (or a plain string the SDK kept) as the service spells it."""
    return str(getattr(value, "value", value))
