"""House rules the code itself must keep: one writer of lifecycle states, no SQL outside the store."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "batchite"
STATE_FIELDS = {"state", "allocation_state", "previous_state", "state_transition_time"}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "wire" not in p.relative_to(SRC).parts[:1])


def test_only_transition_writes_a_lifecycle_state() -> None:
    writers = []
    for path in _modules():
        if path == SRC / "domain" / "states.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign | ast.AugAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in STATE_FIELDS:
                    writers.append(f"{path.relative_to(SRC)}:{node.lineno} .{target.attr}")
    assert writers == [], "states are written by domain.states.transition() only"


def test_no_sql_outside_the_store() -> None:
    found = []
    for path in _modules():
        if path.relative_to(SRC).parts[0] == "store":
            continue
        text = path.read_text()
        for word in ("json_extract(", "SELECT ", "INSERT INTO", "DELETE FROM"):
            if word in text:
                found.append(f"{path.relative_to(SRC)}: {word}")
    assert found == []
