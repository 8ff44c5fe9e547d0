"""`batchite az-setup`: point the Azure CLI at Batchite's management plane, or (`--undo`) back.

It registers Batchite as a custom cloud (`az cloud register --cloud-config`, every endpoint
given, so discovery from the server's `/metadata/endpoints` is skipped), selects it, turns MSAL's instance
discovery off (`core.instance_discovery false`, as for Azure Stack) and signs in with the
development service principal (`az login --service-principal`). `az` runs with the caller's
environment (so their `AZURE_CONFIG_DIR`), with `REQUESTS_CA_BUNDLE` naming a bundle of the
management plane's CA and the bundle the caller trusted before (`DATA_DIR/tls/az-ca-bundle.pem`):
az must trust that CA for every later command too, so the command prints the `export` line to keep.

The cloud's endpoints: `resourceManager` is the management plane, `activeDirectory` its token
issuer (the same server: tokens come from `<endpoint>/<tenant>/oauth2/v2.0/token`), and the
resource ids are Azure's public ones (`https://management.core.windows.net/`,
`https://batch.core.windows.net/`), which the issuer takes as audiences.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from batchite.mgmt.metadata import BATCH_RESOURCE, CLOUD_NAME, MANAGEMENT_RESOURCE, STORAGE_SUFFIX
from batchite.mgmt.tls import CA_FILE
from batchite.mgmt.tokens import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_TENANT_ID
from batchite.settings import DEFAULT_MGMT_PORT

PUBLIC_CLOUD = "AzureCloud"
console = Console()
errors = Console(stderr=True)


@dataclass(frozen=True)
class AzTarget:
    """What the CLI is pointed at: the management plane's endpoint and the service principal."""

    mgmt_endpoint: str
    cloud_name: str = CLOUD_NAME
    tenant: str = DEV_TENANT_ID
    client_id: str = DEV_CLIENT_ID
    client_secret: str = DEV_CLIENT_SECRET


def cloud_config(target: AzTarget) -> dict[str, dict[str, str]]:
    """The `--cloud-config` JSON: every endpoint the CLI's core, login and batch commands read."""
    base = target.mgmt_endpoint.rstrip("/")
    return {
        "endpoints": {
            "resourceManager": f"{base}/",
            "management": MANAGEMENT_RESOURCE,
            "activeDirectory": base,
            "activeDirectoryResourceId": MANAGEMENT_RESOURCE,
            "batchResourceId": BATCH_RESOURCE,
        },
        "suffixes": {"storageEndpoint": STORAGE_SUFFIX},
    }


def setup_commands(target: AzTarget, registered: bool) -> list[list[str]]:
    """The az arguments that register (or, when already registered, update) the cloud, select it,
    turn instance discovery off and sign in."""
    config = json.dumps(cloud_config(target))
    register = "update" if registered else "register"
    return [
        ["cloud", register, "--name", target.cloud_name, "--skip-endpoint-discovery", "--cloud-config", config],
        ["cloud", "set", "--name", target.cloud_name],
        ["config", "set", "core.instance_discovery=false", "--only-show-errors"],
        [
            "login",
            "--service-principal",
            "--username",
            target.client_id,
            "--password",
            target.client_secret,
            "--tenant",
            target.tenant,
            "--output",
            "none",
        ],
    ]


def undo_commands(cloud_name: str = CLOUD_NAME) -> list[list[str]]:
    """Back to Azure's public cloud, then forget Batchite's (az refuses to unregister the active cloud)."""
    return [
        ["cloud", "set", "--name", PUBLIC_CLOUD],
        ["cloud", "unregister", "--name", cloud_name],
        ["config", "unset", "core.instance_discovery", "--only-show-errors"],
    ]


def find_az(explicit: str = "") -> str:
    """`--az`, else `az` on PATH, else the repository's `.venv-az/bin/az`, else the one next to Python."""
    if explicit:
        return explicit
    on_path = shutil.which("az")
    if on_path:
        return on_path
    for candidate in (Path(".venv-az") / "bin" / "az", Path(sys.prefix).parent / ".venv-az" / "bin" / "az"):
        if candidate.is_file():
            return str(candidate)
    return "az"


def trust_bundle(ca: Path, current: str = "") -> Path:
    """`az-ca-bundle.pem` next to the CA: the CA, then the bundle requests used so far (the caller's
    `REQUESTS_CA_BUNDLE`, else certifi's), so that az trusts Batchite and still trusts the rest."""
    parts = [ca.read_text()]
    existing = Path(current) if current else None
    if existing is None:
        try:
            import certifi

            existing = Path(certifi.where())
        except ImportError:
            existing = None
    if existing is not None and existing.is_file() and existing.resolve() != ca.resolve():
        parts.append(existing.read_text())
    bundle = ca.parent / "az-ca-bundle.pem"
    bundle.write_text("\n".join(part.rstrip("\n") + "\n" for part in parts))
    return bundle


def az_environment(ca: Path) -> dict[str, str]:
    """The caller's environment with `REQUESTS_CA_BUNDLE` trusting the management plane's CA too."""
    env = dict(os.environ)
    if ca.is_file():
        env["REQUESTS_CA_BUNDLE"] = str(trust_bundle(ca, env.get("REQUESTS_CA_BUNDLE", "")))
    env.setdefault("AZURE_CORE_COLLECT_TELEMETRY", "false")
    return env


def _run(az: str, args: list[str], env: dict[str, str], secret: str) -> subprocess.CompletedProcess[str]:
    shown = " ".join("***" if a == secret else a for a in args)
    console.print(f"[dim]az {shown}[/dim]")
    try:
        return subprocess.run([az, *args], env=env, capture_output=True, text=True, check=False, timeout=300)
    except FileNotFoundError as exc:
        errors.print(f"[red]No Azure CLI at {az!r}[/red] (pass --az, or put az on PATH)")
        raise typer.Exit(2) from exc


def _registered(az: str, env: dict[str, str], name: str) -> bool:
    listed = subprocess.run(
        [az, "cloud", "list", "--query", "[].name", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if listed.returncode != 0:
        return False
    try:
        names = json.loads(listed.stdout or "[]")
    except json.JSONDecodeError:
        return False
    return isinstance(names, list) and name in names


def az_setup(
    mgmt_endpoint: str = typer.Option(
        f"https://127.0.0.1:{DEFAULT_MGMT_PORT}", "--mgmt-endpoint", help="The management plane's endpoint."
    ),
    ca: Path = typer.Option(
        Path(".batchite") / "tls" / CA_FILE, "--ca", help="Its CA (the server's DATA_DIR/tls/ca.pem)."
    ),
    az: str = typer.Option("", "--az", help="The az to run (default: az on PATH, else .venv-az/bin/az)."),
    cloud_name: str = typer.Option(CLOUD_NAME, "--cloud-name", help="The custom cloud's name."),
    undo: bool = typer.Option(False, "--undo", help="Switch back to AzureCloud and unregister the cloud."),
) -> None:
    """Register Batchite as an Azure CLI cloud and sign in with the development service principal."""
    program = find_az(az)
    env = az_environment(ca.resolve())
    target = AzTarget(mgmt_endpoint=mgmt_endpoint, cloud_name=cloud_name)
    if undo:
        commands = undo_commands(cloud_name)
    else:
        if not ca.is_file():
            errors.print(f"[red]No CA at {ca}[/red]: start `batchite serve` first, or pass the server's --ca")
            raise typer.Exit(2)
        commands = setup_commands(target, _registered(program, env, cloud_name))
    for args in commands:
        done = _run(program, args, env, target.client_secret)
        if done.returncode != 0:
            if undo and args[:2] == ["config", "unset"]:
                continue  # nothing was set
            errors.print(done.stderr.strip() or done.stdout.strip())
            raise typer.Exit(1)
    if undo:
        console.print(f"az uses {PUBLIC_CLOUD} again; the cloud {cloud_name} is unregistered.")
        return
    console.print(f"az is signed in to {cloud_name} at {mgmt_endpoint}. Keep az trusting its CA in this shell:")
    print(f"export REQUESTS_CA_BUNDLE={env['REQUESTS_CA_BUNDLE']}")
