"""`batchite quickstart --storage`: inputs in as SAS resource files, counts and logs out as output files."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from batchite.cli.azurite import AzuriteServer
from batchite.cli.main import app as cli
from batchite.cli.server import ChildServer

pytestmark = pytest.mark.e2e


def test_storage_quickstart(storage_server: ChildServer, azurite: AzuriteServer) -> None:
    args = [
        "quickstart",
        "--storage",
        "--files",
        "3",
        "--endpoint",
        storage_server.endpoint,
        "--storage-connection-string",
        azurite.connection_string,
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Uploaded 3 input files" in out
    for i in range(3):
        assert f"counts/input{i}.count:" in out
        assert f"logs/count-input{i}/stdout.txt" in out
    assert "All tasks succeeded." in out
    assert "Deleted the job, the pool and the containers." in out
