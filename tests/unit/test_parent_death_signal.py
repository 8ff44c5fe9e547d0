"""A Ray actor's node agent dies with its actor by a parent-death signal, which the kernel clears
whenever the thread holding it changes ids: the agent's loop thread does at every spawn, and sets
it again."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

import pytest

PROBE = """
from batchite.agent import launcher
from batchite.agent.credentials import _parent_death_signal, acting_as
with acting_as(65534, 65534):
    pass
after_files = _parent_death_signal()
child = launcher.spawn(["/bin/true"], "/", {}, 1, 2, uid=65534, gid=65534)
child.wait()
print(after_files, _parent_death_signal(), child.returncode)
"""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing ids needs root")
def test_the_signal_is_set_again_after_the_loop_thread_acted_as_a_user_and_spawned_as_one() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], preexec_fn=_die_with_parent, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(int(signal.SIGTERM)), str(int(signal.SIGTERM)), "0"]
