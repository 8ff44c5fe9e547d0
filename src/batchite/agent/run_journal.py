"""Where an agent's processes are, on disk: if the agent dies, they can be found and ended.

One append-only file (`runs.log` in the agent's directory): a line when a run's process starts
(`+ run_id pid start_time`) and one when it ends (`- run_id`). A file per run, created and removed,
cost an inode each, and ext4 then searches its recently freed inodes on every later creation (the
task directories, stdout.txt): at 1,000 tasks a second that search took a third of the agent's time.
The journal is rewritten with only the live runs once the ended ones outnumber them (and 1,000).
A line cut short by a crash is skipped when read.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from batchite.agent.container_tasks import remove_agent_containers

JOURNAL = "runs.log"
_LEGACY_DIR = "runs"  # a file per run, as agents before the journal kept them
_COMPACT_AFTER = 1_000


class RunJournal:
    """The live runs of one agent, kept in `directory/runs.log`. Used from one thread."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / JOURNAL
        self.live: dict[str, str] = {}  # run id -> "pid start_time"
        self._ended = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.live = _read(self.path)
        self._fd = -1
        self._rewrite()

    def started(self, run_id: str, pid: int) -> None:
        entry = f"{pid} {process_start_time(pid)}"
        self.live[run_id] = entry
        self._append(f"+ {run_id} {entry}\n")

    def ended(self, run_id: str) -> None:
        if self.live.pop(run_id, None) is None:
            return
        self._append(f"- {run_id}\n")
        self._ended += 1
        if self._ended > max(_COMPACT_AFTER, 2 * len(self.live)):
            self._rewrite()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _append(self, line: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self._fd, line.encode())

    def _rewrite(self) -> None:
        """The live runs alone, in a new file put in place atomically."""
        tmp = self.path.with_name(JOURNAL + ".tmp")
        text = "".join(f"+ {run_id} {entry}\n" for run_id, entry in self.live.items())
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
            os.write(fd, text.encode())
            os.replace(tmp, self.path)
            self.close()
            self._fd = fd
            self._ended = 0


def _read(path: Path) -> dict[str, str]:
    live: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return live
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "+":
            live[parts[1]] = f"{parts[2]} {parts[3]}"
        elif len(parts) == 2 and parts[0] == "-":
            live.pop(parts[1], None)
    return live


def process_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): with the
    pid, it names the process even after pids wrap around."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return "0"
    return text.rsplit(b")", 1)[1].split()[19].decode()


def _kill(entry: str) -> bool:
    try:
        pid_text, start = entry.split()
        pid = int(pid_text)
    except ValueError:
        return False
    if process_start_time(pid) != start:  # not that process any more: a later one with its pid
        return False
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_recorded_runs(state_dir: Path) -> int:
    """End the processes an agent that is gone left running (from its journal, and from the run
    files of an agent from before the journal); how many. The records are removed."""
    remove_agent_containers(state_dir)  # its containers, too (the engine keeps them running)
    killed = sum(_kill(entry) for entry in _read(state_dir / JOURNAL).values())
    with contextlib.suppress(OSError):
        (state_dir / JOURNAL).unlink()
    for run_file in (state_dir / _LEGACY_DIR).glob("*"):
        with contextlib.suppress(OSError):
            killed += _kill(run_file.read_text())
            run_file.unlink()
    return killed
