"""Azurite beside Batchite: find (or install from the npm registry) and start its blob service.

Looks for `azurite-blob` in $BATCHITE_AZURITE_BIN, in .azurite/node_modules/.bin of the current
directory and of the source checkout, then on PATH. Installing runs
`npm install --prefix .azurite azurite@3` (what scripts/azurite does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from batchite.cli.server import free_port, terminate
from batchite.storage.linked import AZURITE_ACCOUNT, AZURITE_BLOB_PORT, azurite_connection_string

AZURITE_PACKAGE = "azurite@3"
CHECKOUT = Path(__file__).resolve().parents[3]  # src/batchite/cli/azurite.py -> the repository


class AzuriteUnavailable(RuntimeError):
    """Azurite is not installed and cannot be (no node/npm), or did not start."""


def _bin(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "azurite-blob"


def find_azurite() -> Path | None:
    explicit = os.environ.get("BATCHITE_AZURITE_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).exists() else None
    for prefix in (Path.cwd() / ".azurite", CHECKOUT / ".azurite"):
        if _bin(prefix).exists():
            return _bin(prefix)
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def install_azurite(prefix: Path | None = None) -> Path:
    """npm install azurite into prefix (default: .azurite of the checkout); returns azurite-blob."""
    prefix = prefix or CHECKOUT / ".azurite"
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        raise AzuriteUnavailable(
            "Azurite is needed for the storage features and is not installed; installing it needs Node.js and npm "
            f"(node: {node or 'missing'}, npm: {npm or 'missing'}). Install Node 20+ and run scripts/azurite."
        )
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", AZURITE_PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not _bin(prefix).exists():
        raise AzuriteUnavailable(f"npm install {AZURITE_PACKAGE} failed:\n{result.stderr[-2000:]}")
    return _bin(prefix)


def azurite_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether a blob service answers on host:port (any HTTP answer counts)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/{AZURITE_ACCOUNT}?comp=list", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class AzuriteServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    location: Path

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.host, self.port)

    def stop(self) -> None:
        terminate(self.process)


def start_azurite(
    location: Path, binary: Path | None = None, port: int | None = None, host: str = "127.0.0.1", timeout: float = 30
) -> AzuriteServer:
    """Start azurite-blob (installing it first when missing) and wait until it answers."""
    binary = binary or find_azurite() or install_azurite()
    if not shutil.which("node"):
        raise AzuriteUnavailable("Azurite runs on Node.js, and `node` is not on PATH; install Node 20+.")
    port = port or free_port()
    location.mkdir(parents=True, exist_ok=True)
    cmd = [str(binary), "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--location", str(location)]
    cmd += ["--blobHost", host, "--blobPort", str(port)]
    log = open(location / "azurite.log", "ab")  # noqa: SIM115 - owned by the child for its lifetime
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (location / "azurite.log").read_text(errors="replace")[-2000:]
            raise AzuriteUnavailable(f"azurite-blob exited with {process.returncode}:\n{text}")
        if azurite_answers(port, host):
            return AzuriteServer(process, host, port, location)
        time.sleep(0.1)
    process.kill()
    raise AzuriteUnavailable(f"azurite-blob did not answer on {host}:{port} within {timeout:.0f}s")


DEFAULT_PORT = AZURITE_BLOB_PORT
