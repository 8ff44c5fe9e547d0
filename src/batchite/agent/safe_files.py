"""File operations on a node's directory tree that a hostile task cannot steer outside it.

Tasks are untrusted: they can plant symlinks, FIFOs and hard links and rename things while the server
works. Every operation of a Tree is confined beneath its root and guarantees:

- no path is ever resolved by name from the root: the root is opened once per operation, then every
  directory component with ``O_DIRECTORY|O_NOFOLLOW`` relative to its parent's fd, so a symlink
  anywhere in the path is never followed and there is no window between a check and its use;
- ``..`` is refused (ESCAPES); a leading '/' and empty or '.' components are ignored;
- a file is only read through an fd opened ``O_NOFOLLOW|O_NONBLOCK`` and checked with fstat: only a
  regular file with a single link is served, and opening a FIFO (or a leased file) never blocks;
- a delete removes a symlink as itself, never its target; a recursive delete opens every directory
  ``O_DIRECTORY|O_NOFOLLOW`` from its parent's fd and holds a bounded number of fds whatever the depth;
- every fd opened is closed (a reader's when it is exhausted, closed or collected).
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import os
import stat as st_
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

NOT_FOUND = "not-found"  # nothing there, or a path component is a symlink / not a directory
ESCAPES = "escapes"  # '..' (or anything that would leave the base)
NOT_REGULAR = "not-regular"  # a FIFO, socket, device (or a symlink where a file is read)
HARD_LINKED = "hard-linked"  # a regular file with st_nlink > 1: may be a hard link to a file outside
IS_BASE = "is-base"  # deleting the base directory itself
IS_DIRECTORY = "is-directory"  # reading a directory
NOT_EMPTY = "not-empty"  # deleting a non-empty directory without recursive
BUSY = "busy"  # a process holds a lease on the file (reported by the agent for a BlockingIOError)

MAX_ENTRIES = 100_000  # a listing returns at most this many entries
MAX_DEPTH = 64  # a recursive listing goes at most this many levels below its base
_RM_DEPTH = 32  # a recursive delete holds at most this many directory fds (deeper ones are moved up)

_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})


@dataclass(frozen=True)
class FileInfo:
    """A file or directory, its name relative to the base it was asked under."""

    name: str
    is_directory: bool
    size: int  # 0 for a directory; for a symlink, lstat's size
    creation_time: datetime  # aware UTC, from st_ctime
    last_modified: datetime  # aware UTC, from st_mtime
    mode: str  # octal permission bits as text, e.g. "644"


class FileRefused(Exception):
    """Why an operation is refused; `reason` is one of the constants above, `message` says it for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _info(name: str, st: os.stat_result) -> FileInfo:
    is_dir = st_.S_ISDIR(st.st_mode)
    return FileInfo(
        name=name,
        is_directory=is_dir,
        size=0 if is_dir else st.st_size,
        creation_time=datetime.fromtimestamp(st.st_ctime, tz=UTC),
        last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        mode=f"{st_.S_IMODE(st.st_mode):o}",
    )


def _parts(path: str, what: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FileRefused(ESCAPES, f"the {what} {path!r} climbs out with '..'")
    if any("\0" in p for p in parts):
        raise FileRefused(NOT_FOUND, f"the {what} {path!r} holds a NUL byte")
    return parts


def _missing(error: OSError, name: str) -> NoReturn:
    """NOT_FOUND for a missing entry or a component that is a symlink or not a directory, else re-raise."""
    if error.errno in _MISSING:
        what = repr(name) if name else "the root directory"
        raise FileRefused(NOT_FOUND, f"{what} does not exist (or passes through a symlink)") from error
    raise error


def _require_regular(mode: int, name: str) -> None:
    if st_.S_ISDIR(mode):
        raise FileRefused(IS_DIRECTORY, f"{name!r} is a directory")
    if not st_.S_ISREG(mode):
        raise FileRefused(NOT_REGULAR, f"{name!r} is not a regular file")


class RangeReader(Iterator[bytes]):
    """The bytes [pos, stop) of an fd in chunks, by pread; closes the fd at the end, on close() or when collected."""

    def __init__(self, fd: int, pos: int, stop: int, chunk: int) -> None:
        self._fd, self._pos, self._stop, self._chunk = fd, pos, stop, chunk

    def __next__(self) -> bytes:
        if self._fd >= 0 and self._pos < self._stop:
            data = os.pread(self._fd, min(self._chunk, self._stop - self._pos), self._pos)
            if data:
                self._pos += len(data)
                return data
        self.close()
        raise StopIteration

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class Tree:
    """Every operation confined beneath `root` (a directory that must exist).

    `base` is a directory beneath root and `path` is relative to it, both '/'-separated (see _parts).
    An OSError that is not a refusal propagates as it is: EACCES, EIO, or BlockingIOError when a task
    holds a lease on the file (a blocking open would wait out the lease break, 45 s by default).
    """

    def __init__(
        self, root: str | os.PathLike[str], *, max_entries: int = MAX_ENTRIES, max_depth: int = MAX_DEPTH
    ) -> None:
        self.root = os.fspath(root)
        self.max_entries = max_entries
        self.max_depth = max_depth
        os.close(os.open(self.root, _ROOT_FLAGS))  # FileNotFoundError / NotADirectoryError

    @contextmanager
    def _dir(self, parts: Sequence[str]) -> Iterator[int]:
        """An fd of root/parts..., each component opened O_NOFOLLOW from its parent's fd."""
        try:
            fd = os.open(self.root, _ROOT_FLAGS)
        except OSError as e:
            _missing(e, "")
        for i, name in enumerate(parts):
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                _missing(e, "/".join(parts[: i + 1]))
            finally:
                os.close(fd)
            fd = child
        try:
            yield fd
        finally:
            os.close(fd)

    def stat(self, base: str, path: str) -> FileInfo:
        """lstat semantics: a symlink is reported as itself; a path of "" is the base itself."""
        bparts, pparts = _parts(base, "base"), _parts(path, "path")
        name = "/".join(pparts)
        with self._dir(bparts + pparts[:-1]) as fd:
            if not pparts:
                return _info(name, os.fstat(fd))
            try:
                return _info(name, os.stat(pparts[-1], dir_fd=fd, follow_symlinks=False))
            except OSError as e:
                _missing(e, name)

    def list(self, base: str, recursive: bool) -> list[FileInfo]:
        """The entries under `base`, sorted by name, names relative to base; NOT_FOUND if base is not there.

        A recursive listing descends into real directories only, never through a symlink. To keep a
        hostile tree from exhausting memory, a listing stops silently at `max_entries` entries
        (100,000) and does not descend further than `max_depth` levels (64) below base.
        """
        out: list[FileInfo] = []
        with self._dir(_parts(base, "base")) as fd:
            self._scan(fd, "", 1, recursive, out)
        out.sort(key=lambda info: info.name)
        return out

    def _scan(self, fd: int, prefix: str, depth: int, recursive: bool, out: builtins.list[FileInfo]) -> None:
        subdirs: list[str] = []
        with os.scandir(fd) as entries:
            for entry in entries:
                if len(out) >= self.max_entries:
                    return
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # vanished meanwhile
                out.append(_info(prefix + entry.name, st))
                if recursive and depth < self.max_depth and st_.S_ISDIR(st.st_mode):
                    subdirs.append(entry.name)
        for name in subdirs:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in _MISSING:
                    continue  # gone, or swapped for a symlink meanwhile
                raise
            try:
                self._scan(child, f"{prefix}{name}/", depth + 1, recursive, out)
            finally:
                os.close(child)

    def open(self, base: str, path: str) -> tuple[int, FileInfo]:
        """An O_RDONLY fd of a regular file (the caller closes it), and its info from fstat of that fd."""
        bparts, pparts = _parts(base, "base"), _parts(path, "path")
        name = "/".join(pparts)
        if not pparts:
            raise FileRefused(IS_DIRECTORY, "the base is a directory")
        with self._dir(bparts + pparts[:-1]) as parent:
            try:  # a first look, so that a FIFO or device is not even opened; fstat below decides
                _require_regular(os.stat(pparts[-1], dir_fd=parent, follow_symlinks=False).st_mode, name)
                fd = os.open(pparts[-1], _FILE_FLAGS, dir_fd=parent)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENXIO):  # swapped for a symlink; a socket
                    raise FileRefused(NOT_REGULAR, f"{name!r} is not a regular file") from e
                _missing(e, name)
        try:
            st = os.fstat(fd)
            _require_regular(st.st_mode, name)
            if st.st_nlink > 1:
                raise FileRefused(HARD_LINKED, f"{name!r} has {st.st_nlink} hard links")
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        except BaseException:
            os.close(fd)
            raise
        return fd, _info(name, st)

    def read(self, base: str, path: str, start: int | None, end: int | None, chunk: int = 256 * 1024) -> RangeReader:
        """The bytes [start, end] (inclusive; None: from 0 / to the end) in chunks of at most `chunk`.

        The file is opened (and refused) at once, not when iteration starts; the end is taken from the
        fstat at opening. The iterator reads by pread from that fd and closes it when exhausted or closed.
        """
        if chunk <= 0 or (start is not None and start < 0) or (end is not None and end < 0):
            raise ValueError(f"bad range or chunk: start={start} end={end} chunk={chunk}")
        fd, info = self.open(base, path)
        stop = info.size if end is None else min(end + 1, info.size)
        return RangeReader(fd, start or 0, stop, chunk)

    def delete(self, base: str, path: str, recursive: bool) -> None:
        """Delete one entry: a symlink as itself, a directory by rmdir or (recursive) with all beneath it."""
        bparts, pparts = _parts(base, "base"), _parts(path, "path")
        name = "/".join(pparts)
        if not pparts:
            raise FileRefused(IS_BASE, "the base directory itself is not deleted")
        with self._dir(bparts + pparts[:-1]) as parent:
            last = pparts[-1]
            try:
                if not st_.S_ISDIR(os.stat(last, dir_fd=parent, follow_symlinks=False).st_mode):
                    os.unlink(last, dir_fd=parent)  # a symlink as itself
                elif recursive:
                    _rmtree(parent, last)
                else:
                    os.rmdir(last, dir_fd=parent)
            except OSError as e:
                if e.errno == errno.ENOTEMPTY and not recursive:
                    raise FileRefused(NOT_EMPTY, f"{name!r} is not empty") from e
                _missing(e, name)

    def remove(self, base: str) -> None:
        """Remove the directory `base` (a task or job directory) and all beneath it; absent is fine."""
        parts = _parts(base, "base")
        if not parts:
            raise FileRefused(IS_BASE, "the root itself is not removed")
        try:
            self.delete("/".join(parts[:-1]), parts[-1], recursive=True)
        except FileRefused as e:
            if e.reason != NOT_FOUND:
                raise


def _enter(stack: list[tuple[int, str, list[str]]], at: int, name: str) -> None:
    """Open the directory `name` in `at` O_NOFOLLOW, push it, unlink its non-directories, note its subdirectories."""
    fd = os.open(name, _DIR_FLAGS, dir_fd=at)
    stack.append((fd, name, []))
    with os.scandir(fd) as it:
        entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in it]
    for sub, is_dir in entries:
        try:
            if not is_dir:
                os.unlink(sub, dir_fd=fd)
                continue
        except FileNotFoundError:
            continue
        except IsADirectoryError:
            pass  # became a directory meanwhile
        stack[-1][2].append(sub)


def _rmtree(parent: int, name: str) -> None:
    """Remove the directory `name` in `parent` and everything beneath it, never following a symlink.

    Not shutil.rmtree: Python 3.11's opens each directory without O_NOFOLLOW|O_DIRECTORY (a directory
    swapped for a symlink to a FIFO blocks it) and recurses once per level. Here each directory is
    opened O_DIRECTORY|O_NOFOLLOW from its parent's fd, iteratively, and one _RM_DEPTH levels deep is
    first moved up into the top directory, so the fds held stay bounded whatever the depth.
    """
    stack: list[tuple[int, str, list[str]]] = []  # (fd, name in its parent, subdirectories left)
    try:
        _enter(stack, parent, name)
        top = stack[0][0]
        while stack:
            fd, dname, pending = stack[-1]
            if not pending:
                stack.pop()
                os.close(fd)
                with suppress(FileNotFoundError):
                    os.rmdir(dname, dir_fd=stack[-1][0] if stack else parent)
            elif len(stack) >= _RM_DEPTH:
                moved = f".rm-{uuid.uuid4().hex}"
                with suppress(FileNotFoundError):
                    os.rename(pending.pop(), moved, src_dir_fd=fd, dst_dir_fd=top)
                    stack[0][2].append(moved)
            else:
                sub = pending.pop()
                try:
                    _enter(stack, fd, sub)
                except OSError as e:
                    if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        raise
                    with suppress(FileNotFoundError, IsADirectoryError):  # no longer a directory: unlink it
                        os.unlink(sub, dir_fd=fd)
    finally:
        for entry in stack:
            os.close(entry[0])
