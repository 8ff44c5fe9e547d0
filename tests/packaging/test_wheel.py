"""The wheel has what the service needs at run time, and serves from a venv of its own."""

from __future__ import annotations

import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest

import batchite
from batchite.cli.server import free_port, terminate, wait_healthy
from tests.conftest import make_client
from tests.packaging.conftest import REPO, Venv

pytestmark = pytest.mark.packaging


def test_the_wheel_holds_every_file_of_the_package(installed_venv: Venv) -> None:
    src = REPO / "src"
    wanted = {
        p.relative_to(src).as_posix()
        for p in src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in p.as_posix() and p.suffix != ".pyc"
    }
    names = set(zipfile.ZipFile(installed_venv.wheel).namelist())
    assert wanted - names == set()
    assert any(n.startswith("batchite/portal/templates/") for n in names)
    assert "batchite/portal/static/vendor/htmx.min.js" in names
    dist_info = f"batchite-{batchite.__version__}.dist-info"
    entry_points = zipfile.ZipFile(installed_venv.wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "[pytest11]" in entry_points and "batchite.pytest_plugin" in entry_points


def test_batchite_and_python_m_batchite_print_the_version(installed_venv: Venv, tmp_path: Path) -> None:
    for cmd in ([installed_venv.bin / "batchite"], [installed_venv.python, "-m", "batchite"]):
        result = installed_venv.run(*cmd, "--version", cwd=tmp_path)
        assert (result.returncode, result.stdout.strip()) == (0, f"batchite {batchite.__version__}"), result.stderr


def test_the_installed_service_serves_the_api_and_the_portal(installed_venv: Venv, tmp_path: Path) -> None:
    port = free_port()
    cmd = [installed_venv.python, "-m", "batchite", "serve", "--port", str(port), "--mgmt-port", "0"]
    cmd += ["--https-port", "0", "--data-dir", str(tmp_path / "data"), "--stop-agents"]
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=installed_venv.env(), stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert wait_healthy(endpoint, timeout=60, process=proc), (tmp_path / "server.log").read_text()[-3000:]
        # the portal's templates and static files came with the wheel
        with urllib.request.urlopen(f"{endpoint}/portal/", timeout=10) as resp:
            assert resp.status == 200 and "<html" in resp.read().decode().lower()
        with urllib.request.urlopen(f"{endpoint}/portal/static/vendor/htmx.min.js", timeout=10) as resp:
            assert resp.status == 200 and len(resp.read()) > 1000
        client = make_client(endpoint)
        try:
            assert list(client.list_pools()) == []
        finally:
            client.close()
    finally:
        terminate(proc)
