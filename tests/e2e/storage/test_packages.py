"""Application packages of the development account: created, uploaded and activated through the
management plane (`batchite app`'s client, in the configured accounts' resource group), deployed
to applications/ on the node, used by a task through AZ_BATCH_APP_PACKAGE_*, shown by
the data plane; and the references that cannot be satisfied."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from typer.testing import CliRunner

from batchite.cli.apps import AppError, ManagementClient, Target
from batchite.cli.main import app as cli
from batchite.cli.server import ChildServer
from tests.e2e.helpers import POLL, wait_nodes
from tests.e2e.storage import support
from tests.e2e.storage.support import run, stdout
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e


def package_zip(version: str) -> bytes:
    return support.package_zip(version, data_file=True)


@pytest.fixture
def admin(storage_server: ChildServer) -> Iterator[ManagementClient]:
    client = ManagementClient(Target(storage_server.mgmt_endpoint or "", str(storage_server.ca_path)))
    yield client
    client.close()


@pytest.fixture
def app_id(admin: ManagementClient) -> Iterator[str]:
    ident = f"hello-{uuid.uuid4().hex[:6]}"
    yield ident
    with contextlib.suppress(AppError):
        admin.call("DELETE", admin.app_path(ident))


def test_a_package_is_deployed_and_used_by_a_task(
    sclient: Any, admin: ManagementClient, app_id: str, uid: Callable[[str], str]
) -> None:
    admin.create(app_id, "Hello")
    for version in ("1.0", "2.0"):
        assert admin.upload(app_id, version, package_zip(version))["state"] == "Active"
    admin.update(app_id, defaultVersion="2.0")

    listed = {a.id: a for a in sclient.list_applications()}
    assert listed[app_id].versions == ["1.0", "2.0"]
    got = sclient.get_application(app_id)
    assert (got.id, got.display_name, got.versions) == (app_id, "Hello", ["1.0", "2.0"])

    pool_id, job_id = uid("apool"), uid("ajob")
    ref = m.BatchApplicationPackageReference(application_id=app_id)  # the default version, on the pool
    sclient.create_pool(pool_options(pool_id, dedicated=1, application_package_references=[ref]))
    try:
        node = wait_nodes(sclient, pool_id, 1)[0]
        sclient.create_job(job_options(job_id, pool_id))
        var = app_id.replace("-", "_")
        command = f"/bin/sh -c '$AZ_BATCH_APP_PACKAGE_{var}_1_0/bin/hello.sh; $AZ_BATCH_APP_PACKAGE_{var}/bin/hello.sh'"
        task = task_options(
            "use",
            command,
            application_package_references=[m.BatchApplicationPackageReference(application_id=app_id, version="1.0")],
        )
        done = run(sclient, job_id, task)
        assert done.execution_info.result == "success", done.execution_info.failure_info
        assert stdout(sclient, job_id, "use") == "hello from 1.0\nhello from 2.0\n"
        files = {f.name for f in sclient.list_node_files(pool_id, node.id, recursive=True)}
        assert f"applications/{app_id}_1.0/bin/hello.sh" in files
        assert f"applications/{app_id}_2.0/share/README" in files
    finally:
        for cleanup in (
            lambda: sclient.begin_delete_job(job_id, polling_interval=POLL).result(),
            lambda: sclient.begin_delete_pool(pool_id, polling_interval=POLL).result(),
        ):
            with contextlib.suppress(HttpResponseError):
                cleanup()


def test_references_that_cannot_be_satisfied(
    sclient: Any, sjob: str, admin: ManagementClient, app_id: str, uid: Callable[[str], str]
) -> None:
    admin.create(app_id)
    admin.upload(app_id, "0.1", package_zip("0.1"), activate=False)  # pending: not usable, not listed
    assert sclient.get_application(app_id).versions == []
    with pytest.raises(HttpResponseError) as err:
        sclient.create_pool(
            pool_options(
                uid("badpool"),
                application_package_references=[
                    m.BatchApplicationPackageReference(application_id=app_id, version="0.1")
                ],
            )
        )
    assert err.value.status_code == 409
    assert err.value.error.code == "InvalidApplicationPackageReferences"

    task = task_options(
        "noapp",
        "/bin/true",
        application_package_references=[
            m.BatchApplicationPackageReference(application_id=f"{app_id}-missing", version="1")
        ],
    )
    info = run(sclient, sjob, task).execution_info
    assert (info.result, info.exit_code) == ("failure", None)
    assert (info.failure_info.category, info.failure_info.code) == ("usererror", "ApplicationPackageError")


def test_the_batchite_app_command(storage_server: ChildServer, app_id: str, tmp_path: Path, sclient: Any) -> None:
    source = tmp_path / "pkg"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    runner = CliRunner()
    where = ["--mgmt-endpoint", storage_server.mgmt_endpoint or "", "--ca", str(storage_server.ca_path)]

    def call(*args: str) -> str:
        result = runner.invoke(cli, ["app", *where, *args])
        assert result.exit_code == 0, result.output
        return result.output

    call("create", app_id, "--display-name", "A tool")
    assert "active" in call("upload", app_id, "3.1", str(source), "--default")
    zipped = tmp_path / "pkg.zip"
    zipped.write_bytes(package_zip("3.2"))
    call("upload", app_id, "3.2", str(zipped), "--no-activate")
    call("activate", app_id, "3.2")
    listing = call("list", app_id)
    assert "3.1" in listing and "3.2" in listing
    assert sclient.get_application(app_id).versions == ["3.1", "3.2"]
    call("delete", app_id, "3.1")
    assert sclient.get_application(app_id).versions == ["3.2"]
    call("delete", app_id)
    with pytest.raises(HttpResponseError) as err:
        sclient.get_application(app_id)
    assert err.value.error.code == "ApplicationNotFound"
    bad = runner.invoke(cli, ["app", *where, "activate", app_id, "9.9"])
    assert bad.exit_code == 1 and "404" in bad.output
