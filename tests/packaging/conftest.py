"""The wheel built from this checkout, installed with its `pytest` extra into a fresh venv (from
the package registry): one venv for the whole session, the tests run its `batchite` and `pytest`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the child processes must not inherit: they run the installed wheel, nothing of this checkout.
NOT_INHERITED = ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONHOME")


@dataclass(frozen=True)
class Venv:
    root: Path
    wheel: Path
    setup_seconds: float  # building the wheel and installing it

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"} | extra

    def run(self, *args: str | Path, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], cwd=cwd, env=self.env(**env), capture_output=True, text=True, timeout=timeout
        )


def _checked(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}"


def _source_copy(into: Path) -> Path:
    """What the wheel is built from (pip builds in the tree: a copy keeps build/ out of the checkout)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", into / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, into / name)
    return into


@pytest.fixture(scope="session")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    work = tmp_path_factory.mktemp("packaging")
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    source = _source_copy(work / "source")
    _checked(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(source)], work, env
    )
    wheels = sorted((work / "dist").glob("batchite-*.whl"))
    assert len(wheels) == 1, f"expected one batchite wheel, found {wheels}"
    _checked([sys.executable, "-m", "venv", str(work / "venv")], work, env)
    pip = [str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    _checked([*pip, f"{wheels[0]}[pytest]"], work, env)
    yield Venv(work / "venv", wheels[0], time.monotonic() - started)
