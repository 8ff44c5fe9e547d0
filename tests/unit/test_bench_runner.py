"""bench/runner.py: its table, its results files and its exit status (fake rows, no servers)."""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from bench import runner
from bench.runner import Context, Figure


def figure(name: str = "", passed: bool = True, **fields: object) -> Figure:
    values: dict[str, object] = {"value": 1234.5, "unit": "tasks/s", "target": ">= 1x"} | fields
    return Figure("row", name, passed=passed, **values)  # type: ignore[arg-type]


def fake_rows(monkeypatch: pytest.MonkeyPatch, rows: dict[str, Callable[[Context], list[Figure]]]) -> None:
    """Rows named as given, each a module bench.rows.fake_<n> whose run is the function given."""
    table: dict[str, str] = {}
    for number, (name, run) in enumerate(rows.items()):
        module = types.ModuleType(f"bench.rows.fake_{number}")
        module.NAME = name  # type: ignore[attr-defined]
        module.run = run  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        table[name] = f"fake_{number}"
    monkeypatch.setattr(runner, "ROWS", table)


@pytest.fixture
def results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "results"
    monkeypatch.setattr(runner, "RESULTS", path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # main puts bench/ on it
    return path


def test_format_large_small_and_missing_values() -> None:
    assert runner._format(12345.6, "tasks/s") == "12,346 tasks/s"
    assert runner._format(100.0) == "100"
    assert runner._format(0.456, "s") == "0.46 s"
    assert runner._format(-250.0, "ms") == "-250 ms"
    assert runner._format(None, "s") == "-"


def test_label_is_the_row_alone_for_its_main_figure() -> None:
    assert figure().label == "row"
    assert figure("vs Ray").label == "row vs Ray"


def test_table_has_one_line_per_figure_with_reference_ratio_and_result() -> None:
    text = runner.table(
        [
            figure("vs ceiling", reference=2000.0, reference_name="direct spawn", ratio=0.61725),
            figure("pool idle", passed=False, value=1.5, unit="s", target="< 1 s"),
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "| row | figure | reference | ratio | target | result |"
    assert lines[1] == "| --- | --- | --- | --- | --- | --- |"
    assert lines[2] == "| row vs ceiling | 1,234 tasks/s | 2,000 tasks/s (direct spawn) | 0.62 | >= 1x | pass |"
    assert lines[3] == "| row pool idle | 1.50 s | - | - | < 1 s | FAIL |"
    assert len(lines) == 4 and text.endswith("\n")


def test_results_files_hold_the_table_the_machine_and_every_figure(results: Path) -> None:
    figures = [figure("a", reference=10.0, ratio=123.45, notes="n"), figure("b", passed=False, value=float("nan"))]
    runner.write_results(figures)
    markdown = (results / "latest.md").read_text()
    assert markdown.startswith("# Batchite benchmark, ")
    assert runner.table(figures, notes=True) in markdown
    assert "| pass | n |" in markdown  # the notes, in a last column
    assert f'"cpus": {os.cpu_count()}' in markdown
    document = json.loads((results / "latest.json").read_text())
    assert document["machine"] == json.loads(json.dumps(runner.machine()))
    assert document["time"].endswith("Z")
    first, second = document["figures"]
    assert first == {
        "row": "row",
        "name": "a",
        "value": 1234.5,
        "unit": "tasks/s",
        "target": ">= 1x",
        "passed": True,
        "reference": 10.0,
        "reference_name": "",
        "ratio": 123.45,
        "notes": "n",
        "label": "row a",
    }
    assert second["label"] == "row b" and second["passed"] is False and math.isnan(second["value"])


def test_results_are_replaced_by_the_next_run(results: Path) -> None:
    runner.write_results([figure("old")])
    runner.write_results([figure("new")])
    labels = [f["label"] for f in json.loads((results / "latest.json").read_text())["figures"]]
    assert labels == ["row new"]
    assert "row old" not in (results / "latest.md").read_text()


def test_exit_status_is_0_when_every_figure_passes(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    fake_rows(monkeypatch, {"one": lambda c: [figure()], "two": lambda c: [figure("x"), figure("y")]})
    assert runner.main([]) == 0
    labels = [f["label"] for f in json.loads((results / "latest.json").read_text())["figures"]]
    assert labels == ["row", "row x", "row y"]


def test_exit_status_is_1_when_a_figure_fails(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    fake_rows(monkeypatch, {"one": lambda c: [figure()], "two": lambda c: [figure("x", passed=False)]})
    assert runner.main([]) == 1
    assert runner.main(["--rows", "one"]) == 0


def test_a_row_that_raises_fails_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    def broken(context: Context) -> list[Figure]:
        raise ValueError("no server")

    fake_rows(monkeypatch, {"broken": broken, "fine": lambda c: [figure("fine")]})
    assert runner.main([]) == 1
    first, second = json.loads((results / "latest.json").read_text())["figures"]
    assert (first["label"], first["target"], first["passed"]) == ("broken", "runs", False)
    assert first["notes"] == "ValueError: no server"
    assert second["label"] == "row fine" and second["passed"] is True


def test_rows_run_in_the_order_asked_with_one_context(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    seen: list[tuple[str, bool, Path]] = []

    def row(name: str) -> Callable[[Context], list[Figure]]:
        def run(context: Context) -> list[Figure]:
            seen.append((name, context.quick, context.scratch))
            context.shared[name] = len(context.shared)
            return [figure(name, value=float(context.shared[name]))]  # type: ignore[arg-type]

        return run

    fake_rows(monkeypatch, {"a": row("a"), "b": row("b"), "c": row("c")})
    assert runner.main(["--rows", "c, a", "--quick"]) == 0
    assert [(name, quick) for name, quick, _ in seen] == [("c", True), ("a", True)]
    assert seen[0][2] == seen[1][2] and not seen[0][2].exists()  # one scratch directory, removed at the end
    values = [f["value"] for f in json.loads((results / "latest.json").read_text())["figures"]]
    assert values == [0.0, 1.0]  # context.shared is the run's


def test_an_unknown_row_is_refused(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    fake_rows(monkeypatch, {"one": lambda c: [figure()]})
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["--rows", "one,nope"])
    assert exit_info.value.code == 2
    assert not results.exists()


def test_context_directories_are_new_and_passable(tmp_path: Path) -> None:
    context = Context(quick=True, scratch=tmp_path, args=argparse.Namespace())
    first, second = context.directory("throughput"), context.directory("throughput")
    assert first != second and first.parent == tmp_path and first.name.startswith("throughput-")
    assert stat.S_IMODE(first.stat().st_mode) == 0o711


def test_every_registered_row_has_a_module_named_as_the_registry_says() -> None:
    rows = Path(runner.__file__).parent / "rows"
    for name, module in runner.ROWS.items():
        assert name and module.isidentifier()
        if (rows / f"{module}.py").exists():
            text = (rows / f"{module}.py").read_text()
            assert f'NAME = "{name}"' in text
