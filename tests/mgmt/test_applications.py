"""Applications and application packages through azure-mgmt-batch 19.0.0 over HTTPS, on a Batchite
linked to Azurite: create, upload to the storageUrl (the storage SDK and a raw PUT), activate,
default version, paging, allowUpdates, deletes, the ARM error codes; a task on the data plane
running the packaged script; and `batchite app` on top of the same operations."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from typer.testing import CliRunner

from batchite.cli.azurite import AzuriteServer
from batchite.cli.main import app as cli
from batchite.cli.server import ChildServer
from tests.conftest import make_client
from tests.e2e.helpers import POLL, wait_nodes
from tests.e2e.storage.conftest import azurite, linked_server  # noqa: F401  (the session's Azurite)
from tests.e2e.storage.support import package_zip, run, stdout
from tests.mgmt.conftest import batch_client_for, credential_for, resource_client
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, azurite: AzuriteServer) -> Iterator[ChildServer]:  # noqa: F811
    yield from linked_server(tmp_path_factory, azurite, "batchite-apps")


@pytest.fixture(scope="module")
def arm(app_server: ChildServer) -> Iterator[Any]:
    client = batch_client_for(app_server, credential_for(app_server))
    yield client
    client.close()


@pytest.fixture(scope="module")
def account(app_server: ChildServer, arm: Any) -> tuple[str, str, str]:
    """An ARM-created account: (resource group, name, primary key)."""
    group, name = f"rg-apps-{uuid.uuid4().hex[:8]}", f"apps{uuid.uuid4().hex[:10]}"
    with resource_client(app_server) as resources:
        resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    arm.batch_account.begin_create(group, name, {"location": "westeurope"}).result()
    return group, name, arm.batch_account.get_keys(group, name).primary


@pytest.fixture
def app_name(arm: Any, account: tuple[str, str, str]) -> Iterator[str]:
    name = f"hello-{uuid.uuid4().hex[:6]}"
    yield name
    with contextlib.suppress(HttpResponseError):
        arm.application.delete(account[0], account[1], name)


def code_of(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as err:
        call()
    assert err.value.error is not None
    return err.value.status_code or 0, err.value.error.code or ""


def with_headers(call: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
    return call(*args, cls=lambda response, body, headers: (body, response.http_response.headers))


def test_the_application_package_flow(arm: Any, account: tuple[str, str, str], app_name: str) -> None:
    group, name, _ = account
    prefix = f"/subscriptions/{arm._config.subscription_id}/resourceGroups/{group}"
    created, headers = with_headers(arm.application.create, group, name, app_name)
    assert created.id == f"{prefix}/providers/Microsoft.Batch/batchAccounts/{name}/applications/{app_name}"
    assert (created.name, created.type) == (app_name, "Microsoft.Batch/batchAccounts/applications")
    assert created.allow_updates is True and created.default_version is None
    assert created.etag and headers["ETag"] == created.etag
    shown = arm.application.create(group, name, app_name, {"properties": {"displayName": "Hello"}})
    assert shown.display_name == "Hello" and shown.etag != created.etag

    pending = arm.application_package.create(group, name, app_name, "1.0")
    assert pending.type == "Microsoft.Batch/batchAccounts/applications/versions"
    assert pending.id == f"{created.id}/versions/1.0" and pending.name == "1.0"
    assert pending.state == "Pending" and pending.format is None and pending.last_activation_time is None
    assert pending.storage_url.startswith("http") and "sig=" in pending.storage_url
    assert pending.storage_url_expiry is not None
    assert code_of(lambda: arm.application_package.activate(group, name, app_name, "1.0", {"format": "zip"})) == (
        409,
        "ApplicationPackageBlobNotFound",
    )

    from azure.storage.blob import BlobClient

    with BlobClient.from_blob_url(pending.storage_url) as blob:
        blob.upload_blob(package_zip("1.0"), overwrite=True)
    active, headers = with_headers(arm.application_package.activate, group, name, app_name, "1.0", {"format": "zip"})
    assert (active.state, active.format) == ("Active", "zip")
    assert active.last_activation_time is not None and headers["ETag"] == active.etag

    second = arm.application_package.create(group, name, app_name, "2.0")
    put = httpx.put(second.storage_url, content=package_zip("2.0"), headers={"x-ms-blob-type": "BlockBlob"})
    assert put.status_code == 201, put.text
    assert arm.application_package.activate(group, name, app_name, "2.0", {"format": "zip"}).state == "Active"

    updated = arm.application.update(group, name, app_name, {"properties": {"defaultVersion": "2.0"}})
    assert (updated.default_version, updated.display_name) == ("2.0", "Hello")
    assert arm.application.get(group, name, app_name).default_version == "2.0"
    got = arm.application_package.get(group, name, app_name, "1.0")
    assert (got.state, got.format, got.last_activation_time) == ("Active", "zip", active.last_activation_time)

    pages = arm.application_package.list(group, name, app_name, maxresults=1).by_page()
    assert [[p.name for p in page] for page in pages] == [["1.0"], ["2.0"]]
    assert app_name in [a.name for a in arm.application.list(group, name, maxresults=1)]

    arm.application.update(group, name, app_name, {"properties": {"allowUpdates": False}})
    assert code_of(lambda: arm.application_package.create(group, name, app_name, "1.0")) == (
        409,
        "ApplicationUpdatesNotAllowed",
    )
    arm.application_package.delete(group, name, app_name, "1.0")
    assert code_of(lambda: arm.application_package.get(group, name, app_name, "1.0")) == (
        404,
        "ApplicationPackageNotFound",
    )
    arm.application_package.delete(group, name, app_name, "1.0")  # gone already: 204
    arm.application.delete(group, name, app_name)
    assert code_of(lambda: arm.application.get(group, name, app_name)) == (404, "ApplicationNotFound")
    arm.application.delete(group, name, app_name)


def test_the_error_codes(arm: Any, account: tuple[str, str, str], app_name: str) -> None:
    group, name, _ = account
    assert code_of(lambda: arm.application.create(group, name, "bad name!")) == (400, "InvalidParameter")
    assert code_of(lambda: arm.application.get(group, name, app_name)) == (404, "ApplicationNotFound")
    assert code_of(lambda: arm.application.update(group, name, app_name, {"properties": {}})) == (
        404,
        "ApplicationNotFound",
    )
    assert code_of(lambda: arm.application_package.create(group, name, app_name, "1.0")) == (
        404,
        "ApplicationNotFound",
    )
    assert code_of(lambda: arm.application_package.list(group, name, app_name).next()) == (
        404,
        "ApplicationNotFound",
    )
    assert code_of(lambda: arm.application.get(group, "noaccount0x", app_name)) == (404, "ResourceNotFound")

    arm.application.create(group, name, app_name)
    assert code_of(lambda: arm.application_package.create(group, name, app_name, "v*1")) == (400, "InvalidParameter")
    assert code_of(lambda: arm.application_package.get(group, name, app_name, "9.9")) == (
        404,
        "ApplicationPackageNotFound",
    )
    assert code_of(
        lambda: arm.application.update(group, name, app_name, {"properties": {"defaultVersion": "9.9"}})
    ) == (404, "ApplicationPackageNotFound")

    package = arm.application_package.create(group, name, app_name, "1.0")
    httpx.put(package.storage_url, content=b"not a zip", headers={"x-ms-blob-type": "BlockBlob"}).raise_for_status()
    with pytest.raises(HttpResponseError) as err:
        arm.application_package.activate(group, name, app_name, "1.0", {"format": "tar"})
    assert err.value.error is not None
    assert (err.value.status_code, err.value.error.code, err.value.error.target) == (400, "InvalidParameter", "format")
    assert code_of(lambda: arm.application_package.activate(group, name, app_name, "1.0", {"format": "zip"})) == (
        400,
        "InvalidApplicationPackage",
    )
    assert arm.application_package.get(group, name, app_name, "1.0").state == "Pending"


def test_no_linked_storage(mgmt_server: ChildServer, resources: Any) -> None:
    arm = batch_client_for(mgmt_server, credential_for(mgmt_server))
    group, name = f"rg-nostore-{uuid.uuid4().hex[:8]}", f"nostore{uuid.uuid4().hex[:8]}"
    resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    arm.batch_account.begin_create(group, name, {"location": "westeurope"}).result()
    arm.application.create(group, name, "tool")  # an application needs no storage
    assert code_of(lambda: arm.application_package.create(group, name, "tool", "1.0")) == (
        409,
        "AutoStorageNotConfigured",
    )
    arm.close()


def test_a_task_runs_the_packaged_script(
    app_server: ChildServer, arm: Any, account: tuple[str, str, str], app_name: str, uid: Callable[[str], str]
) -> None:
    group, name, key = account
    arm.application.create(group, name, app_name, {"properties": {"displayName": "Hello"}})
    package = arm.application_package.create(group, name, app_name, "1.0")
    httpx.put(package.storage_url, content=package_zip("1.0"), headers={"x-ms-blob-type": "BlockBlob"})
    arm.application_package.activate(group, name, app_name, "1.0", {"format": "zip"})

    data = make_client(app_server.endpoint, name, key)
    assert data.get_application(app_name).versions == ["1.0"]
    pool_id, job_id = uid("apool"), uid("ajob")
    ref = m.BatchApplicationPackageReference(application_id=app_name, version="1.0")
    data.create_pool(pool_options(pool_id, dedicated=1, application_package_references=[ref]))
    try:
        wait_nodes(data, pool_id, 1)
        data.create_job(job_options(job_id, pool_id))
        var = app_name.replace("-", "_")
        done = run(data, job_id, task_options("use", f"/bin/sh -c '$AZ_BATCH_APP_PACKAGE_{var}_1_0/bin/hello.sh'"))
        assert done.execution_info.result == "success", done.execution_info.failure_info
        assert stdout(data, job_id, "use") == "hello from 1.0\n"
    finally:
        for cleanup in (
            lambda: data.begin_delete_job(job_id, polling_interval=POLL).result(),
            lambda: data.begin_delete_pool(pool_id, polling_interval=POLL).result(),
        ):
            with contextlib.suppress(HttpResponseError):
                cleanup()
        data.close()


def test_the_batchite_app_command_on_an_arm_account(
    app_server: ChildServer, arm: Any, account: tuple[str, str, str], app_name: str, tmp_path: Path
) -> None:
    """The whole command is tested on the development account (tests/e2e/storage/test_packages.py);
    here: its options reach another account, and its refusals."""
    group, name, _ = account
    zipped = tmp_path / "pkg.zip"
    zipped.write_bytes(package_zip("3.2"))
    server = ["--mgmt-endpoint", app_server.mgmt_endpoint or "", "--ca", str(app_server.ca_path)]
    where = [*server, "--resource-group", group, "--account-name", name]
    runner = CliRunner()
    done = runner.invoke(cli, ["app", *where, "upload", app_name, "3.2", str(zipped), "--default"])
    assert done.exit_code == 0 and "state active" in done.output, done.output
    got = arm.application.get(group, name, app_name)
    assert got.default_version == "3.2"
    assert [v.state for v in arm.application_package.list(group, name, app_name)] == ["Active"]
    bad = runner.invoke(cli, ["app", *where, "activate", app_name, "9.9"])
    assert bad.exit_code == 1 and "404" in bad.output and "ApplicationPackageNotFound" in bad.output
    wrong = runner.invoke(cli, ["app", *server, "--resource-group", group, "--account-name", "nosuch0", "list"])
    assert wrong.exit_code == 1 and "ResourceNotFound" in wrong.output
    no_ca = runner.invoke(cli, ["app", "--mgmt-endpoint", server[1], "--ca", str(tmp_path / "none.pem"), "list"])
    assert no_ca.exit_code == 1 and "--ca" in no_ca.output
