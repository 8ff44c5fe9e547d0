"""`batchite serve` says at start which engine runs container tasks, or why none does."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from batchite.cli.server import free_port

pytestmark = pytest.mark.e2e


def _banner_line(data_dir: Path, *extra: str) -> str:
    cmd = [sys.executable, "-m", "batchite.cli.main", "serve", "--port", str(free_port())]
    cmd += ["--data-dir", str(data_dir), "--mgmt-port", "0", "--https-port", "0", *extra]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as serve:
        try:
            assert serve.stdout is not None
            for line in serve.stdout:  # the banner comes before the service answers
                if "container tasks:" in line:
                    return line.strip()
            raise AssertionError("no container tasks line")
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)


def test_the_banner_names_the_engine(containers_conf: Path, tmp_path: Path) -> None:
    assert _banner_line(tmp_path).startswith("container tasks: podman ")


def test_the_banner_says_why_there_is_none(tmp_path: Path) -> None:
    line = _banner_line(tmp_path, "--container-engine", "none")
    assert line == "container tasks: unavailable (turned off by --container-engine none)"
