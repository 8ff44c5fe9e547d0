"""`batchite serve --config FILE`: a real server takes its settings from a TOML file (seen through
the SDK), and a bad file stops `batchite serve` at once with exit code 2, naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from batchite.cli.server import free_port, start_child_server
from tests.conftest import make_client
from tests.sdk import pool_options


def test_a_server_started_from_a_file_has_its_settings(tmp_path: Path) -> None:
    config = tmp_path / "batchite.toml"
    config.write_text("pool-quota = 1\n")  # the kebab form of pool_quota
    server = start_child_server(tmp_path / "data", extra_args=["--config", str(config)])
    try:
        client = make_client(server.endpoint)
        client.create_pool(pool_options("config-first", dedicated=0))
        with pytest.raises(HttpResponseError) as err:
            client.create_pool(pool_options("config-second", dedicated=0))
        assert (err.value.status_code, err.value.error.code) == (409, "PoolQuotaReached")
        assert [p.id for p in client.list_pools()] == ["config-first"]
        client.close()
    finally:
        server.stop()


def _serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    port = str(free_port())
    cmd = [sys.executable, "-m", "batchite.cli.main", "serve", "--port", port, "--mgmt-port", "0", "--https-port", "0"]
    return subprocess.run(cmd + list(args), cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("pool_quota = -1\n", "pool_quota (in {f}): must be at least 0, not -1"),
        ("pool_qota = 1\n", "{f}: unknown key 'pool_qota'; did you mean 'pool_quota'?"),
    ],
)
def test_a_bad_file_stops_serve_with_exit_code_2_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    done = _serve("--config", str(config), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert named.format(f=config) in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and "serving" not in done.stdout
    assert not (tmp_path / "data").exists()  # it stopped before touching anything
