"""File system work done on a task's behalf, with the task user's rights.

The agent runs as root, but what it writes into a task's directory (resource files, stdout.txt and
stderr.txt) and what it reads from there (output files) is the task's: a task may have planted a
symlink to anything. So that work runs on a thread whose file system uid and gid (setfsuid(2),
setfsgid(2): per thread, unlike setuid) are the task user's. The kernel then checks every path,
symlinks included, against that user's rights, and drops the capabilities that override them;
what the thread creates belongs to the user. The agent drops its supplementary groups at start
(`drop_supplementary_groups`), so a root group grants nothing either.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_PR_SET_PDEATHSIG, _PR_GET_PDEATHSIG = 1, 2


def _parent_death_signal() -> int:
    found = ctypes.c_int(0)
    _libc.prctl(_PR_GET_PDEATHSIG, ctypes.byref(found))
    return found.value


# The signal this process gets when its parent dies (a Ray actor's agent: SIGTERM), and that parent.
# The kernel clears it whenever the thread holding it changes a user or group id, as the agent's
# event loop thread does for a moment at every spawn: `restore_parent_death_signal` sets it again.
_DEATH_SIGNAL = _parent_death_signal()
_PARENT = os.getppid()


def restore_parent_death_signal() -> None:
    """After the main thread changed ids: the parent-death signal set again; if the parent died in
    between, the signal is raised now."""
    if not _DEATH_SIGNAL or threading.current_thread() is not threading.main_thread():
        return
    _libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(_DEATH_SIGNAL))
    if os.getppid() != _PARENT:
        signal.raise_signal(_DEATH_SIGNAL)


def _set(call: ctypes._NamedFuncPointer, wanted: int) -> None:
    call(wanted)
    current = call(-1)  # an invalid id changes nothing and returns the current one
    if current != wanted:
        raise PermissionError(f"could not switch the file system id to {wanted} (it is {current})")


@contextmanager
def acting_as(uid: int | None, gid: int | None) -> Iterator[None]:
    """Within the block, this thread's file system accesses are checked as `uid`/`gid`'s.

    A no-op when `uid` is None or the process is not root (then the process's own rights apply)."""
    if uid is None or os.geteuid() != 0:
        yield
        return
    group = gid if gid is not None else uid
    _set(_libc.setfsgid, group)
    try:
        _set(_libc.setfsuid, uid)
        try:
            yield
        finally:
            _set(_libc.setfsuid, 0)
    finally:
        _set(_libc.setfsgid, 0)
        restore_parent_death_signal()


def drop_supplementary_groups() -> None:
    """Root's supplementary groups would give the threads acting for tasks their group's rights."""
    if os.geteuid() == 0:
        os.setgroups([])
