"""What runs inside a Ray actor: one Batch compute node's node agent, on the Ray node the actor
was placed on.

The actor (`NodeHost`, wrapped by `ray.remote` in ray_backend.py, detached and named so it
outlives the service) starts the same node agent process as the local backend, listening on TCP
on the Ray node's address (the service may be on another machine), and reports where. The agent
is the actor's child with a parent-death signal: when the actor dies (killed, or its Ray node
gone), the agent gets SIGTERM and ends the runs it hosts, so nothing of a lost node keeps running
while its tasks are requeued elsewhere. Needs batchite importable on every Ray node.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from batchite.agent.run_journal import kill_recorded_runs
from batchite.compute.agents import START_TIMEOUT, agent_command
from batchite.compute.local import PASS_THROUGH

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()


class NodeHost:
    """A node agent hosted by a Ray actor: started in __init__, reached at `address()`."""

    def __init__(self, directory: str, agent_id: str, token: str, isolation: str, hide: list[str], host: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        args, env = agent_command(self.directory, agent_id, isolation, hide, listen=f"{host}:0")
        with open(self.directory / "agent.log", "ab") as log_file:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=env,
                cwd="/",
                preexec_fn=_die_with_parent,
            )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(token.encode() + b"\n")
        self.process.stdin.close()
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline and not line:
            line = self.process.stdout.readline()
            if self.process.poll() is not None:
                break
        parts = line.split()
        if len(parts) != 3 or parts[0] != b"ready":
            self.process.kill()
            tail = (self.directory / "agent.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the node agent {agent_id} did not start: {tail}")
        self.host, self.port = host, int(parts[2])

    def prepare(self, parent: str, root: str, passable: bool) -> None:
        """The directories above a node's tree, down from `root`; with users of their own the
        pool's users must pass through them (never list them), as the local backend makes them."""
        path = Path(parent)
        path.mkdir(parents=True, exist_ok=True)
        if passable:
            for directory in (path, *path.parents):
                os.chmod(directory, PASS_THROUGH)
                if str(directory) == str(Path(root).parent.parent):
                    break

    def address(self) -> tuple[str, int, int]:
        """(host, port, pid) of the agent; raises when the agent has ended (the node is gone)."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the node agent ended with {self.process.returncode}")
        return self.host, self.port, self.process.pid

    def wait_agent(self, timeout: float) -> bool:
        """Wait until the agent ended (it does once its last node left); whether it did."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def end(self) -> int:
        """End the agent and what it left running (the node is lost); how many runs were ended."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return kill_recorded_runs(self.directory)
