"""The README's account management program (Python), run as written against a server of its own:
only its two lines naming the endpoint and the CA are pointed at the test's server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchite.cli.server import ChildServer, start_child_server

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### The account management program, in Python"


def readme_program() -> str:
    text = README.read_text()
    after = text[text.index(HEADING) :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "the README's program block is missing"
    return found.group(1)


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-readme"), mgmt_port=0)
    yield child
    child.stop()


def test_the_readme_account_management_program_runs_as_written(own_server: ChildServer, tmp_path: Path) -> None:
    program = readme_program()
    for line in ('MGMT = "https://127.0.0.1:8443"', 'CA = ".batchite/tls/ca.pem"'):
        assert line in program
    program = program.replace('MGMT = "https://127.0.0.1:8443"', f'MGMT = "{own_server.mgmt_endpoint}"')
    program = program.replace('CA = ".batchite/tls/ca.pem"', f'CA = "{own_server.ca_path}"')
    script = tmp_path / "manage_accounts.py"
    script.write_text(program)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "Microsoft.Batch is Registered in" in out
    assert "accounts allowed in westeurope: 3" in out
    assert own_server.https_endpoint is not None
    assert f"sampleaccount {own_server.https_endpoint.split('://')[1]} pools allowed: 100" in out
    assert re.search(r"images: [1-9]", out)
    assert "account: devbatchaccount1" in out and "account: sampleaccount westeurope" in out
