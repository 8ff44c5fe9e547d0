"""The agent's run journal: live runs survive a reread, ended ones go, a dead agent's processes end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from batchite.agent import run_journal
from batchite.agent.run_journal import JOURNAL, RunJournal, kill_recorded_runs


def test_live_runs_are_read_back_and_ended_ones_are_not(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    journal.started("r1", os.getpid())
    journal.started("r2", os.getpid())
    journal.ended("r1")
    journal.close()
    assert set(RunJournal(tmp_path).live) == {"r2"}


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path)
    journal.started("r1", os.getpid())
    journal.close()
    with open(tmp_path / JOURNAL, "a") as f:
        f.write("+ r2 12")  # the agent died while writing
    assert set(RunJournal(tmp_path).live) == {"r1"}


def test_the_journal_is_compacted_once_ended_runs_outnumber_live_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_journal, "_COMPACT_AFTER", 10)
    journal = RunJournal(tmp_path)
    journal.started("keep", os.getpid())
    for i in range(50):
        journal.started(f"r{i}", os.getpid())
        journal.ended(f"r{i}")
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert len(lines) < 25 and lines[0].startswith("+ keep ")
    journal.started("late", os.getpid())
    journal.close()
    assert set(RunJournal(tmp_path).live) == {"keep", "late"}


def test_a_dead_agents_processes_are_ended_and_its_records_removed(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        journal = RunJournal(tmp_path)
        journal.started("r1", child.pid)
        journal.started("gone", 2**22 - 7)  # no such process: nothing to end
        journal.close()
        legacy = tmp_path / "runs"
        legacy.mkdir()
        (legacy / "old").write_text("1 0\n")  # a pid file of an older agent, for another process
        assert kill_recorded_runs(tmp_path) == 1
        assert child.wait(timeout=10) == -9
        assert not (tmp_path / JOURNAL).exists() and not any(legacy.iterdir())
    finally:
        child.kill()
