"""Starting a task's process as its user (launcher) and file system work with its rights (credentials),
on real processes and files."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from batchite.agent import launcher
from batchite.agent.credentials import acting_as
from batchite.agent.launcher import Child

T = TypeVar("T")
UID = 200_123
ENV = {"PATH": "/usr/bin:/bin", "ONLY": "this", "SPACED": "a b"}
PROBE = 'id -u; id -g; id -G; pwd; grep -E "^(Uid|Gid|CapEff|CapPrm):" /proc/self/status'
TIMEOUT = 30.0
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def spawner() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1, initializer=launcher.prepare_thread) as pool:
        yield pool


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def on(pool: ThreadPoolExecutor, call: Callable[[], T]) -> T:
    return pool.submit(call).result(timeout=TIMEOUT)


def run(argv: list[str], cwd: Path, out: Path, env: dict[str, str] = ENV, uid: int | None = None) -> int:
    """Spawn argv with stdout and stderr to the file `out`, and wait for it."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        child = launcher.spawn(argv, str(cwd), env, fd, fd, uid, uid)
    finally:
        os.close(fd)
    return child.wait()


def ids() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    return os.getresuid(), os.getresgid()


# -- launcher.spawn ----------------------------------------------------------------------------------


@needs_root
def test_spawn_as_a_user_drops_every_id_and_capability(spawner: ThreadPoolExecutor, tmp_path: Path) -> None:
    cwd, out = tmp_path / "wd", tmp_path / "out.txt"
    cwd.mkdir()
    main_cwd = os.getcwd()

    def call() -> tuple[int, object, str]:
        return run(["/bin/sh", "-c", PROBE], cwd, out, uid=UID), ids(), os.getcwd()

    code, thread_ids, thread_cwd = on(spawner, call)
    assert code == 0, out.read_text()
    lines = out.read_text().splitlines()
    assert lines[:2] == [str(UID), str(UID)]
    assert set(lines[2].split()) == {str(UID), *map(str, os.getgroups())}  # the agent drops its own at start
    assert lines[3] == str(cwd)
    status = {line.split(":")[0]: line.split(":")[1].split() for line in lines[4:]}
    assert status["Uid"] == [str(UID)] * 4  # real, effective, saved, file system
    assert status["Gid"] == [str(UID)] * 4
    assert int(status["CapEff"][0], 16) == 0
    assert int(status["CapPrm"][0], 16) == 0
    assert thread_ids == ((0, 0, 0), (0, 0, 0))  # the spawning thread is root again
    assert thread_cwd == str(cwd)  # the spawning thread's own working directory...
    assert os.getcwd() == main_cwd  # ...not the process's
    assert ids() == ((0, 0, 0), (0, 0, 0))


@needs_root
def test_gid_defaults_to_the_uid(spawner: ThreadPoolExecutor, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"

    def call() -> int:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
        child = launcher.spawn(["/usr/bin/id", "-g"], str(tmp_path), ENV, fd, fd, uid=UID)
        os.close(fd)
        return child.wait()

    assert on(spawner, call) == 0
    assert out.read_text().split() == [str(UID)]


@pytest.mark.parametrize("uid", [None, pytest.param(UID, marks=needs_root)])
def test_env_is_exactly_what_was_passed(spawner: ThreadPoolExecutor, tmp_path: Path, uid: int | None) -> None:
    out = tmp_path / "out.txt"
    assert on(spawner, lambda: run(["/usr/bin/env"], tmp_path, out, uid=uid)) == 0
    assert sorted(out.read_text().splitlines()) == sorted(f"{k}={v}" for k, v in ENV.items())


def test_spawn_without_uid_runs_as_the_current_user(spawner: ThreadPoolExecutor, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    assert on(spawner, lambda: run(["/bin/sh", "-c", "id -u; id -g; pwd"], tmp_path, out)) == 0
    assert out.read_text().split() == [str(os.geteuid()), str(os.getegid()), str(tmp_path)]


@pytest.mark.parametrize("uid", [None, pytest.param(UID, marks=needs_root)])
def test_spawn_from_an_unprepared_thread_falls_back(tmp_path: Path, uid: int | None) -> None:
    out = tmp_path / "out.txt"
    main_cwd = os.getcwd()
    assert run(["/bin/sh", "-c", "id -u; id -G; pwd"], tmp_path, out, uid=uid) == 0
    expected = str(os.geteuid()) if uid is None else str(uid)
    lines = out.read_text().splitlines()
    assert lines[0] == expected
    if uid is not None:
        assert lines[1] == str(uid)  # its only group is the pool's
    assert lines[2] == str(tmp_path)
    assert os.getcwd() == main_cwd


def exit_code_cases(spawn: Callable[[list[str]], Child]) -> None:
    child = spawn(["/bin/sh", "-c", "exit 3"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    assert child.poll() == 3
    assert child.wait() == 3
    assert child.poll() == 3
    child = spawn(["/bin/sleep", "60"])
    assert child.poll() is None
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert child.poll() == -9


def spawn_quietly(argv: list[str]) -> Child:
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        return launcher.spawn(argv, "/", ENV, fd, fd)
    finally:
        os.close(fd)


def test_child_reports_exit_codes_and_signals(spawner: ThreadPoolExecutor) -> None:
    on(spawner, lambda: exit_code_cases(spawn_quietly))


def test_child_of_the_fallback_reports_exit_codes_and_signals() -> None:
    exit_code_cases(spawn_quietly)


def test_child_is_the_leader_of_a_session_of_its_own(spawner: ThreadPoolExecutor) -> None:
    child = on(spawner, lambda: spawn_quietly(["/bin/sleep", "60"]))
    try:
        assert os.getsid(child.pid) == child.pid
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


@pytest.mark.parametrize("uid", [None, pytest.param(UID, marks=needs_root)])
def test_a_missing_program(spawner: ThreadPoolExecutor, tmp_path: Path, uid: int | None) -> None:
    before = ids()

    def call() -> object:
        with pytest.raises(FileNotFoundError):
            run(["/nonexistent/program"], tmp_path, tmp_path / "out.txt", uid=uid)
        return ids()

    assert on(spawner, call) == before  # the spawning thread got its own ids back
    with pytest.raises(FileNotFoundError):  # the fallback too
        run(["/nonexistent/program"], tmp_path, tmp_path / "out.txt", uid=uid)
    assert ids() == before


# -- credentials.acting_as ---------------------------------------------------------------------------


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory anyone may enter and write (tmp_path's parents are root's only)."""
    path = Path(tempfile.mkdtemp(prefix="batchite-creds-"))
    path.chmod(0o777)
    (path / "secret").write_text("root only")
    (path / "secret").chmod(0o600)
    (path / "public").write_text("anyone")
    (path / "public").chmod(0o644)
    yield path
    shutil.rmtree(path)


def fsuid() -> int:
    """This thread's file system uid (the fourth Uid column of /proc/thread-self/status)."""
    status = Path("/proc/thread-self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("Uid:")).split()[4])


def readable(path: Path) -> bool:
    try:
        path.read_text()
    except PermissionError:
        return False
    return True


@needs_root
def test_acting_as_checks_access_as_the_user(worker: ThreadPoolExecutor, shared: Path) -> None:
    def call() -> list[object]:
        seen: list[object] = []
        with acting_as(UID, UID):
            seen += [readable(shared / "secret"), readable(shared / "public"), fsuid()]
            (shared / "made").write_text("x")
        seen += [readable(shared / "secret"), fsuid()]
        return seen

    assert on(worker, call) == [False, True, UID, True, 0]
    made = (shared / "made").stat()
    assert (made.st_uid, made.st_gid) == (UID, UID)


@needs_root
def test_acting_as_gid_defaults_to_the_uid(worker: ThreadPoolExecutor, shared: Path) -> None:
    def call() -> None:
        with acting_as(UID, None):
            (shared / "made").write_text("x")

    on(worker, call)
    assert (shared / "made").stat().st_gid == UID


@needs_root
def test_acting_as_restores_root_after_an_exception(worker: ThreadPoolExecutor, shared: Path) -> None:
    def call() -> tuple[int, bool]:
        with pytest.raises(PermissionError), acting_as(UID, UID):
            (shared / "secret").read_text()
        return fsuid(), readable(shared / "secret")

    assert on(worker, call) == (0, True)


@needs_root
def test_acting_as_is_per_thread(worker: ThreadPoolExecutor, shared: Path) -> None:
    inside, leave = threading.Event(), threading.Event()

    def call() -> int:
        with acting_as(UID, UID):
            inside.set()
            assert leave.wait(TIMEOUT)
            return fsuid()

    future = worker.submit(call)
    assert inside.wait(TIMEOUT)
    try:
        assert fsuid() == 0
        assert readable(shared / "secret")
    finally:
        leave.set()
    assert future.result(TIMEOUT) == UID


def test_acting_as_none_is_a_no_op(worker: ThreadPoolExecutor, shared: Path) -> None:
    def call() -> tuple[bool, int]:
        with acting_as(None, None):
            (shared / "made").write_text("x")
            return readable(shared / "secret"), fsuid()

    assert on(worker, call) == (True, os.geteuid())
    assert (shared / "made").stat().st_uid == os.geteuid()
