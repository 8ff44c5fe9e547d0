"""Start a Batchite server as a child process on a free port and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(endpoint: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/_batchite/health", timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class ChildServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_child_server(data_dir: Path | None = None, extra_args: list[str] | None = None) -> ChildServer:
    port = free_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="batchite-"))
    cmd = [sys.executable, "-m", "batchite.cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        cmd + (extra_args or []), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ)
    )
    endpoint = f"http://127.0.0.1:{port}"
    if not wait_healthy(endpoint):
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"batchite did not start on {endpoint}: {err[-2000:]}")
    return ChildServer(endpoint, proc, data_dir)
