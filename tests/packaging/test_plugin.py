"""A user's suite, in a directory of its own, run by the fresh venv's pytest with the plugin the
wheel registers (its pytest11 entry point), and with -p batchite.pytest_plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchite.cli.azurite import find_azurite
from tests.packaging.conftest import Venv

pytestmark = pytest.mark.packaging

USER_TESTS = """
from pathlib import Path
import time

from azure.batch import models as m

IMAGE = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")
VM = m.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id="batch.node.ubuntu 22.04")


def test_a_task_runs_and_writes_its_output(batchite, batch_client):
    assert batchite.account_name == "devbatchaccount1" and batchite.data_dir.is_dir()
    pool = m.BatchPoolCreateOptions(id="pool1", vm_size="standard_d2s_v3", virtual_machine_configuration=VM,
                                    target_dedicated_nodes=1)
    batch_client.create_pool(pool)
    batch_client.create_job(m.BatchJobCreateOptions(id="job1", pool_info=m.BatchPoolInfo(pool_id="pool1")))
    batch_client.create_task("job1", m.BatchTaskCreateOptions(id="hello", command_line="echo hello from batchite"))
    deadline = time.monotonic() + 60
    while batch_client.get_task("job1", "hello").state != m.BatchTaskState.COMPLETED:
        assert time.monotonic() < deadline, "the task did not complete within 60 s"
        time.sleep(0.1)
    assert batch_client.get_task("job1", "hello").execution_info.exit_code == 0
    output = b"".join(batch_client.download_task_file("job1", "hello", "stdout.txt")).decode()
    assert output.strip() == "hello from batchite"


def record(batchite):
    with open(Path(__file__).with_name("endpoints.txt"), "a") as f:
        f.write(batchite.endpoint + "\\n")


def test_the_server_is_shared_with_the_first_test(batchite, batch_client):
    record(batchite)
    assert batch_client.get_pool("pool1").id == "pool1"


def test_a_second_test_sees_a_server(batchite):
    record(batchite)
"""


STORAGE_TEST = """
import time

import pytest
from azure.batch import models as m
from azure.storage.blob import BlobServiceClient

IMAGE = m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts")
VM = m.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id="batch.node.ubuntu 22.04")


@pytest.mark.batchite_storage
def test_a_resource_file_comes_from_the_linked_storage(batchite, batch_client):
    blobs = BlobServiceClient.from_connection_string(batchite.storage_connection_string)
    blobs.create_container("inputs").upload_blob("data.txt", b"from azurite")
    pool = m.BatchPoolCreateOptions(id="pool1", vm_size="standard_d2s_v3", virtual_machine_configuration=VM,
                                    target_dedicated_nodes=1)
    batch_client.create_pool(pool)
    batch_client.create_job(m.BatchJobCreateOptions(id="job1", pool_info=m.BatchPoolInfo(pool_id="pool1")))
    task = m.BatchTaskCreateOptions(id="cat", command_line="cat data.txt",
                                    resource_files=[m.ResourceFile(auto_storage_container_name="inputs")])
    batch_client.create_task("job1", task)
    deadline = time.monotonic() + 60
    while batch_client.get_task("job1", "cat").state != m.BatchTaskState.COMPLETED:
        assert time.monotonic() < deadline, "the task did not complete within 60 s"
        time.sleep(0.1)
    assert b"".join(batch_client.download_task_file("job1", "cat", "stdout.txt")) == b"from azurite"


def test_no_storage_unless_asked(batchite):
    assert batchite.storage_connection_string is None  # function scope: this test is not marked
    assert batchite.management_endpoint.startswith("https://127.0.0.1:")
"""


def _suite(tmp_path: Path) -> Path:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    return tmp_path


def _endpoints(suite: Path) -> list[str]:
    path = suite / "endpoints.txt"
    endpoints = path.read_text().split()
    path.unlink()
    return endpoints


def test_a_user_suite_passes_with_the_plugin_loaded_by_its_entry_point(installed_venv: Venv, tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    result = installed_venv.run(installed_venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=suite)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
    endpoints = _endpoints(suite)
    assert len(endpoints) == 2 and len(set(endpoints)) == 1  # one server for the session


def test_function_scope_gives_each_test_a_fresh_server(installed_venv: Venv, tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    args = ["-q", "-p", "no:cacheprovider", "-p", "batchite.pytest_plugin", "--batchite-scope", "function"]
    result = installed_venv.run(installed_venv.python, "-m", "pytest", *args, "-k", "second or shared", cwd=suite)
    assert "1 failed, 1 passed" in result.stdout, result.stdout[-3000:]  # a fresh server has no pool1
    assert "ResourceNotFoundError" in result.stdout
    endpoints = _endpoints(suite)
    assert len(endpoints) == 2 and len(set(endpoints)) == 2
    (suite / "pytest.ini").write_text("[pytest]\nbatchite_scope = function\n")  # the ini option
    pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "second or shared"]
    result = installed_venv.run(installed_venv.python, *pytest_args, cwd=suite)
    assert "1 failed, 1 passed" in result.stdout, result.stdout[-3000:]
    assert len(set(_endpoints(suite))) == 2


def test_the_quota_option_reaches_the_server(installed_venv: Venv, tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    result = installed_venv.run(
        installed_venv.python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--batchite-quota",
        "pool=0",
        "-k",
        "task_runs",
        cwd=suite,
    )
    assert result.returncode == 1 and "PoolQuota" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batchite-quota", "nodes=3"], "--batchite-quota takes NAME=N with NAME one of pool, dedicated-core"),
        (["--batchite-quota", "pool=many"], "--batchite-quota pool must be a whole number of 0 or more"),
        (["--batchite-time-scale", "0"], "--batchite-time-scale must be a positive number, not '0'"),
        (["--batchite-scope", "forever"], "--batchite-scope must be one of session"),
    ],
)
def test_a_bad_option_is_a_usage_error(installed_venv: Venv, tmp_path: Path, args: list[str], message: str) -> None:
    suite = _suite(tmp_path)
    result = installed_venv.run(installed_venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, cwd=suite)
    assert result.returncode == 4, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_linked_storage_on_azurite_by_the_marker_or_the_option(installed_venv: Venv, tmp_path: Path) -> None:
    azurite = find_azurite()  # the checkout's .azurite (scripts/azurite installs it)
    if azurite is None:
        pytest.skip("Azurite is not installed (scripts/azurite)")
    (tmp_path / "test_storage.py").write_text(STORAGE_TEST)
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--batchite-scope", "function", "--batchite-management"]
    run = installed_venv.run(installed_venv.python, *args, cwd=tmp_path, BATCHITE_AZURITE_BIN=str(azurite))
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    run = installed_venv.run(
        installed_venv.python,
        *args,
        "--batchite-storage",
        "-k",
        "unless",
        cwd=tmp_path,
        BATCHITE_AZURITE_BIN="/bin/false",
    )
    assert run.returncode == 1 and "Azurite for the linked storage did not start" in run.stdout, run.stdout[-3000:]
    assert "Traceback" not in run.stdout
