"""safe_files.Tree on a real filesystem, against a hostile task: traversal, symlinks (at the end, in the
middle, swapped in by a racing thread), FIFOs, hard links to files outside, deletes, listings and ranges.

Every refusal is checked for its reason and for leaving the outside untouched: its content, its links,
and (where the filesystem updates atimes) that no file out there was even read.
"""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import socket
import stat
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from batchite.agent.safe_files import (
    ESCAPES,
    HARD_LINKED,
    IS_BASE,
    IS_DIRECTORY,
    NOT_EMPTY,
    NOT_FOUND,
    NOT_REGULAR,
    FileInfo,
    FileRefused,
    Tree,
)

T = TypeVar("T")
TASK = "workitems/j/job-1/t1"
SECRET = b"SECRET: the other tenant's key"
STALE_ATIME = 1_000_000  # 1970: any read on a relatime mount moves it


# -- fixtures and helpers ------------------------------------------------------------------------------


def snapshot(top: Path) -> dict[str, tuple[str, object, float]]:
    """Everything under top: kind, content or link target, and atime (so a read shows)."""
    out: dict[str, tuple[str, object, float]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(top))] = ("link", os.readlink(p), 0.0)
            elif stat.S_ISREG(st.st_mode):
                out[str(p.relative_to(top))] = ("file", p.read_bytes(), st.st_atime)
                os.utime(p, (STALE_ATIME, st.st_mtime))  # reading it here moved its atime: set it back
            else:
                out[str(p.relative_to(top))] = (stat.filemode(st.st_mode)[0], None, 0.0)
    return out


class World:
    """tmp/node (the Tree's root, holding a task directory) and tmp/outside (what a task must not reach)."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "node"
        self.task = self.root / TASK
        (self.task / "wd").mkdir(parents=True)
        (self.task / "stdout.txt").write_bytes(b"hello\n")
        self.outside = tmp / "outside"
        (self.outside / "dir").mkdir(parents=True)
        self.secret = self.outside / "secret.txt"
        self.secret.write_bytes(SECRET)
        (self.outside / "dir" / "file").write_bytes(SECRET)
        os.mkfifo(self.outside / "fifo")
        for f in (self.secret, self.outside / "dir" / "file"):
            os.utime(f, (STALE_ATIME, f.stat().st_mtime))
        self.tree = Tree(self.root)
        self.before = snapshot(self.outside)
        self.before_tmp = sorted(p.name for p in tmp.iterdir())
        self.atimes_move = self._atimes_move(tmp)

    @staticmethod
    def _atimes_move(tmp: Path) -> bool:
        probe = tmp / "atime-probe"
        probe.write_bytes(b"x")
        os.utime(probe, (STALE_ATIME, probe.stat().st_mtime))
        probe.read_bytes()
        moved = probe.stat().st_atime != STALE_ATIME
        probe.unlink()
        return moved

    def assert_outside_untouched(self) -> None:
        after = snapshot(self.outside)
        assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in self.before.items()}
        if self.atimes_move:
            unread = {k: v[2] for k, v in self.before.items() if v[0] == "file"}
            assert {k: after[k][2] for k in unread} == unread, "a file outside the root was read"
        assert sorted(p.name for p in self.outside.parent.iterdir()) == self.before_tmp


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    fds = len(os.listdir("/proc/self/fd"))
    w = World(tmp_path)
    yield w
    w.assert_outside_untouched()
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == fds, "an fd was left open"


def peek(path: Path) -> bytes:
    """The content of a file outside, read by the test itself: its atime is put back."""
    data = path.read_bytes()
    os.utime(path, (STALE_ATIME, path.stat().st_mtime))
    return data


def refused(reason: str, call: Callable[[], object]) -> FileRefused:
    with pytest.raises(FileRefused) as info:
        call()
    assert info.value.reason == reason, info.value.message
    assert info.value.message
    return info.value


def read_all(tree: Tree, base: str, path: str, start: int | None = None, end: int | None = None) -> bytes:
    return b"".join(tree.read(base, path, start, end))


def within(seconds: float, call: Callable[[], T]) -> T:
    """call() in a daemon thread: fail (instead of hanging the suite) if it does not return in time."""
    result: list[tuple[str, Any]] = []

    def run() -> None:
        try:
            result.append(("ok", call()))
        except BaseException as e:
            result.append(("raised", e))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for more than {seconds}s"
    kind, value = result[0]
    if kind == "raised":
        raise value
    return value


class Swapper:
    """A thread renaming things back and forth in a tight loop until stopped; counts the rounds done."""

    def __init__(self, steps: list[tuple[Path, Path]]) -> None:
        self.steps, self.rounds = steps, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for src, dst in self.steps:
                with suppress(OSError):  # the reader (or a delete) got in the way: carry on
                    os.rename(src, dst)
            self.rounds += 1

    def __enter__(self) -> Swapper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- 1. traversal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["..", "../..", "wd/../../..", "a/../../x", "./..", "wd/..", "/../outside"])
def test_dotdot_in_path_is_refused_everywhere(world: World, path: str) -> None:
    tree = world.tree
    refused(ESCAPES, lambda: tree.stat(TASK, path))
    refused(ESCAPES, lambda: tree.open(TASK, path))
    refused(ESCAPES, lambda: tree.read(TASK, path, None, None))
    refused(ESCAPES, lambda: tree.delete(TASK, path, recursive=False))
    refused(ESCAPES, lambda: tree.delete(TASK, path, recursive=True))
    refused(ESCAPES, lambda: tree.list(f"{TASK}/{path}", recursive=True))
    refused(ESCAPES, lambda: tree.remove(f"{TASK}/{path}"))


@pytest.mark.parametrize("base", ["..", "../outside", "workitems/../..", "/..", "workitems/j/../../../outside"])
def test_dotdot_in_base_is_refused_everywhere(world: World, base: str) -> None:
    tree = world.tree
    refused(ESCAPES, lambda: tree.stat(base, "secret.txt"))
    refused(ESCAPES, lambda: tree.stat(base, ""))
    refused(ESCAPES, lambda: tree.read(base, "secret.txt", None, None))
    refused(ESCAPES, lambda: tree.list(base, recursive=True))
    refused(ESCAPES, lambda: tree.delete(base, "secret.txt", recursive=True))
    refused(ESCAPES, lambda: tree.remove(base))


def test_deleting_dotdot_recursively_leaves_the_parent_intact(world: World) -> None:
    for base in (TASK, f"{TASK}/wd", ""):
        refused(ESCAPES, partial(world.tree.delete, base, "..", recursive=True))
    refused(ESCAPES, lambda: world.tree.remove(f"{TASK}/.."))
    assert (world.task / "stdout.txt").read_bytes() == b"hello\n"
    assert (world.root / "workitems/j/job-1").is_dir()


def test_absolute_paths_are_taken_relative_to_the_base(world: World) -> None:
    tree = world.tree
    assert tree.stat("/", "/workitems//j/./job-1/").name == "workitems/j/job-1"
    assert read_all(tree, "/" + TASK, "/stdout.txt") == b"hello\n"
    # the outside secret's absolute path names nothing beneath the root
    refused(NOT_FOUND, lambda: tree.read(TASK, str(world.secret), None, None))
    refused(NOT_FOUND, lambda: tree.stat("", str(world.secret)))
    refused(NOT_FOUND, lambda: tree.delete("", str(world.secret), recursive=True))
    refused(NOT_FOUND, lambda: tree.list(str(world.outside), recursive=True))
    tree.remove(str(world.outside))  # absent beneath the root: nothing to do


def test_a_nul_byte_is_not_found(world: World) -> None:
    refused(NOT_FOUND, lambda: world.tree.stat(TASK, "stdout.txt\0"))


# -- 2. a symlink at the end of the path ---------------------------------------------------------------


def test_symlink_to_a_file_outside_is_not_read_and_is_deleted_as_itself(world: World) -> None:
    link = world.task / "wd" / "link"
    link.symlink_to(world.secret)
    tree = world.tree
    refused(NOT_REGULAR, lambda: tree.read(TASK, "wd/link", None, None))
    refused(NOT_REGULAR, lambda: tree.open(TASK, "wd/link"))
    info = tree.stat(TASK, "wd/link")
    assert info == FileInfo(
        name="wd/link",
        is_directory=False,
        size=len(str(world.secret)),
        creation_time=info.creation_time,
        last_modified=info.last_modified,
        mode="777",
    )
    world.assert_outside_untouched()
    tree.delete(TASK, "wd/link", recursive=False)
    assert not os.path.lexists(link)
    assert peek(world.secret) == SECRET


def test_symlink_to_a_directory_outside_is_deleted_as_itself_even_recursively(world: World) -> None:
    link = world.task / "wd" / "dirlink"
    link.symlink_to(world.outside / "dir", target_is_directory=True)
    assert world.tree.stat(TASK, "wd/dirlink").is_directory is False
    refused(NOT_REGULAR, lambda: world.tree.read(TASK, "wd/dirlink", None, None))
    world.tree.delete(TASK, "wd/dirlink", recursive=True)
    assert not os.path.lexists(link)
    assert peek(world.outside / "dir" / "file") == SECRET


# -- 3. a symlink in the middle of the path ------------------------------------------------------------


def test_symlink_in_the_middle_of_the_path_is_not_found(world: World) -> None:
    (world.task / "wd" / "out").symlink_to(world.outside, target_is_directory=True)
    (world.root / "workitems" / "jlink").symlink_to(world.root / "workitems" / "j", target_is_directory=True)
    tree = world.tree
    for path in ("wd/out/secret.txt", "wd/out/dir/file", "wd/out/dir"):
        refused(NOT_FOUND, partial(tree.stat, TASK, path))
        refused(NOT_FOUND, partial(tree.read, TASK, path, None, None))
        refused(NOT_FOUND, partial(tree.open, TASK, path))
        refused(NOT_FOUND, partial(tree.delete, TASK, path, recursive=True))
        refused(NOT_FOUND, partial(tree.delete, TASK, path, recursive=False))
    for base in (f"{TASK}/wd/out", f"{TASK}/wd/out/dir", "workitems/jlink/job-1/t1"):
        refused(NOT_FOUND, partial(tree.list, base, recursive=False))
        refused(NOT_FOUND, partial(tree.list, base, recursive=True))
        refused(NOT_FOUND, partial(tree.stat, base, ""))
        refused(NOT_FOUND, partial(tree.delete, base, "secret.txt", recursive=True))
    refused(NOT_FOUND, lambda: tree.read("workitems/jlink/job-1/t1", "stdout.txt", None, None))
    tree.remove(f"{TASK}/wd/out/dir")  # passes a symlink: not there, so nothing to do
    assert (world.task / "wd" / "out").is_symlink()


def test_a_file_in_the_middle_of_the_path_is_not_found(world: World) -> None:
    refused(NOT_FOUND, lambda: world.tree.stat(TASK, "stdout.txt/x"))
    refused(NOT_FOUND, lambda: world.tree.list(f"{TASK}/stdout.txt", recursive=False))


# -- 4. races ----------------------------------------------------------------------------------------


def race_reads(world: World, path: str, seconds: float = 1.5) -> tuple[list[bytes], int]:
    """Read TASK/path through the Tree for `seconds` (in a thread, so a blocking open fails the test)."""

    def loop() -> tuple[list[bytes], int]:
        served: list[bytes] = []
        refusals = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                served.append(read_all(world.tree, TASK, path))
            except FileRefused as e:
                assert e.reason in (NOT_FOUND, NOT_REGULAR), e.message
                refusals += 1
        return served, refusals

    return within(seconds + 5, loop)


def naive_leaks(world: World, path: str, wanted: int, seconds: float = 20.0) -> int:
    """How often a plain open() by name returns the secret under the same race: proof the race is real.

    Reads until `wanted` leaks were seen or `seconds` passed: on a loaded machine the swapper may win
    rarely, so a fixed number of tries would make the proof itself flaky."""
    leaks = 0
    deadline = time.monotonic() + seconds
    while leaks < wanted and time.monotonic() < deadline:
        with suppress(OSError):
            leaks += (world.task / path).read_bytes() == SECRET
    for f in (world.secret, world.outside / "dir" / "file"):  # this reader did read outside: undo its atimes
        os.utime(f, (STALE_ATIME, f.stat().st_mtime))
    return leaks


def test_racing_a_directory_for_a_symlink_to_outside_never_serves_the_secret(world: World) -> None:
    d = world.task / "wd" / "d"
    d.mkdir()
    (d / "file").write_bytes(b"innocent")
    real, link = world.task / "wd" / "d.real", world.task / "wd" / "d.link"
    link.symlink_to(world.outside / "dir", target_is_directory=True)
    with Swapper([(d, real), (link, d), (d, link), (real, d)]) as swapper:
        served, refusals = race_reads(world, "wd/d/file")
        leaks = naive_leaks(world, "wd/d/file", wanted=3)
    assert SECRET not in served
    assert set(served) == {b"innocent"}
    assert len(served) + refusals > 2000 and len(served) > 100 and refusals > 100
    assert swapper.rounds > 1000
    assert leaks > 0, "the race was never won by a naive reader: the test proves nothing"


def test_racing_a_file_for_a_symlink_and_a_fifo_never_serves_the_secret_nor_blocks(world: World) -> None:
    wd = world.task / "wd"
    (wd / "f").write_bytes(b"innocent")
    (wd / "f.link").symlink_to(world.secret)
    (wd / "f.out-fifo").symlink_to(world.outside / "fifo")
    os.mkfifo(wd / "f.fifo")
    f, real = wd / "f", wd / "f.real"
    steps = [(f, real), (wd / "f.link", f), (f, wd / "f.link"), (wd / "f.fifo", f), (f, wd / "f.fifo")]
    steps += [(wd / "f.out-fifo", f), (f, wd / "f.out-fifo"), (real, f)]
    with Swapper(steps) as swapper:
        served, refusals = race_reads(world, "wd/f")
    assert SECRET not in served
    assert set(served) == {b"innocent"}
    assert len(served) > 100 and refusals > 100 and swapper.rounds > 500


def test_racing_a_recursive_delete_never_deletes_outside_nor_blocks(world: World) -> None:
    wd = world.task / "wd"
    links = {wd / "sub.link": world.outside / "dir", wd / "sub.out-fifo": world.outside / "fifo"}
    victim, sub, real = wd / "victim", wd / "victim" / "sub", wd / "victim" / "sub.real"
    steps = [(sub, real), (wd / "sub.link", sub), (sub, wd / "sub.link"), (wd / "sub.fifo", sub)]
    steps += [(sub, wd / "sub.fifo"), (wd / "sub.out-fifo", sub), (sub, wd / "sub.out-fifo"), (real, sub)]

    def loop() -> int:
        deleted = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for link, target in links.items():  # the previous delete may have taken them with the victim
                with suppress(FileExistsError):  # (the swapper may move it back meanwhile)
                    os.symlink(target, link)
            with suppress(FileExistsError):
                os.mkfifo(wd / "sub.fifo")
            build = wd / f"build-{deleted}"  # built where the swapper never looks, then moved in place
            (build / "sub" / "deeper").mkdir(parents=True)
            (build / "sub" / "deeper" / "x").write_bytes(b"x")
            (build / "sub" / "y").write_bytes(b"y")
            try:
                os.rename(build, victim)
            except OSError:
                world.tree.delete(TASK, f"wd/{build.name}", recursive=True)
            try:
                world.tree.delete(TASK, "wd/victim", recursive=True)
                deleted += 1
            except FileRefused as e:
                assert e.reason == NOT_FOUND
            except OSError:
                pass  # ENOTEMPTY: the swapper renamed something back in meanwhile
        return deleted

    with Swapper(steps) as swapper:
        deleted = within(10, loop)
    assert deleted > 100 and swapper.rounds > 1000


# -- 5. FIFOs and sockets ------------------------------------------------------------------------------


def test_a_fifo_is_refused_at_once(world: World) -> None:
    os.mkfifo(world.task / "wd" / "pipe")
    (world.task / "wd" / "outpipe").symlink_to(world.outside / "fifo")
    tree = world.tree
    for path in ("wd/pipe", "wd/outpipe"):
        refused(NOT_REGULAR, partial(within, 1, partial(tree.read, TASK, path, None, None)))
        refused(NOT_REGULAR, partial(within, 1, partial(tree.open, TASK, path)))
    info = within(1, lambda: tree.stat(TASK, "wd/pipe"))
    assert not info.is_directory
    assert [i.name for i in tree.list(f"{TASK}/wd", recursive=False)] == ["outpipe", "pipe"]
    within(1, lambda: tree.delete(TASK, "wd/pipe", recursive=False))
    assert not os.path.lexists(world.task / "wd" / "pipe")


def test_a_socket_is_refused(world: World) -> None:
    path = world.root / "s"
    if len(str(path)) > 100:
        pytest.skip("the path is too long for an AF_UNIX address")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        refused(NOT_REGULAR, lambda: within(1, lambda: world.tree.read("", "s", None, None)))
    world.tree.delete("", "s", recursive=False)
    assert not os.path.lexists(path)


def test_a_leased_file_fails_at_once_instead_of_waiting_for_the_lease_break(world: World) -> None:
    """A task's write lease makes a plain open wait (lease-break-time, 45 s); O_NONBLOCK gets EWOULDBLOCK."""
    leased = world.task / "wd" / "leased"
    leased.write_bytes(b"data")
    previous = signal.signal(signal.SIGIO, signal.SIG_IGN)  # the lease holder (us) is signalled on a break
    holder = os.open(leased, os.O_RDWR)
    try:
        try:
            fcntl.fcntl(holder, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        except OSError as e:
            pytest.skip(f"no lease here: {e}")
        with pytest.raises(BlockingIOError):
            within(1, partial(world.tree.read, TASK, "wd/leased", None, None))
    finally:
        os.close(holder)
        signal.signal(signal.SIGIO, previous)
    assert read_all(world.tree, TASK, "wd/leased") == b"data"


# -- 6. hard links -----------------------------------------------------------------------------------


def test_a_hard_link_to_a_file_outside_is_never_read_and_delete_only_unlinks_it(world: World) -> None:
    link = world.task / "wd" / "hard"
    os.link(world.secret, link)
    tree = world.tree
    refused(HARD_LINKED, lambda: tree.read(TASK, "wd/hard", None, None))
    refused(HARD_LINKED, lambda: tree.open(TASK, "wd/hard"))
    world.assert_outside_untouched()  # not a byte read: its atime did not move
    tree.delete(TASK, "wd/hard", recursive=False)
    assert not os.path.lexists(link)
    assert peek(world.secret) == SECRET
    assert world.secret.stat().st_nlink == 1


def test_a_hard_link_inside_the_tree_is_refused_too(world: World) -> None:
    os.link(world.task / "stdout.txt", world.task / "wd" / "again")
    refused(HARD_LINKED, lambda: world.tree.read(TASK, "stdout.txt", None, None))


# -- 7. deletes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/", ".", "./", "//."])
def test_deleting_the_base_is_refused(world: World, path: str) -> None:
    for recursive in (False, True):
        refused(IS_BASE, partial(world.tree.delete, TASK, path, recursive))
        refused(IS_BASE, partial(world.tree.delete, "", path, recursive))
    refused(IS_BASE, lambda: world.tree.remove(path))
    assert (world.task / "stdout.txt").exists()


def test_non_recursive_delete_of_a_non_empty_directory_is_refused(world: World) -> None:
    (world.task / "wd" / "out.txt").write_bytes(b"result")
    refused(NOT_EMPTY, lambda: world.tree.delete(TASK, "wd", recursive=False))
    assert (world.task / "wd" / "out.txt").read_bytes() == b"result"
    (world.task / "wd" / "out.txt").unlink()
    world.tree.delete(TASK, "wd", recursive=False)
    assert not (world.task / "wd").exists()


def test_recursive_delete_removes_links_not_their_targets(world: World) -> None:
    wd = world.task / "wd"
    (wd / "a" / "b").mkdir(parents=True)
    (wd / "a" / "b" / "f").write_bytes(b"f")
    (wd / "a" / "to-dir").symlink_to(world.outside / "dir", target_is_directory=True)
    (wd / "a" / "b" / "to-file").symlink_to(world.secret)
    (wd / "a" / "to-outside").symlink_to(world.outside, target_is_directory=True)
    (wd / "a" / "dangling").symlink_to(world.outside / "nothing")
    os.link(world.secret, wd / "a" / "hard")
    os.mkfifo(wd / "a" / "b" / "pipe")
    within(5, lambda: world.tree.delete(TASK, "wd/a", recursive=True))
    assert os.listdir(wd) == []
    assert peek(world.outside / "dir" / "file") == SECRET
    assert world.secret.stat().st_nlink == 1


def flatten(top: Path) -> None:
    """Move every level of a chain top/d/d/d/... up into top, one rename each: shallow, for anyone to delete."""
    current, level = top / "d", 0
    while (current / "d").is_dir():
        level += 1
        os.rename(current / "d", top / f"level-{level}")
        current = top / f"level-{level}"


def test_a_deep_tree_is_deleted_with_few_fds(world: World) -> None:
    """Deeper than the recursion limit: shutil.rmtree of Python 3.11 raises RecursionError here."""
    fd = os.open(world.task / "wd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(1500):
            os.mkdir("d", dir_fd=fd)
            os.close(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.symlink(world.outside, "escape", dir_fd=fd)
    finally:
        os.close(fd)
    try:
        within(20, lambda: world.tree.delete(TASK, "wd/d", recursive=True))
        assert os.listdir(world.task / "wd") == ["f"]
    finally:
        flatten(world.task / "wd")  # if it failed: pytest's own cleanup (shutil.rmtree) cannot remove it either


def test_remove_a_task_directory(world: World) -> None:
    (world.task / "wd" / "up").symlink_to(world.outside, target_is_directory=True)
    world.tree.remove("/" + TASK + "/")
    assert not world.task.exists()
    assert (world.root / "workitems/j/job-1").is_dir()
    world.tree.remove(TASK)  # absent now: fine
    world.tree.remove("workitems/j")
    assert os.listdir(world.root / "workitems") == []


def test_delete_of_a_symlinked_base_never_reaches_its_target(world: World) -> None:
    (world.root / "workitems" / "evil").symlink_to(world.outside, target_is_directory=True)
    refused(NOT_FOUND, lambda: world.tree.delete("workitems/evil", "secret.txt", recursive=False))
    world.tree.remove("workitems/evil/dir")
    world.tree.remove("workitems/evil")  # the link itself goes
    assert not os.path.lexists(world.root / "workitems" / "evil")


# -- 8. listings -------------------------------------------------------------------------------------


def test_listing_reports_a_symlink_as_itself_and_does_not_descend(world: World) -> None:
    wd = world.task / "wd"
    (wd / "sub").mkdir()
    (wd / "sub" / "x.txt").write_bytes(b"12345")
    (wd / "sub" / "link").symlink_to(world.outside / "dir", target_is_directory=True)
    (wd / "zlink").symlink_to(world.outside, target_is_directory=True)
    tree = world.tree
    names = [i.name for i in tree.list(TASK, recursive=True)]
    assert names == ["stdout.txt", "wd", "wd/sub", "wd/sub/link", "wd/sub/x.txt", "wd/zlink"]
    by_name = {i.name: i for i in tree.list(TASK, recursive=True)}
    assert by_name["wd/sub/link"].is_directory is False
    assert by_name["wd/zlink"].is_directory is False
    assert by_name["wd/zlink"].size == len(str(world.outside))
    assert by_name["wd/sub"].is_directory and by_name["wd/sub"].size == 0
    assert by_name["wd/sub/x.txt"].size == 5
    assert [i.name for i in tree.list(f"{TASK}/wd", recursive=True)] == ["sub", "sub/link", "sub/x.txt", "zlink"]
    assert [i.name for i in tree.list(f"{TASK}/wd", recursive=False)] == ["sub", "zlink"]
    assert [i.name for i in tree.list("/workitems/", recursive=False)] == ["j"]
    assert "workitems/j/job-1/t1/stdout.txt" in [i.name for i in tree.list("", recursive=True)]


def test_listing_is_bounded(world: World) -> None:
    d = world.task / "wd"
    for i in range(10):
        (d / f"f{i}").write_bytes(b"")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(10):
        os.mkdir("n", dir_fd=fd)
        child = os.open("n", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    assert len(Tree(world.root, max_entries=7).list(f"{TASK}/wd", recursive=True)) == 7
    names = [i.name for i in Tree(world.root, max_depth=3).list(f"{TASK}/wd", recursive=True)]
    assert max(n.count("/") for n in names) == 2  # three levels: n, n/n, n/n/n
    assert "n/n/n" in names
    assert len(world.tree.list(f"{TASK}/wd", recursive=True)) == 20


def test_stat_reports_metadata(world: World) -> None:
    out = world.task / "wd" / "out.txt"
    out.write_bytes(b"abc")
    out.chmod(0o640)
    os.utime(out, (1_700_000_000, 1_700_000_000))
    info = world.tree.stat(TASK, "wd/out.txt")
    assert (info.name, info.is_directory, info.size, info.mode) == ("wd/out.txt", False, 3, "640")
    assert info.last_modified.tzinfo is UTC and info.last_modified.timestamp() == 1_700_000_000
    assert info.creation_time.tzinfo is UTC
    base = world.tree.stat(TASK, "")
    assert (base.name, base.is_directory, base.size) == ("", True, 0)


# -- 9. reading ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, b"0123456789"),
        (2, 5, b"2345"),
        (0, 0, b"0"),
        (9, 9, b"9"),
        (7, None, b"789"),
        (None, 3, b"0123"),
        (5, 100, b"56789"),
        (10, None, b""),
        (100, 200, b""),
        (5, 4, b""),
    ],
)
def test_read_ranges_are_inclusive(world: World, start: int | None, end: int | None, expected: bytes) -> None:
    (world.task / "wd" / "digits").write_bytes(b"0123456789")
    assert read_all(world.tree, TASK, "wd/digits", start, end) == expected


def test_read_in_chunks(world: World) -> None:
    (world.task / "wd" / "digits").write_bytes(b"0123456789")
    chunks = list(world.tree.read(TASK, "wd/digits", 1, 8, chunk=3))
    assert chunks == [b"123", b"456", b"78"]
    with pytest.raises(ValueError):
        world.tree.read(TASK, "wd/digits", -1, None)
    with pytest.raises(ValueError):
        world.tree.read(TASK, "wd/digits", None, None, chunk=0)


def test_reading_a_directory_is_refused(world: World) -> None:
    refused(IS_DIRECTORY, lambda: world.tree.read(TASK, "wd", None, None))
    refused(IS_DIRECTORY, lambda: world.tree.read(TASK, "", None, None))
    refused(IS_DIRECTORY, lambda: world.tree.open("", "workitems"))


def test_read_is_refused_at_once_and_keeps_to_the_fd_it_opened(world: World) -> None:
    stdout = world.task / "stdout.txt"
    refused(NOT_FOUND, lambda: world.tree.read(TASK, "nothing.txt", None, None))  # before any iteration
    chunks = world.tree.read(TASK, "stdout.txt", None, None, chunk=2)
    stdout.unlink()
    stdout.symlink_to(world.secret)  # swapped after opening: the reader never re-opens by name
    assert b"".join(chunks) == b"hello\n"


def test_readers_close_their_fds(world: World) -> None:
    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = fds()
    exhausted = world.tree.read(TASK, "stdout.txt", None, None)
    assert list(exhausted) == [b"hello\n"] and fds() == before
    closed = world.tree.read(TASK, "stdout.txt", None, None, chunk=1)
    assert next(closed) == b"h"
    closed.close()
    assert fds() == before and list(closed) == []
    world.tree.read(TASK, "stdout.txt", None, None)  # never iterated, then collected
    gc.collect()
    assert fds() == before
    fd, info = world.tree.open(TASK, "stdout.txt")
    try:
        assert info.size == 6 and os.pread(fd, 6, 0) == b"hello\n"
        assert os.get_blocking(fd) and not os.get_inheritable(fd)
    finally:
        os.close(fd)


def test_a_one_gib_file_is_read_in_flat_memory(world: World) -> None:
    big = world.task / "wd" / "big"
    with big.open("wb") as f:
        f.truncate(1 << 30)
    tracemalloc.start()
    try:
        total = 0
        for chunk in world.tree.read(TASK, "wd/big", None, None):
            assert len(chunk) <= 256 * 1024
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 1 << 30
    assert peak < 8 << 20, f"peak {peak} bytes"
    assert read_all(world.tree, TASK, "wd/big", (1 << 30) - 3, None) == b"\0\0\0"


# -- 10. missing things -------------------------------------------------------------------------------


def test_missing_paths_are_not_found(world: World) -> None:
    tree = world.tree
    refused(NOT_FOUND, lambda: tree.stat(TASK, "nothing"))
    refused(NOT_FOUND, lambda: tree.stat(TASK, "nothing/deeper"))
    refused(NOT_FOUND, lambda: tree.stat("workitems/nojob", ""))
    refused(NOT_FOUND, lambda: tree.list("workitems/nojob", recursive=False))
    refused(NOT_FOUND, lambda: tree.list(f"{TASK}/nothing", recursive=True))
    refused(NOT_FOUND, lambda: tree.read(TASK, "nothing", None, None))
    refused(NOT_FOUND, lambda: tree.delete(TASK, "nothing", recursive=True))
    refused(NOT_FOUND, lambda: tree.delete(TASK, "nothing", recursive=False))
    tree.remove("workitems/nojob/job-1/t9")
    tree.remove(f"{TASK}/stdout.txt/x")


def test_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Tree(tmp_path / "nothing")
    (tmp_path / "node").mkdir()
    tree = Tree(tmp_path / "node")
    (tmp_path / "node").rmdir()
    refused(NOT_FOUND, lambda: tree.list("", recursive=False))
    tree.remove("workitems/j")
