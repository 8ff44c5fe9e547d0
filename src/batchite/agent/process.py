"""Running one task process: spawn without a shell, stdout.txt/stderr.txt, exit back to the loop.

Spawning happens on a small thread pool (a spawn costs ~0.6 ms, too much for the event loop at
1,000 tasks a second; launcher.py says how a task starts as its user); exits are watched with a
pidfd registered on the event loop, so no thread waits on a child. A task with staging work
(resource files, application packages, output files) has it done on a second pool: downloads
before the spawn, uploads after the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import shlex
import shutil
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from batchite.agent import launcher
from batchite.agent.container_tasks import ContainerLaunch
from batchite.agent.credentials import acting_as
from batchite.agent.files import FILE_UPLOAD, PREPROCESSING, PROCESS, TaskFailure, TaskStaging
from batchite.agent.identity import NodeUsers, SpawnAs
from batchite.agent.launcher import Child
from batchite.agent.layout import prepare_task_directory
from batchite.agent.stagein import StageError, stage_in
from batchite.agent.stageout import stage_out


@dataclass
class ProcessOutcome:
    """How a process ended. `exit_code` is None when it never started (`error_code`, or `failure`
    for a resource file or package failure, says why); `failure` also carries an output file upload
    failure after the process exited (then `exit_code` is set)."""

    start_time: datetime
    end_time: datetime
    exit_code: int | None
    error_code: str | None = None
    error_message: str | None = None
    killed: bool = False
    failure: TaskFailure | None = None
    # What the process used (from wait4; zero when it never ran): CPU seconds, file system blocks.
    user_cpu_seconds: float = 0.0
    kernel_cpu_seconds: float = 0.0
    read_blocks: int = 0
    write_blocks: int = 0

    @property
    def failed_stage(self) -> str | None:
        """'preprocessing', 'fileupload', 'process' (non-zero exit), or None when all went well."""
        if self.failure is not None:
            return self.failure.stage
        if self.exit_code is None:
            return PREPROCESSING
        return PROCESS if self.exit_code != 0 else None


@dataclass
class Launch:
    command_line: str
    task_dir: Path
    env: dict[str, str]
    working_dir: Path | None = None  # defaults to task_dir/wd
    staging: TaskStaging | None = None
    node_root: Path | None = None  # where applications/ lives; defaults to task_dir's parent
    spawn: SpawnAs = field(default_factory=SpawnAs)  # its uid and group, and its sandbox
    users: NodeUsers | None = None  # the pool's users, when directories get owners
    container: ContainerLaunch | None = None  # a container task: the engine runs the command line


class _KilledBeforeStart(Exception):
    """The task was killed while its resource files were being downloaded."""


@dataclass(eq=False)
class RunningProcess:
    launch: Launch
    start_time: datetime
    popen: Child | None = None
    pidfd: int | None = None
    kill_requested: bool = False
    done: bool = False
    on_exit: Callable[[ProcessOutcome], None] | None = field(default=None, repr=False)
    on_spawned: Callable[[int], None] | None = field(default=None, repr=False)  # its pid, once it runs


def _now() -> datetime:
    return datetime.now(tz=UTC)


def split_command_line(command_line: str) -> list[str]:
    return shlex.split(command_line)


_OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def _outputs(launch: Launch) -> tuple[int, int]:
    """stdout.txt and stderr.txt (file descriptors), new for each run, opened with the task user's
    rights (a symlink the task left there leads nowhere it could not write itself); the user owns them."""
    with acting_as(launch.spawn.uid, launch.spawn.gid):
        out = os.open(launch.task_dir / "stdout.txt", _OUTPUT_FLAGS, 0o666)
        try:
            return out, os.open(launch.task_dir / "stderr.txt", _OUTPUT_FLAGS, 0o666)
        except BaseException:
            os.close(out)
            raise


def executable(name: str, cwd: Path, path: str | None) -> str:
    """The program a command line names: a path (relative to the working directory), or found on PATH."""
    if "/" in name:
        return str(cwd / name)
    found = shutil.which(name, path=path or os.defpath)
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "not found on PATH", name)
    return found


def _spawn(launch: Launch, engine_argv: list[str] | None = None) -> Child:
    wd = launch.working_dir or (launch.task_dir / "wd")
    prepare_task_directory(launch.task_dir, launch.users, launch.spawn.uid)
    if launch.working_dir is not None:
        wd.mkdir(parents=True, exist_ok=True)
    if engine_argv is not None and launch.container is not None:  # the engine, as the agent's user
        out, err = _outputs(launch)
        try:
            return launcher.spawn(engine_argv, str(launch.task_dir), launch.container.engine.env, out, err)
        finally:
            os.close(out)
            os.close(err)
    argv = split_command_line(launch.command_line)
    if not argv:
        raise FileNotFoundError("empty command line")
    spawn = launch.spawn
    argv[0] = executable(argv[0], wd, launch.env.get("PATH"))
    if spawn.prefix:
        argv = [*spawn.prefix, *argv]
    out, err = _outputs(launch)
    try:
        return launcher.spawn(argv, str(wd), launch.env, out, err, spawn.uid, spawn.gid)
    finally:
        os.close(out)
        os.close(err)


def _stage_out_as_user(staging: TaskStaging, launch: Launch, code: int) -> TaskFailure | None:
    """Output files are found and opened (and the upload logs written) with the task user's rights."""
    as_user = functools.partial(acting_as, launch.spawn.uid, launch.spawn.gid)
    sandbox_root = launch.node_root if launch.spawn.in_sandbox else None
    as_the_user = launch.spawn.uid is not None and os.geteuid() == 0
    confine = None if as_the_user else (launch.node_root or launch.task_dir.parent)
    return stage_out(staging, launch.task_dir, launch.env, code, sandbox_root, as_user, confine)


def exit_status(returncode: int) -> int:
    """A signal death reads as 128+signal, as a Linux node's agent reports it."""
    return 128 - returncode if returncode < 0 else returncode


class ProcessRunner:
    def __init__(self, spawn_threads: int = 0, stage_threads: int = 4, transfer_threads: int = 8) -> None:
        """spawn_threads: 0 spawns on the event loop itself (the fastest: a spawn holds the GIL
        anyway, and a handoff to a thread costs more than the spawn); tasks with resource files
        are spawned from the staging threads once their files are in."""
        self._pool: ThreadPoolExecutor | None = None
        if spawn_threads:
            self._pool = ThreadPoolExecutor(spawn_threads, "spawn", initializer=launcher.prepare_thread)
        self._stage_pool = ThreadPoolExecutor(  # tasks with resource files are spawned from there
            max_workers=stage_threads, thread_name_prefix="stage", initializer=launcher.prepare_thread
        )
        self._transfer_pool = ThreadPoolExecutor(max_workers=transfer_threads, thread_name_prefix="transfer")
        self._running: set[RunningProcess] = set()

    def start(self, launch: Launch, on_exit: Callable[[ProcessOutcome], None]) -> RunningProcess:
        loop = asyncio.get_running_loop()
        rp = RunningProcess(launch=launch, start_time=_now(), on_exit=on_exit)
        self._running.add(rp)
        if launch.container is not None or (launch.staging is not None and launch.staging.has_stage_in()):
            fut = loop.run_in_executor(self._stage_pool, self._stage_and_spawn, rp)
            fut.add_done_callback(lambda f: self._spawned(rp, f.exception(), None if f.exception() else f.result()))
        elif self._pool is None:
            loop.call_soon(self._spawn_here, rp)  # once the caller has noted the run
        else:
            fut = loop.run_in_executor(self._pool, _spawn, launch)
            fut.add_done_callback(lambda f: self._spawned(rp, f.exception(), None if f.exception() else f.result()))
        return rp

    def _spawn_here(self, rp: RunningProcess) -> None:
        try:
            child = _spawn(rp.launch)
        except Exception as exc:
            self._spawned(rp, exc, None)
            return
        self._spawned(rp, None, child)

    def _stage_and_spawn(self, rp: RunningProcess) -> Child:
        """On a staging thread: packages and resource files, a container's image, then the process
        (unless killed meanwhile)."""
        launch = rp.launch
        prepare_task_directory(launch.task_dir, launch.users, launch.spawn.uid)
        node_root = launch.node_root or launch.task_dir.parent
        if launch.staging is not None:
            stage_in(
                launch.staging, launch.task_dir, node_root, self._transfer_pool, launch.spawn.uid, launch.spawn.gid
            )
        engine_argv = None
        if launch.container is not None:
            engine_argv = launch.container.prepare(launch.env, split_command_line(launch.command_line))
        if rp.kill_requested:
            raise _KilledBeforeStart()
        return _spawn(launch, engine_argv)

    def _finish(self, rp: RunningProcess, outcome: ProcessOutcome) -> None:
        if rp.done:
            return
        rp.done = True
        if rp.launch.container is not None:
            rp.launch.container.discard()
        self._running.discard(rp)
        if rp.on_exit is not None:
            rp.on_exit(outcome)

    def _spawned(self, rp: RunningProcess, exc: BaseException | None, popen: Child | None) -> None:
        if isinstance(exc, StageError):
            self._finish(
                rp,
                ProcessOutcome(rp.start_time, _now(), None, exc.failure.code, exc.failure.message, failure=exc.failure),
            )
            return
        if isinstance(exc, _KilledBeforeStart):
            self._finish(
                rp, ProcessOutcome(rp.start_time, _now(), None, "TaskEnded", "Killed before it started", killed=True)
            )
            return
        if exc is not None:
            code, message = "CommandProgramNotFound", f"The specified command program is not found: {exc}"
            if isinstance(exc, PermissionError):
                code, message = "CommandProgramNotFound", f"The command program could not be executed: {exc}"
            elif isinstance(exc, ValueError):
                code, message = "InvalidCommandLine", f"The command line could not be parsed: {exc}"
            elif not isinstance(exc, OSError):
                code, message = "TaskProcessStartError", str(exc)
            self._finish(rp, ProcessOutcome(rp.start_time, _now(), None, code, message))
            return
        assert popen is not None
        rp.popen = popen
        rp.start_time = _now()
        if rp.on_spawned is not None:
            rp.on_spawned(popen.pid)
        loop = asyncio.get_running_loop()
        try:
            rp.pidfd = os.pidfd_open(popen.pid)
        except OSError:
            rp.pidfd = None
        if rp.pidfd is not None:
            loop.add_reader(rp.pidfd, self._reap, rp)
        else:  # pragma: no cover - kernels without pidfd
            wait = loop.run_in_executor(None, popen.wait)
            wait.add_done_callback(lambda _f: self._reap(rp))
        if rp.kill_requested:
            self.kill(rp)

    def _reap(self, rp: RunningProcess) -> None:
        assert rp.popen is not None
        returncode = rp.popen.poll()
        if returncode is None:
            return
        if rp.pidfd is not None:
            asyncio.get_running_loop().remove_reader(rp.pidfd)
            os.close(rp.pidfd)
            rp.pidfd = None
        code = exit_status(returncode)
        outcome = ProcessOutcome(rp.start_time, _now(), code, killed=rp.kill_requested)
        usage = rp.popen.usage
        if usage is not None:
            outcome.user_cpu_seconds, outcome.kernel_cpu_seconds = usage.user_cpu_seconds, usage.kernel_cpu_seconds
            outcome.read_blocks, outcome.write_blocks = usage.read_blocks, usage.write_blocks
        staging = rp.launch.staging
        if staging is None or not staging.output_files:
            self._finish(rp, outcome)
            return
        launch = rp.launch
        fut = asyncio.get_running_loop().run_in_executor(self._stage_pool, _stage_out_as_user, staging, launch, code)
        fut.add_done_callback(lambda f: self._uploaded(rp, outcome, f))

    def _uploaded(self, rp: RunningProcess, outcome: ProcessOutcome, fut: asyncio.Future[TaskFailure | None]) -> None:
        exc = fut.exception()
        if exc is not None:
            outcome.failure = TaskFailure(FILE_UPLOAD, "FileUploadMiscError", f"Uploading output files failed: {exc}")
        else:
            outcome.failure = fut.result()
        outcome.end_time = _now()
        self._finish(rp, outcome)

    @staticmethod
    def _signal(rp: RunningProcess) -> None:
        if rp.popen is None or rp.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(rp.popen.pid, signal.SIGKILL)

    def kill(self, rp: RunningProcess) -> None:
        rp.kill_requested = True
        self._signal(rp)
        if rp.launch.container is not None and rp.popen is not None:
            rp.launch.container.kill()

    def kill_all(self) -> None:
        for rp in list(self._running):
            rp.on_exit = None
            self.kill(rp)

    def shutdown(self) -> None:
        containers = [rp.launch.container for rp in self._running if rp.launch.container is not None]
        self.kill_all()
        for container in containers:  # before the agent exits, not from a thread it would cut short
            container.engine.remove([container.name])
        for pool in (self._pool, self._stage_pool, self._transfer_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
