"""Start a Batchite server as a child process on a free port and wait until it answers."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def terminate(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """End a child process: SIGTERM, then SIGKILL if it has not gone within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wait_healthy(endpoint: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> bool:
    """The data plane answers its health probe (over HTTPS: its certificate not checked); False
    after `timeout`, or at once when `process` (the server) has ended."""
    context = unverified_tls() if endpoint.startswith("https:") else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            with urllib.request.urlopen(f"{endpoint}/_batchite/health", timeout=1, context=context) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_mgmt_healthy(endpoint: str, timeout: float = 30.0) -> bool:
    """The management plane answers its OpenID configuration over HTTPS (its certificate not checked)."""
    from batchite.mgmt.tokens import DEV_TENANT_ID

    context = unverified_tls()
    url = f"{endpoint}/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as resp:
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
    mgmt_endpoint: str | None = None  # https://127.0.0.1:PORT when the management plane is served
    https_endpoint: str | None = None  # https://127.0.0.1:PORT when the data plane is served over HTTPS too

    @property
    def ca_path(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def stop(self) -> None:
        terminate(self.process)


def start_child_server(
    data_dir: Path | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    mgmt_port: int | None = None,
    https_port: int | None = None,
) -> ChildServer:
    """env: variables added to (or, with value "", removed from) this process's environment;
    port: the port to listen on (a restart on the same one), else a free one;
    mgmt_port: serve the management plane there (0: on a free port); None: not at all;
    https_port: serve the data plane over HTTPS there too (0: on a free port); None: only with the
    management plane (on a free port)."""
    taken: set[int] = {p for p in (port, mgmt_port, https_port) if p}

    def another_port() -> int:
        """A free port none of the others is (the system may hand out a port just freed again)."""
        found = free_port()
        while found in taken:
            found = free_port()
        taken.add(found)
        return found

    port = port or another_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="batchite-"))
    cmd = [sys.executable, "-m", "batchite.cli.main", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if mgmt_port == 0:
        mgmt_port = another_port()
    cmd += ["--mgmt-port", str(mgmt_port or 0)]
    if https_port == 0 or (https_port is None and mgmt_port):
        https_port = another_port()
    cmd += ["--https-port", str(https_port or 0)]
    if "--keep-agents" in (extra_args or []):  # the agents outlive this server (restart tests)
        extra_args = [a for a in extra_args or [] if a != "--keep-agents"]
    else:
        cmd.append("--stop-agents")
    child_env = dict(os.environ)
    for name, value in (env or {}).items():
        if value:
            child_env[name] = value
        else:
            child_env.pop(name, None)
    # The log goes to a file: a pipe nobody reads would block the server once it filled up.
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd + (extra_args or []), stdout=subprocess.DEVNULL, stderr=log, env=child_env)
    endpoint = f"http://127.0.0.1:{port}"
    mgmt_endpoint = f"https://127.0.0.1:{mgmt_port}" if mgmt_port else None
    https_endpoint = f"https://127.0.0.1:{https_port}" if https_port else None
    answering = [
        (endpoint, lambda: wait_healthy(endpoint, process=proc)),
        (mgmt_endpoint, lambda: wait_mgmt_healthy(mgmt_endpoint or "")),
        (https_endpoint, lambda: wait_healthy(https_endpoint or "", process=proc)),
    ]
    for where, answers in answering:
        if where and not answers():
            proc.kill()
            proc.wait()
            err = log_path.read_text(errors="replace")
            raise RuntimeError(f"batchite did not start on {where}: {err[-2000:]}")
    return ChildServer(endpoint, proc, data_dir, mgmt_endpoint, https_endpoint)
