"""Task processes: exit statuses, command-line splitting, and ProcessRunner on real (tiny) programs."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from batchite.agent.process import Launch, ProcessOutcome, ProcessRunner, exit_status, split_command_line

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C"}
TIMEOUT = 10.0


# -- exit_status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("returncode", "expected"), [(0, 0), (1, 1), (2, 2), (127, 127), (255, 255)])
def test_exit_status_plain_codes(returncode: int, expected: int) -> None:
    assert exit_status(returncode) == expected


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSEGV, signal.SIGHUP])
def test_exit_status_signal_is_128_plus_signal(sig: signal.Signals) -> None:
    assert exit_status(-int(sig)) == 128 + int(sig)


def test_exit_status_sigkill_is_137() -> None:
    assert exit_status(-9) == 137


# -- split_command_line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ("/bin/true", ["/bin/true"]),
        ("echo hi", ["echo", "hi"]),
        ("/bin/bash -c 'cat input.txt'", ["/bin/bash", "-c", "cat input.txt"]),  # clients.md 1.4
        ('/bin/sh -c "echo $HOME && ls"', ["/bin/sh", "-c", "echo $HOME && ls"]),
        ("  python3   -u   run.py  ", ["python3", "-u", "run.py"]),
        (r"echo a\ b", ["echo", "a b"]),
        ("echo ''", ["echo", ""]),
        ("cmd --opt='x y' tail", ["cmd", "--opt=x y", "tail"]),
        ("", []),
    ],
)
def test_split_command_line(line: str, argv: list[str]) -> None:
    assert split_command_line(line) == argv


@pytest.mark.parametrize("line", ["echo 'unterminated", 'echo "also', "echo \\"])
def test_split_command_line_unbalanced(line: str) -> None:
    with pytest.raises(ValueError):
        split_command_line(line)


# -- ProcessRunner ---------------------------------------------------------------------------------


async def _run(
    launch: Launch, after_start: Callable[[ProcessRunner, object], None] | None = None, timeout: float = TIMEOUT
) -> ProcessOutcome:
    runner = ProcessRunner()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[ProcessOutcome] = loop.create_future()
    try:
        rp = runner.start(launch, lambda outcome: done.set_result(outcome) if not done.done() else None)
        if after_start is not None:
            after_start(runner, rp)
        return await asyncio.wait_for(done, timeout)
    finally:
        runner.shutdown()


def run(
    command_line: str,
    task_dir: Path,
    env: dict[str, str] | None = None,
    after_start: Callable[[ProcessRunner, object], None] | None = None,
    **kw: object,
) -> ProcessOutcome:
    launch = Launch(command_line=command_line, task_dir=task_dir, env=env if env is not None else dict(ENV), **kw)
    return asyncio.run(_run(launch, after_start))


def test_true(tmp_path: Path) -> None:
    outcome = run("/bin/true", tmp_path)
    assert outcome.exit_code == 0
    assert outcome.error_code is None
    assert outcome.killed is False
    assert outcome.start_time <= outcome.end_time
    assert (tmp_path / "stdout.txt").read_bytes() == b""
    assert (tmp_path / "stderr.txt").read_bytes() == b""
    assert (tmp_path / "wd").is_dir()


def test_false(tmp_path: Path) -> None:
    outcome = run("/bin/false", tmp_path)
    assert outcome.exit_code == 1
    assert outcome.error_code is None
    assert outcome.killed is False


def test_exit_code_passed_through(tmp_path: Path) -> None:
    assert run("/bin/sh -c 'exit 42'", tmp_path).exit_code == 42


def test_missing_program(tmp_path: Path) -> None:
    outcome = run("/no/such/program --flag", tmp_path)
    assert outcome.exit_code is None
    assert outcome.error_code == "CommandProgramNotFound"
    assert outcome.error_message
    assert outcome.killed is False


def test_missing_program_on_path(tmp_path: Path) -> None:
    outcome = run("batchite-no-such-program-xyz", tmp_path)
    assert outcome.exit_code is None
    assert outcome.error_code == "CommandProgramNotFound"


def test_program_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    outcome = run(str(script), tmp_path / "task")
    assert outcome.exit_code is None
    assert outcome.error_code is not None


def test_unbalanced_quotes_are_an_invalid_command_line(tmp_path: Path) -> None:
    outcome = run("/bin/echo 'oops", tmp_path)
    assert outcome.exit_code is None
    assert outcome.error_code == "InvalidCommandLine"


def test_empty_command_line_does_not_start(tmp_path: Path) -> None:
    outcome = run("   ", tmp_path)
    assert outcome.exit_code is None
    assert outcome.error_code is not None


def test_stdout_and_stderr_files(tmp_path: Path) -> None:
    outcome = run("/bin/sh -c 'echo hello; echo oops >&2; printf done'", tmp_path)
    assert outcome.exit_code == 0
    assert (tmp_path / "stdout.txt").read_text() == "hello\ndone"
    assert (tmp_path / "stderr.txt").read_text() == "oops\n"


def test_runs_in_wd_with_exactly_the_given_env(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "AZ_BATCH_TASK_ID": "t1"}
    outcome = run("/bin/sh -c 'pwd; echo $AZ_BATCH_TASK_ID; echo x${HOME}x'", tmp_path, env=env)
    assert outcome.exit_code == 0
    lines = (tmp_path / "stdout.txt").read_text().splitlines()
    assert Path(lines[0]).resolve() == (tmp_path / "wd").resolve()
    assert lines[1] == "t1"
    assert lines[2] == "xx", "the service's own environment must not leak into the task"


def test_explicit_working_dir(tmp_path: Path) -> None:
    wd = tmp_path / "elsewhere"
    outcome = run("/bin/pwd", tmp_path, working_dir=wd)
    assert outcome.exit_code == 0
    assert Path((tmp_path / "stdout.txt").read_text().strip()).resolve() == wd.resolve()


def test_stdin_is_empty(tmp_path: Path) -> None:
    outcome = run("/bin/cat", tmp_path)  # would hang if stdin were inherited
    assert outcome.exit_code == 0


def test_signal_death_reads_128_plus_signal(tmp_path: Path) -> None:
    outcome = run("/bin/sh -c 'kill -TERM $$'", tmp_path)
    assert outcome.exit_code == 128 + signal.SIGTERM
    assert outcome.killed is False


def test_kill_sleep(tmp_path: Path) -> None:
    async def main() -> tuple[ProcessOutcome, float]:
        runner = ProcessRunner()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ProcessOutcome] = loop.create_future()
        try:
            rp = runner.start(Launch("sleep 30", tmp_path, dict(ENV)), done.set_result)
            for _ in range(200):  # wait until it really runs
                if rp.popen is not None:
                    break
                await asyncio.sleep(0.01)
            assert rp.popen is not None
            t0 = time.monotonic()
            runner.kill(rp)
            outcome = await asyncio.wait_for(done, TIMEOUT)
            return outcome, time.monotonic() - t0
        finally:
            runner.shutdown()

    outcome, elapsed = asyncio.run(main())
    assert outcome.killed is True
    assert outcome.exit_code == 137
    assert outcome.error_code is None
    assert elapsed < 5


def test_kill_right_after_start_before_spawn_completes(tmp_path: Path) -> None:
    t0 = time.monotonic()
    outcome = run("sleep 30", tmp_path, after_start=lambda runner, rp: runner.kill(rp))  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 5
    assert outcome.killed is True
    assert outcome.exit_code == 137


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_kill_takes_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "wd" / "child.pid"

    async def main() -> ProcessOutcome:
        runner = ProcessRunner()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ProcessOutcome] = loop.create_future()
        try:
            rp = runner.start(
                Launch("/bin/sh -c 'sleep 30 & echo $! > child.pid; wait'", tmp_path, dict(ENV)), done.set_result
            )
            for _ in range(300):
                if pidfile.exists() and pidfile.read_text().strip():
                    break
                await asyncio.sleep(0.01)
            runner.kill(rp)
            return await asyncio.wait_for(done, TIMEOUT)
        finally:
            runner.shutdown()

    outcome = asyncio.run(main())
    assert outcome.killed is True
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = _alive(grandchild)
    if alive:  # do not leave it behind
        os.kill(grandchild, signal.SIGKILL)
    assert not alive, "the task's children must die with it"


def test_kill_after_exit_is_harmless(tmp_path: Path) -> None:
    async def main() -> ProcessOutcome:
        runner = ProcessRunner()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ProcessOutcome] = loop.create_future()
        try:
            rp = runner.start(Launch("/bin/true", tmp_path, dict(ENV)), done.set_result)
            outcome = await asyncio.wait_for(done, TIMEOUT)
            runner.kill(rp)  # already gone: no error, no second callback
            await asyncio.sleep(0.05)
            return outcome
        finally:
            runner.shutdown()

    assert asyncio.run(main()).exit_code == 0


def test_kill_all_silences_callbacks_and_stops_processes(tmp_path: Path) -> None:
    async def main() -> tuple[list[ProcessOutcome], list[int | None]]:
        runner = ProcessRunner()
        calls: list[ProcessOutcome] = []
        rps = [runner.start(Launch("sleep 30", tmp_path / f"t{i}", dict(ENV)), calls.append) for i in range(3)]
        for _ in range(300):
            if all(rp.popen is not None for rp in rps):
                break
            await asyncio.sleep(0.01)
        runner.kill_all()
        codes: list[int | None] = []
        for rp in rps:
            assert rp.popen is not None
            for _ in range(300):
                if rp.popen.poll() is not None:
                    break
                await asyncio.sleep(0.01)
            codes.append(rp.popen.returncode)
        await asyncio.sleep(0.05)
        runner.shutdown()
        return calls, codes

    calls, codes = asyncio.run(main())
    assert calls == []
    assert codes == [-signal.SIGKILL] * 3


def test_many_concurrent_processes(tmp_path: Path) -> None:
    async def main() -> list[ProcessOutcome]:
        runner = ProcessRunner(spawn_threads=4)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[ProcessOutcome]] = []
        try:
            for i in range(20):
                fut: asyncio.Future[ProcessOutcome] = loop.create_future()
                futures.append(fut)
                runner.start(Launch(f"/bin/sh -c 'exit {i % 3}'", tmp_path / f"t{i}", dict(ENV)), fut.set_result)
            return list(await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT))
        finally:
            runner.shutdown()

    outcomes = asyncio.run(main())
    assert [o.exit_code for o in outcomes] == [i % 3 for i in range(20)]
