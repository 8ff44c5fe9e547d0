"""`batchite quickstart` as a newcomer runs it: against the service given, real work, clean-up."""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def test_quickstart_runs_a_word_count_job_and_cleans_up(endpoint: str, client: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "batchite.cli.main", "quickstart", "--endpoint", endpoint, "--files", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All tasks succeeded." in result.stdout
    assert result.stdout.count("words in input") == 3
    assert "quickstart-pool" not in [p.id for p in client.list_pools()]
    assert "quickstart-job" not in [j.id for j in client.list_jobs()]
