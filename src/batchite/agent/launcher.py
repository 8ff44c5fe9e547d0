"""Starting a task's process as its user, at the cost of starting any process.

subprocess.Popen with `user=`/`group=` cannot use vfork and forks the whole agent instead: 1.3 ms
a process against 0.6 ms (measured on the 2-core CI machines). So the agent spawns with
posix_spawn (a vfork and exec) from a thread of its own whose *real* ids are the task user's for
the moment of the call (setresuid/setresgid as raw system calls: per thread, where the C library's
wrappers would change every thread), its effective ids staying root's. POSIX_SPAWN_RESETIDS makes
the child take the real ids as its effective ones before it executes the program, and execve then
copies them to the saved ids: the task holds no root id and no capability. The threads that spawn
have a working directory and umask of their own (unshare(CLONE_FS)), so the child starts in its
working directory without a shell. The agent holds no supplementary groups
(credentials.drop_supplementary_groups); the child's only group is the pool's.

Where the system calls are not known (an architecture other than x86-64 and arm64), or the agent
is not root, it falls back to subprocess.Popen.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from batchite.agent.credentials import restore_parent_death_signal

_SYSCALLS = {"x86_64": (117, 119), "aarch64": (147, 149)}  # setresuid, setresgid
_CLONE_FS = 0x200
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_numbers = _SYSCALLS.get(platform.machine())
_thread_state = threading.local()  # .own: this thread has a working directory of its own


def _raw(number: int, real: int, effective: int, saved: int) -> None:
    if _libc.syscall(ctypes.c_long(number), ctypes.c_long(real), ctypes.c_long(effective), ctypes.c_long(saved)):
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def prepare_thread() -> None:
    """The initializer of a spawning thread: a working directory and umask of its own."""
    _thread_state.own = _numbers is not None and _libc.unshare(ctypes.c_int(_CLONE_FS)) == 0


def _own_directory() -> bool:
    return bool(getattr(_thread_state, "own", False))


@dataclass
class Child:
    """A started process: its pid (the leader of a session of its own) and, once reaped, its status
    and resource usage (`usage`: its own and that of the descendants it waited for, from wait4)."""

    pid: int
    returncode: int | None = None
    usage: Usage | None = None
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self._reap(0)
        assert self.returncode is not None
        return self.returncode

    def _reap(self, flags: int) -> None:
        try:
            pid, status, usage = os.wait4(self.pid, flags)
        except ChildProcessError:
            if self._popen is not None and self._popen.returncode is not None:
                self.returncode = self._popen.returncode
            else:
                self.returncode = -signal.SIGKILL  # reaped elsewhere: report it as killed
            return
        if pid == 0:
            return
        self.returncode = os.waitstatus_to_exitcode(status)
        self.usage = Usage(
            user_cpu_seconds=usage.ru_utime,
            kernel_cpu_seconds=usage.ru_stime,
            read_blocks=usage.ru_inblock,
            write_blocks=usage.ru_oublock,
        )
        if self._popen is not None:
            self._popen.returncode = self.returncode  # reaped here: Popen must not wait for it


@dataclass
class Usage:
    """What a reaped process used: CPU seconds, and its file system block operations (512 bytes each)."""

    user_cpu_seconds: float = 0.0
    kernel_cpu_seconds: float = 0.0
    read_blocks: int = 0
    write_blocks: int = 0


def spawn(
    argv: Sequence[str],
    cwd: str,
    env: dict[str, str],
    stdout: int,
    stderr: int,
    uid: int | None = None,
    gid: int | None = None,
) -> Child:
    """Start argv (argv[0] an absolute path) in cwd with exactly env, stdin /dev/null, in a session of
    its own; as uid/gid when given. Raises OSError as execve would (ENOENT, EACCES)."""
    switch = uid is not None and os.geteuid() == 0
    if switch and _numbers is None:
        return _popen(argv, cwd, env, stdout, stderr, uid, gid)
    if _own_directory():
        os.chdir(cwd)
        return _spawn_in_place(argv, env, stdout, stderr, uid, gid, switch)
    home = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(cwd)
        try:
            return _spawn_in_place(argv, env, stdout, stderr, uid, gid, switch)
        finally:
            os.fchdir(home)
    finally:
        os.close(home)


def _spawn_in_place(
    argv: Sequence[str], env: dict[str, str], stdout: int, stderr: int, uid: int | None, gid: int | None, switch: bool
) -> Child:
    """posix_spawn in the current working directory (see spawn)."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, stderr, 2),
    ]
    if not switch:
        pid = os.posix_spawn(argv[0], list(argv), env, file_actions=actions, setsid=True, setsigdef=_DEFAULT_SIGNALS)
        return Child(pid)
    assert _numbers is not None and uid is not None
    set_uid, set_gid = _numbers
    group = gid if gid is not None else uid
    _raw(set_gid, group, 0, 0)
    try:
        _raw(set_uid, uid, 0, 0)
        try:
            pid = os.posix_spawn(
                argv[0],
                list(argv),
                env,
                file_actions=actions,
                setsid=True,
                resetids=True,
                setsigdef=_DEFAULT_SIGNALS,
            )
        finally:
            _restore(set_uid)
    finally:
        _restore(set_gid)
        restore_parent_death_signal()
    return Child(pid)


def _restore(number: int) -> None:
    try:
        _raw(number, 0, 0, 0)
    except OSError:  # pragma: no cover - a thread left with a task's ids must not go on
        os._exit(70)


def _popen(
    argv: Sequence[str], cwd: str, env: dict[str, str], stdout: int, stderr: int, uid: int | None, gid: int | None
) -> Child:
    ids: dict[str, object] = {}
    if uid is not None and os.geteuid() == 0:
        ids = {"user": uid, "group": gid, "extra_groups": [gid] if gid is not None else []}
    popen = subprocess.Popen(  # type: ignore[call-overload]
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        close_fds=True,
        **ids,
    )
    return Child(popen.pid, _popen=popen)
