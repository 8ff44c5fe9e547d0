"""The account part of the Azure CLI quickstart, offline, through the real `az` (azure-cli 2.91.0 in
.venv-az) against Batchite's management plane: `batchite az-setup` registers Batchite as a custom
cloud and signs in with the development service principal, then resource groups, Batch accounts,
keys, `account login`, location quotas, applications and application packages (uploaded to the
linked Azurite) are made and read with az as a user types them. The config directory is the
module's own; az is never given the AZURE_BATCH_* variables, so `account login` is what points it
at an account."""

from __future__ import annotations

import json
import shlex
import ssl
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from batchite.cli.az_setup import CLOUD_NAME
from batchite.cli.azurite import AzuriteServer
from batchite.cli.server import ChildServer, start_child_server
from batchite.mgmt.subscriptions import DEV_SUBSCRIPTION_ID
from batchite.mgmt.tokens import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_TENANT_ID
from batchite.settings import Settings
from tests.cli.conftest import AZ, AZ_TIMEOUT, AzResult, _parse, az_environment, ok
from tests.conftest import wait_for
from tests.e2e.storage.conftest import azurite, linked_server  # noqa: F401  (the session's Azurite)
from tests.e2e.storage.support import package_zip

pytestmark = pytest.mark.e2e

LOCATION = "eastus2"
AzRun = Callable[..., AzResult]


@pytest.fixture(scope="module")
def arm_server(tmp_path_factory: pytest.TempPathFactory, azurite: AzuriteServer) -> Iterator[ChildServer]:  # noqa: F811
    yield from linked_server(tmp_path_factory, azurite, "batchite-az-account")


def _offline_env(server: ChildServer, config_dir: Path) -> dict[str, str]:
    """The conftest's offline environment without the AZURE_BATCH_* variables (they would win over
    what `az batch account login` stores)."""
    env = az_environment(server.https_endpoint or server.endpoint, config_dir)
    return {name: value for name, value in env.items() if not name.startswith("AZURE_BATCH_")}


def az_setup(server: ChildServer, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    assert server.mgmt_endpoint is not None
    args = ["--mgmt-endpoint", server.mgmt_endpoint, "--ca", str(server.ca_path), "--az", str(AZ), *extra]
    return subprocess.run(
        [sys.executable, "-m", "batchite.cli.main", "az-setup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=AZ_TIMEOUT * 4,
        check=False,
    )


def runner(env: dict[str, str]) -> AzRun:
    def run(*args: str) -> AzResult:
        proc = subprocess.run(
            [str(AZ), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=AZ_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return AzResult(proc.returncode, _parse(proc.stdout), proc.stderr)

    return run


@pytest.fixture(scope="module")
def signed_in(arm_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """az signed in to Batchite by `batchite az-setup`, with the CA bundle it printed."""
    if not AZ.is_file():
        pytest.fail(f"{AZ} is missing: run `bash scripts/azure-cli` (the test command installs it)", pytrace=False)
    env = _offline_env(arm_server, tmp_path_factory.mktemp("az-account-config"))
    done = az_setup(arm_server, env)
    assert done.returncode == 0, done.stdout + done.stderr
    exports = [line for line in done.stdout.splitlines() if line.startswith("export REQUESTS_CA_BUNDLE=")]
    assert exports, done.stdout
    env["REQUESTS_CA_BUNDLE"] = exports[-1].split("=", 1)[1]
    return env


@pytest.fixture(scope="module")
def az(signed_in: dict[str, str]) -> AzRun:
    return runner(signed_in)


@pytest.fixture(scope="module")
def group(az: AzRun) -> str:
    created = ok(az("group", "create", "--name", "qsBatch", "--location", LOCATION))
    assert created["name"] == "qsBatch" and created["properties"]["provisioningState"] == "Succeeded"
    return "qsBatch"


def storage_id(group: str, name: str = "devstoreaccount1") -> str:
    """The ARM id az takes for `--storage-account` without looking it up (Batchite serves no
    Microsoft.Storage): the linked storage account's name."""
    scope = f"/subscriptions/{DEV_SUBSCRIPTION_ID}/resourceGroups/{group}"
    return f"{scope}/providers/Microsoft.Storage/storageAccounts/{name}"


@pytest.fixture(scope="module")
def account(az: AzRun, group: str) -> str:
    """The quickstart's account, linked to storage as `--storage-account` links it."""
    created = ok(
        az(
            "batch", "account", "create",
            "--name", "mybatchaccount",
            "--storage-account", storage_id(group),
            "--resource-group", group,
            "--location", LOCATION,
        )
    )  # fmt: skip
    assert created["provisioningState"] == "Succeeded"
    assert created["autoStorage"]["storageAccountId"] == storage_id(group)
    return "mybatchaccount"


def test_az_setup_registers_the_cloud_and_signs_in(az: AzRun, arm_server: ChildServer) -> None:
    cloud = ok(az("cloud", "show"))
    assert cloud["name"] == CLOUD_NAME and cloud["isActive"] is True
    assert cloud["endpoints"]["resourceManager"] == f"{arm_server.mgmt_endpoint}/"
    assert cloud["endpoints"]["activeDirectory"] == arm_server.mgmt_endpoint
    signed = ok(az("account", "show"))
    assert signed["id"] == DEV_SUBSCRIPTION_ID and signed["tenantId"] == DEV_TENANT_ID
    assert signed["user"] == {"name": DEV_CLIENT_ID, "type": "servicePrincipal"}
    assert ok(az("config", "get", "core.instance_discovery"))["value"] == "false"


def test_account_create_show_and_list(az: AzRun, arm_server: ChildServer, group: str, account: str) -> None:
    shown = ok(az("batch", "account", "show", "--name", account, "--resource-group", group))
    assert shown["name"] == account and shown["location"] == LOCATION
    assert shown["accountEndpoint"] == (arm_server.https_endpoint or "").removeprefix("https://")
    assert shown["dedicatedCoreQuota"] == Settings().dedicated_core_quota
    everywhere = ok(az("batch", "account", "list", "--query", "[].name"))
    assert account in everywhere and "devbatchaccount1" in everywhere
    assert ok(az("batch", "account", "list", "--resource-group", group, "--query", "[].name")) == [account]
    missing = az("batch", "account", "show", "--name", "nosuchaccount", "--resource-group", group)
    assert missing.returncode != 0 and "ResourceNotFound" in missing.stderr


def test_keys_list_and_renew_and_the_old_key_stops_working(az: AzRun, group: str, account: str) -> None:
    before = ok(az("batch", "account", "keys", "list", "--name", account, "--resource-group", group))
    assert before["accountName"] == account and before["primary"] != before["secondary"]
    shown = ok(az("batch", "account", "show", "--name", account, "--resource-group", group))
    endpoint = f"https://{shown['accountEndpoint']}"

    def pools_with(key: str) -> AzResult:
        return az(
            "batch", "pool", "list", "--account-name", account, "--account-key", key, "--account-endpoint", endpoint
        )

    assert ok(pools_with(before["primary"])) == []
    after = ok(
        az("batch", "account", "keys", "renew", "--name", account, "--resource-group", group, "--key-name", "primary")
    )
    assert after["primary"] != before["primary"] and after["secondary"] == before["secondary"]
    refused = pools_with(before["primary"])
    assert refused.returncode != 0 and "AuthenticationFailed" in refused.stderr
    assert ok(pools_with(after["primary"])) == []
    assert ok(pools_with(after["secondary"])) == []


def test_account_login_with_shared_key_points_az_batch_at_the_account(az: AzRun, group: str, account: str) -> None:
    shown = ok(
        az("batch", "account", "login", "--name", account, "--resource-group", group, "--shared-key-auth", "--show")
    )
    keys = ok(az("batch", "account", "keys", "list", "--name", account, "--resource-group", group))
    assert shown["account"] == account and shown["primaryKey"] == keys["primary"]
    assert shown["endpoint"].startswith("https://127.0.0.1:")
    assert az("batch", "account", "login", "-n", account, "-g", group, "--shared-key-auth").returncode == 0
    ok(az("batch", "job", "create", "--id", "login-job", "--pool-id", "nopool"))
    assert ok(az("batch", "job", "show", "--job-id", "login-job", "--query", "id")) == "login-job"
    ok(az("batch", "job", "delete", "--job-id", "login-job", "--yes"))


def test_account_login_with_aad_gets_a_token_the_data_plane_refuses(az: AzRun, group: str, account: str) -> None:
    shown = ok(az("batch", "account", "login", "--name", account, "--resource-group", group, "--show"))
    assert shown["tokenType"] == "Bearer" and shown["resource"] == "https://batch.core.windows.net/"
    assert shown["tenant"] == DEV_TENANT_ID and shown["accessToken"].count(".") == 2
    refused = az("batch", "pool", "list")  # Batchite's data plane takes Shared Key only
    assert refused.returncode != 0
    assert "AuthenticationFailed" in refused.stderr and "Bearer" in refused.stderr
    assert az("batch", "account", "login", "-n", account, "-g", group, "--shared-key-auth").returncode == 0
    assert ok(az("batch", "pool", "list")) == []


def test_location_quotas_show_and_list_skus(az: AzRun) -> None:
    assert ok(az("batch", "location", "quotas", "show", "--location", LOCATION)) == {
        "accountQuota": Settings().location_account_quota
    }
    unknown = az("batch", "location", "quotas", "show", "--location", "nowhere")
    assert unknown.returncode != 0 and "LocationNotFound" in unknown.stderr
    skus = ok(az("batch", "location", "list-skus", "--location", LOCATION))
    assert skus and all(sku["name"] and sku["familyName"] for sku in skus)


def test_application_and_package_create_upload_and_activate(
    az: AzRun, group: str, account: str, tmp_path: Path
) -> None:
    app = ok(az("batch", "application", "create", "-n", account, "-g", group, "--application-name", "myapp"))
    assert app["name"] == "myapp" and app["allowUpdates"] is True
    package = tmp_path / "myapp.zip"
    package.write_bytes(package_zip("1.0"))  # bin/hello.sh, 0755, says "hello from 1.0"
    made = ok(
        az(
            "batch", "application", "package", "create",
            "-n", account, "-g", group,
            "--application-name", "myapp", "--version-name", "1.0",
            "--package-file", str(package),
        )
    )  # fmt: skip
    assert made["name"] == "1.0" and made["state"] == "Active" and made["format"] == "zip"
    listed = ok(
        az("batch", "application", "package", "list", "-n", account, "-g", group, "--application-name", "myapp")
    )
    assert [v["name"] for v in listed] == ["1.0"]
    ok(az("batch", "application", "set", "-n", account, "-g", group, "--application-name", "myapp",
          "--default-version", "1.0"))  # fmt: skip
    shown = ok(az("batch", "application", "show", "-n", account, "-g", group, "--application-name", "myapp"))
    assert shown["defaultVersion"] == "1.0"
    # The data plane sees the active package at once.
    assert az("batch", "account", "login", "-n", account, "-g", group, "--shared-key-auth").returncode == 0
    summary = ok(az("batch", "application", "summary", "show", "--application-id", "myapp"))
    assert summary["id"] == "myapp" and summary["versions"] == ["1.0"]


def test_a_task_on_the_new_account_runs_the_package(az: AzRun, group: str, account: str, tmp_path: Path) -> None:
    """The package made with az above, on a pool of the account made with az, used by a task: the
    whole account part, then the data-plane part, with nothing but az."""
    assert az("batch", "account", "login", "-n", account, "-g", group, "--shared-key-auth").returncode == 0
    ok(
        az(
            "batch", "pool", "create", "--id", "apppool", "--vm-size", "standard_d2s_v3",
            "--target-dedicated-nodes", "1",
            "--image", "canonical:0001-com-ubuntu-server-jammy:22_04-lts",
            "--node-agent-sku-id", "batch.node.ubuntu 22.04",
            "--application-package-references", "myapp#1.0",
        )
    )  # fmt: skip
    ok(az("batch", "job", "create", "--id", "appjob", "--pool-id", "apppool"))
    ok(az("batch", "task", "create", "--job-id", "appjob", "--task-id", "use",
          "--command-line", "/bin/sh -c 'sh $AZ_BATCH_APP_PACKAGE_myapp_1_0/bin/hello.sh'"))  # fmt: skip
    task = wait_for(
        lambda: (
            (t := ok(az("batch", "task", "show", "--job-id", "appjob", "--task-id", "use")))["state"] == "completed"
            and t
        ),
        timeout=60,
    )

    def output(name: str) -> str:
        ok(az("batch", "task", "file", "download", "--job-id", "appjob", "--task-id", "use",
              "--file-path", name, "--destination", str(tmp_path / name)))  # fmt: skip
        return (tmp_path / name).read_text()

    assert task["executionInfo"]["exitCode"] == 0, output("stderr.txt")
    assert output("stdout.txt") == "hello from 1.0\n"
    ok(az("batch", "job", "delete", "--job-id", "appjob", "--yes"))
    ok(az("batch", "pool", "delete", "--pool-id", "apppool", "--yes"))


def test_every_account_shows_the_linked_storage_as_its_auto_storage(az: AzRun, group: str) -> None:
    """The service's linked storage serves every account's packages, so every account shows it (an
    account given no --storage-account too, and the configured ones), and az's application
    commands, which want autoStorage, work on them."""
    made = ok(az("batch", "account", "create", "-n", "nostorage1", "-g", group, "-l", "westus2"))
    assert made["autoStorage"]["storageAccountId"] == storage_id(group)
    assert ok(az("batch", "application", "create", "-n", "nostorage1", "-g", group, "--application-name", "a"))
    dev = ok(az("batch", "account", "show", "-n", "devbatchaccount1", "-g", "batchite"))
    assert dev["autoStorage"]["storageAccountId"] == storage_id("batchite")
    assert ok(
        az("batch", "application", "create", "-n", "devbatchaccount1", "-g", "batchite", "--application-name", "b")
    )
    ok(
        az(
            "batch",
            "application",
            "delete",
            "-n",
            "devbatchaccount1",
            "-g",
            "batchite",
            "--application-name",
            "b",
            "--yes",
        )
    )
    by_name = az("batch", "account", "set", "-n", "nostorage1", "-g", group, "--storage-account", "mystorageaccount")
    assert by_name.returncode != 0 and "NotFound" in by_name.stderr  # a bare name needs Microsoft.Storage
    ok(az("batch", "account", "delete", "-n", "nostorage1", "-g", group, "--yes"))
    assert "nostorage1" not in ok(az("batch", "account", "list", "--query", "[].name"))


def test_without_linked_storage_az_refuses_application_commands(tmp_path: Path) -> None:
    child = start_child_server(tmp_path / "data", mgmt_port=0)
    try:
        env = _offline_env(child, tmp_path / "az-config")
        done = az_setup(child, env)
        assert done.returncode == 0, done.stdout + done.stderr
        env["REQUESTS_CA_BUNDLE"] = str(child.ca_path.parent / "az-ca-bundle.pem")
        run = runner(env)
        shown = ok(run("batch", "account", "show", "-n", "devbatchaccount1", "-g", "batchite"))
        assert shown["autoStorage"] is None
        refused = run(
            "batch", "application", "create", "-n", "devbatchaccount1", "-g", "batchite", "--application-name", "a"
        )
        assert refused.returncode != 0 and "needs auto-storage enabled" in refused.stderr  # az's own check
    finally:
        child.stop()


def test_az_setup_again_and_undo(arm_server: ChildServer, tmp_path: Path) -> None:
    env = _offline_env(arm_server, tmp_path / "az-config")
    assert az_setup(arm_server, env).returncode == 0
    again = az_setup(arm_server, env)  # an update of the registered cloud, signed in again
    assert again.returncode == 0, again.stderr
    undone = az_setup(arm_server, env, "--undo")
    assert undone.returncode == 0, undone.stderr
    run = runner(env)
    assert ok(run("cloud", "show", "--query", "name")) == "AzureCloud"
    assert CLOUD_NAME not in ok(run("cloud", "list", "--query", "[].name"))


def test_az_setup_without_the_ca_says_so(arm_server: ChildServer, tmp_path: Path) -> None:
    env = _offline_env(arm_server, tmp_path / "az-config")
    assert arm_server.mgmt_endpoint is not None
    done = subprocess.run(
        [sys.executable, "-m", "batchite.cli.main", "az-setup", "--mgmt-endpoint", arm_server.mgmt_endpoint,
         "--ca", str(tmp_path / "missing.pem"), "--az", str(AZ)],
        env=env, capture_output=True, text=True, timeout=AZ_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "No CA at" in done.stderr


README = Path(__file__).resolve().parents[2] / "README.md"
README_MARKER = "<!-- az-account-commands -->"


def readme_commands() -> list[str]:
    """The lines of the README's bash block after the marker, comments and blank lines left out."""
    text = README.read_text()
    assert README_MARKER in text, "the README lost its az account commands"
    block = text.split(README_MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def test_the_readme_commands_run_as_written(
    tmp_path_factory: pytest.TempPathFactory,
    azurite: AzuriteServer,  # noqa: F811
) -> None:
    """Every line of the README's block on a server of its own: `bash scripts/serve` is the test's
    server, the exports are the environment, `batchite az-setup` runs with the server's endpoint
    and CA (the README's are the defaults), and each `az` line must exit 0."""
    child = start_child_server(
        tmp_path_factory.mktemp("batchite-az-readme"),
        mgmt_port=0,
        extra_args=["--storage-connection-string", azurite.connection_string],
    )
    try:
        work = tmp_path_factory.mktemp("az-readme-cwd")
        with zipfile.ZipFile(work / "myapp.zip", "w") as zf:
            zf.writestr("run.sh", "#!/bin/sh\necho hi\n")
        env = _offline_env(child, work / ".azure-batchite")
        ran: list[str] = []
        for line in readme_commands():
            words = shlex.split(line)
            if line.startswith("bash scripts/serve"):
                continue  # the test's server
            if words[0] == "export":
                name, value = words[1].split("=", 1)
                if name == "REQUESTS_CA_BUNDLE":
                    value = str(child.ca_path.parent / "az-ca-bundle.pem")
                env[name] = value.replace("$PWD", str(work))
                continue
            if words[0] == "batchite":
                assert words[1] == "az-setup", line
                done = az_setup(child, env, *words[2:])
                assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
            else:
                assert words[0] == "az", line
                proc = subprocess.run(
                    [str(AZ), *words[1:]], env=env, cwd=work, capture_output=True, text=True,
                    timeout=AZ_TIMEOUT, stdin=subprocess.DEVNULL, check=False,
                )  # fmt: skip
                assert proc.returncode == 0, f"{line}: {proc.stderr}"
                if words[1:4] == ["batch", "application", "summary"]:
                    assert [a["id"] for a in json.loads(proc.stdout)] == ["myapp"]
            ran.append(words[0] if words[0] != "az" else " ".join(words[:3]))
        assert ran.count("batchite") == 2 and "az batch account" in ran
        assert env["AZURE_CONFIG_DIR"] == str(work / ".azure-batchite")
        assert not (work / ".azure-batchite" / "clouds.config").read_text().count(f"[{CLOUD_NAME}]")
    finally:
        child.stop()


def test_az_cloud_register_discovers_the_endpoints_from_the_metadata(arm_server: ChildServer, tmp_path: Path) -> None:
    """`az cloud register` given only the Resource Manager endpoint reads `/metadata/endpoints`."""
    assert arm_server.mgmt_endpoint is not None
    env = _offline_env(arm_server, tmp_path / "az-config")
    env["REQUESTS_CA_BUNDLE"] = str(arm_server.ca_path)
    run = runner(env)
    ok(run("cloud", "register", "--name", "Discovered", "--endpoint-resource-manager", arm_server.mgmt_endpoint))
    endpoints = ok(run("cloud", "show", "--name", "Discovered"))["endpoints"]
    assert endpoints["resourceManager"] == arm_server.mgmt_endpoint  # as given, the rest from the metadata
    assert endpoints["activeDirectory"] == arm_server.mgmt_endpoint
    assert endpoints["activeDirectoryResourceId"] == "https://management.core.windows.net/"
    assert endpoints["batchResourceId"] == "https://batch.core.windows.net/"
    ok(run("cloud", "register", "--name", "Slashed", "--endpoint-resource-manager", f"{arm_server.mgmt_endpoint}/"))
    assert ok(run("cloud", "show", "--name", "Slashed"))["endpoints"]["batchResourceId"] == endpoints["batchResourceId"]
    ok(run("cloud", "set", "--name", "Discovered"))
    ok(run("config", "set", "core.instance_discovery=false"))
    login = run("login", "--service-principal", "--username", DEV_CLIENT_ID, "--password", DEV_CLIENT_SECRET,
                "--tenant", DEV_TENANT_ID)  # fmt: skip
    assert [s["id"] for s in ok(login)] == [DEV_SUBSCRIPTION_ID]
    assert "devbatchaccount1" in ok(run("batch", "account", "list", "--query", "[].name"))
    with httpx.Client(verify=ssl.create_default_context(cafile=str(arm_server.ca_path))) as http:
        missing = http.get(f"{arm_server.mgmt_endpoint}/metadata/endpoints")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
