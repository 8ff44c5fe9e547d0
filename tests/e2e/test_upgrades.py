"""A data directory written by an older Batchite is migrated in place with its jobs intact; one
written by a newer Batchite is refused at start with a message that says so."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m

from batchite.cli.server import free_port, start_child_server
from batchite.store.sqlite import SCHEMA_VERSION
from tests.conftest import make_client
from tests.e2e.helpers import wait_nodes, wait_task

pytestmark = pytest.mark.e2e

SCHEMA_5 = Path(__file__).parent.parent / "fixtures" / "schema5" / "batchite.db"


def _data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SCHEMA_5, data / "batchite.db")
    return data


def _user_version(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_schema_5_data_directory_is_migrated_with_its_jobs(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    assert _user_version(data / "batchite.db") == 5
    server = start_child_server(data)
    client: Any = make_client(server.endpoint)
    try:
        assert _user_version(data / "batchite.db") == SCHEMA_VERSION
        tasks = {t.id: t for t in client.list_tasks("oldjob")}
        assert sorted(tasks) == ["done0", "done1", "done2", "failed"]
        assert {t.execution_info.exit_code for t in tasks.values()} == {0, 3}
        counts = client.get_job_task_counts("oldjob")
        assert (counts.task_counts.completed, counts.task_counts.succeeded, counts.task_counts.failed) == (4, 3, 1)
        assert client.get_task("waitingjob", "queued").state == "active"
        assert client.get_job_task_counts("waitingjob").task_counts.active == 1

        wait_nodes(client, "oldpool", 1, timeout=60)  # its node boots again (its agent ended with the old one)
        client.create_task("oldjob", m.BatchTaskCreateOptions(id="after", command_line="/bin/sh -c 'echo new'"))
        done = wait_task(client, "oldjob", "after", timeout=60)
        assert done.execution_info.exit_code == 0
        assert client.get_job_task_counts("oldjob").task_counts.succeeded == 4
    finally:
        client.close()
        server.stop()


def test_a_newer_data_directory_is_refused_at_start(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    with sqlite3.connect(data / "batchite.db") as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    cmd = [sys.executable, "-m", "batchite.cli.main", "serve", "--port", str(free_port()), "--data-dir", str(data)]
    done = subprocess.run([*cmd, "--mgmt-port", "0", "--https-port", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert f"written by a newer Batchite (schema {SCHEMA_VERSION + 1}" in said, said
    assert "upgrade Batchite" in said and "Traceback" not in done.stderr
    assert _user_version(data / "batchite.db") == SCHEMA_VERSION + 1  # left as it was
