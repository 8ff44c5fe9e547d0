"""Staging without a storage server: paths, output file patterns, package variable names, the
linked storage connection string, resource file downloads and package deployment over a local
HTTP server, and the conversion of a task's wire settings into a TaskStaging."""

from __future__ import annotations

import asyncio
import io
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from batchite.agent.files import FILE_UPLOAD, PREPROCESSING, PackageSpec, ResourceFileSpec, TaskFailure, TaskStaging
from batchite.agent.packages import deploy, package_environment, variable_names
from batchite.agent.paths import inside
from batchite.agent.process import Launch, ProcessOutcome, ProcessRunner
from batchite.agent.stagein import StageError, stage_in
from batchite.agent.stageout import applies, blob_name, expand, matches
from batchite.clock import SystemClock
from batchite.domain.entities import Application, ApplicationPackage, Pool
from batchite.domain.entities.records import ApplicationInternal, PackageInternal, PackageRecord, PackageState
from batchite.scheduler.staging import Part, Staging
from batchite.storage.linked import AZURITE_KEY, LinkedStorage, StorageConfigError, azurite_connection_string
from batchite.store.sqlite import SqliteStore
from batchite.wire.models import BatchApplication, BatchApplicationPackageReference, BatchPool, BatchTask
from batchite.wire.types import convert

# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "ok"),
    [
        ("a.txt", True),
        ("d/e/f.txt", True),
        ("d/../a.txt", True),
        ("", True),
        ("../a.txt", False),
        ("d/../../a.txt", False),
        ("/etc/passwd", False),
    ],
)
def test_inside(tmp_path: Path, relative: str, ok: bool) -> None:
    assert (inside(tmp_path, relative) is not None) is ok


def test_inside_refuses_a_symlink_out(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link").symlink_to(tmp_path)
    assert inside(tmp_path / "base", "link/x.txt") is None


# -- output file patterns -------------------------------------------------------------------------


@pytest.fixture
def wd(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    for rel in (
        "wd/a.txt",
        "wd/b.log",
        "wd/.hidden.txt",
        "wd/out/x.txt",
        "wd/out/deep/y.txt",
        "wd/ab.txt",
        "stdout.txt",
        "stderr.txt",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root / "wd"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.txt", ["a.txt", "ab.txt"]),  # no dot-files, no subdirectories
        ("?.txt", ["a.txt"]),
        ("**/*.txt", ["a.txt", "ab.txt", "out/deep/y.txt", "out/x.txt"]),
        ("out/**/*.txt", ["deep/y.txt", "x.txt"]),  # named below the fixed part
        ("../std*.txt", ["stderr.txt", "stdout.txt"]),
        (".hidden.txt", [".hidden.txt"]),
        ("[ab].txt", ["a.txt"]),
        ("[!a].log", ["b.log"]),
        ("a.txt", ["a.txt"]),
        ("missing.txt", []),
    ],
)
def test_matches(wd: Path, pattern: str, expected: list[str]) -> None:
    assert sorted(rel for _, rel in matches(pattern, wd)) == expected


def test_blob_names_and_conditions() -> None:
    from batchite.agent.files import OutputFileSpec

    spec = OutputFileSpec("x", "http://c", path="dir/")
    assert blob_name(spec, "a/b.txt", wildcard=True) == "dir/a/b.txt"
    assert blob_name(OutputFileSpec("x", "http://c", path="name.txt"), "b.txt", wildcard=False) == "name.txt"
    assert blob_name(OutputFileSpec("x", "http://c"), "b.txt", wildcard=False) == "b.txt"
    assert [applies(c, 0) for c in ("tasksuccess", "taskfailure", "taskcompletion")] == [True, False, True]
    assert [applies(c, 2) for c in ("TaskSuccess", "TaskFailure", "TaskCompletion")] == [False, True, True]
    assert expand("$HOME/${X}/$NOPE", {"HOME": "/h", "X": "x"}) == "/h/x/$NOPE"


# -- package variables ------------------------------------------------------------------------------


def test_variable_names_follow_the_linux_rules() -> None:
    assert variable_names("agent-Linux-x64", "1.1.46.0") == [
        "AZ_BATCH_APP_PACKAGE_agent_linux_x64_1_1_46_0",
        "AZ_BATCH_APP_PACKAGE_agent_Linux_x64_1_1_46_0",
    ]
    assert variable_names("foo", None) == ["AZ_BATCH_APP_PACKAGE_foo"]
    env = package_environment(Path("/n"), [PackageSpec("app", "2.0", "u", default_version=True)])
    where = "/n/applications/app_2.0"
    assert env == {"AZ_BATCH_APP_PACKAGE_app_2_0": where, "AZ_BATCH_APP_PACKAGE_app": where}


# -- linked storage ------------------------------------------------------------------------------------


def test_connection_strings() -> None:
    dev = LinkedStorage.parse(azurite_connection_string(port=12345))
    assert (dev.account_name, dev.account_key) == ("devstoreaccount1", AZURITE_KEY)
    assert dev.blob_endpoint == "http://127.0.0.1:12345/devstoreaccount1"
    assert LinkedStorage.parse("UseDevelopmentStorage=true").blob_endpoint.endswith(":10000/devstoreaccount1")
    real = LinkedStorage.parse(
        "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=a2V5;EndpointSuffix=core.windows.net"
    )
    assert real.blob_endpoint == "https://acc.blob.core.windows.net"
    assert "sig=" in dev.container_sas_url("c") and dev.blob_url("c", "a b/c").endswith("/c/a%20b/c")
    with pytest.raises(StorageConfigError):
        LinkedStorage.parse("AccountName=x")
    assert LinkedStorage.from_environment({}) is None


# -- downloads over a local HTTP server -------------------------------------------------------------------


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        data = self.files.get(self.path.split("?")[0])
        if data is None:
            self.send_response(404 if "deny" not in self.path else 403)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    _Files.files, _Files.hits = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def test_stage_in_downloads_in_place_with_modes(tmp_path: Path, http: str, pool: ThreadPoolExecutor) -> None:
    _Files.files = {"/a.txt": b"A", "/b.sh": b"#!/bin/sh\n"}
    staging = TaskStaging(
        resource_files=[
            ResourceFileSpec(http_url=f"{http}/a.txt", file_path="in/a.txt"),
            ResourceFileSpec(http_url=f"{http}/b.sh?sig=x", file_path="b.sh", file_mode="0700"),
            ResourceFileSpec(http_url=f"{http}/a.txt", file_path="root.txt", base="task"),
        ]
    )
    task_dir = tmp_path / "node" / "workitems" / "t"
    stage_in(staging, task_dir, tmp_path / "node", pool)
    assert (task_dir / "wd" / "in" / "a.txt").read_bytes() == b"A"
    assert oct((task_dir / "wd" / "b.sh").stat().st_mode & 0o777) == "0o700"
    assert oct((task_dir / "wd" / "in" / "a.txt").stat().st_mode & 0o777) == "0o770"
    assert (task_dir / "root.txt").read_bytes() == b"A"  # commonResourceFiles: the task directory


@pytest.mark.parametrize(
    ("path", "file_path", "code"),
    [("/missing", "x", "BlobNotFound"), ("/deny", "x", "BlobAccessDenied"), ("/a", "../x", "ResourceFileCreateFailed")],
)
def test_stage_in_failures(
    tmp_path: Path, http: str, pool: ThreadPoolExecutor, path: str, file_path: str, code: str
) -> None:
    _Files.files = {"/a": b"a"}
    staging = TaskStaging(resource_files=[ResourceFileSpec(http_url=http + path, file_path=file_path)])
    with pytest.raises(StageError) as err:
        stage_in(staging, tmp_path / "t", tmp_path, pool)
    assert (err.value.failure.code, err.value.failure.stage) == (code, PREPROCESSING)


def test_packages_deploy_once_per_node(tmp_path: Path, http: str) -> None:
    _Files.files = {"/pkg.zip": _zip({"bin/tool": "x", "README": "r"}), "/bad.zip": b"not a zip"}
    spec = PackageSpec("tool", "1.0", f"{http}/pkg.zip", tag="t1")
    where = deploy(tmp_path, spec)
    assert (where / "bin" / "tool").read_text() == "x" and where == tmp_path / "applications" / "tool_1.0"
    deploy(tmp_path, spec)
    assert _Files.hits == ["/pkg.zip"]  # the second deploy found it in place
    deploy(tmp_path, PackageSpec("tool", "1.0", f"{http}/pkg.zip", tag="t2"))
    assert len(_Files.hits) == 2  # a new activation is deployed again
    from batchite.agent.packages import PackageError

    with pytest.raises(PackageError) as err:
        deploy(tmp_path, PackageSpec("bad", "1", f"{http}/bad.zip"))
    assert err.value.failure.code == "ApplicationPackageError"


def test_runner_reports_a_pre_failure_without_running(tmp_path: Path) -> None:
    failure = TaskFailure(PREPROCESSING, "ApplicationPackageError", "nope")

    async def main() -> ProcessOutcome:
        runner = ProcessRunner()
        done: asyncio.Future[ProcessOutcome] = asyncio.get_running_loop().create_future()
        staging = TaskStaging(pre_failure=failure)
        launch = Launch("/bin/echo ran", tmp_path / "t", {"PATH": "/usr/bin:/bin"}, staging=staging)
        runner.start(launch, done.set_result)
        try:
            return await asyncio.wait_for(done, 10)
        finally:
            runner.shutdown()

    outcome = asyncio.run(main())
    assert (outcome.exit_code, outcome.failure, outcome.failed_stage) == (None, failure, PREPROCESSING)
    assert not (tmp_path / "t" / "stdout.txt").exists()
    uploaded = ProcessOutcome(outcome.start_time, outcome.end_time, 0, failure=TaskFailure(FILE_UPLOAD, "c", "m"))
    assert uploaded.failed_stage == FILE_UPLOAD


# -- a task's wire settings to TaskStaging --------------------------------------------------------------------


def _pool(pool_id: str, refs: list[dict[str, Any]]) -> Pool:
    wire = convert(
        BatchPool,
        {
            "id": pool_id,
            "creationTime": "2026-11-25T15:00:00Z",
            "state": "active",
            "stateTransitionTime": "2026-11-25T15:00:00Z",
            "vmSize": "standard_d2s_v3",
            "currentDedicatedNodes": 0,
            "currentLowPriorityNodes": 0,
            "applicationPackageReferences": refs,
        },
    )
    return Pool("acc", "", wire)


def _task(body: dict[str, Any]) -> BatchTask:
    return convert(
        BatchTask,
        {
            "id": "t",
            "creationTime": "2026-11-25T15:00:00Z",
            "state": "active",
            "stateTransitionTime": "2026-11-25T15:00:00Z",
            "commandLine": "x",
            **body,
        },
    )


def _build(
    staging: Staging, store: SqliteStore, pool_id: str, task: BatchTask, part: Part = Part.WHOLE
) -> TaskStaging | None:
    """What the scheduler does for a task on a pool (build_staging used to read the pool itself)."""
    pool = store.pools.get("acc", "", pool_id)
    multi = task.multi_instance_settings
    return staging.build(
        "acc",
        pool_refs=(pool.wire.application_package_references or []) if pool is not None else [],
        task_refs=task.application_package_references,
        resource_files=task.resource_files,
        common_resource_files=multi.common_resource_files if multi is not None else None,
        output_files=task.output_files,
        part=part,
    )


def test_build_staging(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite", SystemClock())
    store.pools.insert(_pool("p", [{"applicationId": "app"}]))
    storage = LinkedStorage.parse(azurite_connection_string())
    staging = Staging(store, storage)
    assert _build(staging, store, "nopool", _task({"commandLine": "x"})) is None
    bare = _build(staging, store, "p", _task({}))
    assert bare is not None and bare.pre_failure is not None
    assert bare.pre_failure.code == "ApplicationPackageError"
    app = Application(
        "acc",
        "",
        BatchApplication(id="app", display_name="app", versions=["1"]),
        ApplicationInternal(default_version="1"),
    )
    store.applications.insert(app)
    store.packages.insert(
        ApplicationPackage(
            "acc",
            app.key,
            PackageRecord(id="1", state=PackageState.ACTIVE),
            PackageInternal(container="c", blob="b"),
        )
    )
    task = _task(
        {
            "resourceFiles": [
                {"autoStorageContainerName": "inputs", "blobPrefix": "x/"},
                {"httpUrl": "http://h/f", "filePath": "f"},
            ],
            "multiInstanceSettings": {
                "numberOfInstances": 2,
                "coordinationCommandLine": "true",  # required in the typed model
                "commonResourceFiles": [{"httpUrl": "http://h/c", "filePath": "c"}],
            },
            "outputFiles": [
                {
                    "filePattern": "*.txt",
                    "destination": {"container": {"containerUrl": "http://o?sig=1"}},
                    "uploadOptions": {"uploadCondition": "TaskFailure"},
                }
            ],
        }
    )
    full = _build(staging, store, "p", task)
    assert full is not None and full.pre_failure is None
    assert [(p.application_id, p.version, p.default_version) for p in full.packages] == [("app", "1", True)]
    assert full.packages[0].source_url.startswith(storage.blob_url("c", "b") + "?")
    assert full.resource_files[0].container_url and "/inputs?" in full.resource_files[0].container_url
    assert [r.base for r in full.resource_files] == ["wd", "wd", "task"]
    assert full.output_files[0].condition == "taskfailure"
    coordination = _build(staging, store, "p", task, part=Part.COORDINATION)
    assert coordination is not None and [r.base for r in coordination.resource_files] == ["task"]
    assert not coordination.output_files
    application = _build(staging, store, "p", task, part=Part.APPLICATION)
    assert application is not None and [r.base for r in application.resource_files] == ["wd", "wd"]
    unlinked = _build(
        Staging(store, None), store, "nopool", _task({"resourceFiles": [{"autoStorageContainerName": "c"}]})
    )
    assert unlinked is not None and unlinked.pre_failure is not None
    assert unlinked.pre_failure.code == "ResourceContainerListMiscError"
    store.close()


def test_build_staging_keeps_one_package_named_both_ways(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite", SystemClock())
    app = Application(
        "acc",
        "",
        BatchApplication(id="App", display_name="app", versions=["1"]),
        ApplicationInternal(default_version="1"),
    )
    store.applications.insert(app)
    store.packages.insert(
        ApplicationPackage("acc", app.key, PackageRecord(id="1", state=PackageState.ACTIVE), PackageInternal("c", "b"))
    )
    staging = Staging(store, LinkedStorage.parse(azurite_connection_string()))
    by_version = BatchApplicationPackageReference(application_id="app", version="1")
    by_default = BatchApplicationPackageReference(application_id="APP")
    for pool_refs, task_refs in (([by_version], [by_default]), ([by_default], [by_version])):
        built = staging.build("acc", pool_refs=pool_refs, task_refs=task_refs)
        assert built is not None and built.pre_failure is None
        # One deployment, under both variable names (with and without the version).
        assert [(p.application_id, p.version, p.default_version) for p in built.packages] == [("App", "1", True)]
    missing = staging.build("acc", task_refs=[BatchApplicationPackageReference(application_id="nope")])
    assert missing is not None and missing.pre_failure is not None
    assert missing.pre_failure.code == "ApplicationPackageError" and not missing.packages
    store.close()
