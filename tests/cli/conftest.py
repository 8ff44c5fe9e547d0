"""`az batch` (azure-cli 2.91.0, from .venv-az, built by scripts/azure-cli) run as a subprocess
against the tests' Batchite server, offline: its own config directory, no telemetry, JSON output,
the development account's key and endpoint in the AZURE_BATCH_* variables."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from batchite.cli.server import ChildServer
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
AZ = REPO_ROOT / ".venv-az" / "bin" / "az"
AZ_TIMEOUT = 180.0  # one az call; a hang fails the test instead of the suite


class AzResult(NamedTuple):
    """What one `az` call gave: its exit code, stdout parsed as JSON (or the text when it is not
    JSON, None when empty) and stderr."""

    returncode: int
    out: Any
    stderr: str


Az = Callable[..., AzResult]


def az_environment(endpoint: str, config_dir: Path) -> dict[str, str]:
    """The environment that keeps az offline and on the development account (the README shows it)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config_dir),
        "LANG": "C.UTF-8",
        "AZURE_CONFIG_DIR": str(config_dir),
        "AZURE_CORE_COLLECT_TELEMETRY": "0",
        "AZURE_CORE_OUTPUT": "json",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "1",
        "AZURE_CORE_NO_COLOR": "1",
        "AZURE_CORE_SURVEY_MESSAGE": "0",
        "AZURE_BATCH_ACCOUNT": DEV_ACCOUNT_NAME,
        "AZURE_BATCH_ACCESS_KEY": DEV_ACCOUNT_KEY,
        "AZURE_BATCH_ENDPOINT": endpoint,
    }
    return env


def _parse(stdout: str) -> Any:
    text = stdout.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@pytest.fixture(scope="session")
def az_env(server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not AZ.is_file():
        pytest.fail(f"{AZ} is missing: run `bash scripts/azure-cli` (the test command installs it)", pytrace=False)
    return az_environment(server.endpoint, tmp_path_factory.mktemp("azure-config"))


@pytest.fixture(scope="session")
def az(az_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Az]:
    """az(*args, cwd=None): runs `az ARGS...` and returns (returncode, parsed JSON or text, stderr)."""
    workdir = tmp_path_factory.mktemp("az-cwd")

    def run(*args: str, cwd: Path | None = None) -> AzResult:
        proc = subprocess.run(
            [str(AZ), *args],
            env=az_env,
            cwd=cwd or workdir,
            capture_output=True,
            text=True,
            timeout=AZ_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return AzResult(proc.returncode, _parse(proc.stdout), proc.stderr)

    yield run


def ok(result: AzResult) -> Any:
    """The JSON of a call that must succeed (exit 0, nothing on stderr but warnings)."""
    assert result.returncode == 0, f"az exited {result.returncode}: {result.stderr}"
    return result.out
