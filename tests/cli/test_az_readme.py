"""The README's Azure CLI quickstart block (after `<!-- az-quickstart-commands -->`) run by bash as
written, so it cannot drift: only the endpoint becomes the test server's, the tasks sleep 1 s instead
of 90 s and the poll waits 0.2 s instead of 5 s. az comes first on PATH from .venv-az."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from tests.cli.conftest import AZ, AZ_TIMEOUT, REPO_ROOT
from tests.conftest import wait_for

MARKER = "<!-- az-quickstart-commands -->"
README_ENDPOINT = "http://127.0.0.1:8091"


def readme_block() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    after = text[text.index(MARKER) + len(MARKER) :]
    start = after.index("```bash\n") + len("```bash\n")
    return after[start : after.index("```", start)]


def _gone_or_deleting(get: Callable[[str], Any], ident: str) -> bool:
    try:
        return bool(get(ident).state == "deleting")
    except ResourceNotFoundError:
        return True


def test_the_readme_quickstart_runs_as_written(
    az_env: dict[str, str], endpoint: str, client: Any, cleanup: Callable[[str, str], None], tmp_path: Path
) -> None:
    del az_env  # requested for its check that .venv-az/bin/az is there; the README sets the variables itself
    block = readme_block()
    assert README_ENDPOINT in block and "sleep 90s" in block and "sleep 5;" in block
    script = block.replace(README_ENDPOINT, endpoint).replace("sleep 90s", "sleep 1s").replace("sleep 5;", "sleep 0.2;")
    cleanup("pool", "myPool")
    cleanup("job", "myJob")
    env = {"PATH": f"{AZ.parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    run = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=AZ_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # AZURE_CORE_ONLY_SHOW_ERRORS: not even a warning
    assert '"commandLine": "/bin/bash -c \'printenv | grep AZ_BATCH; sleep 1s\'"' in run.stdout
    assert "stdout.txt" in run.stdout and "IsDirectory" in run.stdout  # the file list table
    stdout = (tmp_path / "stdout.txt").read_text()
    assert "AZ_BATCH_JOB_ID=myJob" in stdout and "AZ_BATCH_TASK_ID=myTask1" in stdout
    assert (tmp_path / ".azure-batchite").is_dir()  # az wrote its config there, not in ~/.azure
    assert not (tmp_path / ".azure").exists()
    wait_for(lambda: _gone_or_deleting(client.get_job, "myJob"))
    wait_for(lambda: _gone_or_deleting(client.get_pool, "myPool"))
