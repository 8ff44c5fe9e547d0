"""Output files out: patterns (*, **, ?, $VAR), destination path and uploadHeaders, the three upload
conditions on success and on failure, and an upload failure (failureInfo, exitConditions
.fileUploadError, and what did upload stays uploaded)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.batch import models as m

from batchite.storage.linked import LinkedStorage
from tests.e2e.helpers import POLL, wait_job
from tests.e2e.storage.support import blob_names, details, output, read_blob, run
from tests.sdk import job_options, task_options

pytestmark = pytest.mark.e2e

WRITE = (
    "/bin/sh -c 'mkdir -p out/sub && echo a > out/a.txt && echo b > out/sub/b.txt && echo h > out/.hidden.txt"
    " && echo 1 > x1.log && echo 22 > x22.log && exit {code}'"
)


def _outputs(url: str) -> list[Any]:
    return [
        output("out/**/*.txt", url, "tree", "taskcompletion"),
        output("x?.log", url, "logs", "taskcompletion"),
        output(
            "out/a.txt",
            url,
            "single/renamed.txt",
            "tasksuccess",
            upload_headers=[m.OutputFileUploadHeader(name="Content-Type", value="text/plain; charset=utf-8")],
        ),
        output("$AZ_BATCH_TASK_WORKING_DIR/x22.log", url, "on-failure/x22.log", "taskfailure"),
        output("../stdout.txt", url, None, "taskcompletion"),
    ]


def test_outputs_on_success(sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]) -> None:
    container = containers("out-ok")
    url = linked.container_sas_url(container, "rcwl")
    task = run(sclient, sjob, task_options("ok", WRITE.format(code=0), output_files=_outputs(url)))
    assert task.execution_info.result == "success", task.execution_info.failure_info
    assert blob_names(linked, container) == [
        "logs/x1.log",  # ? is one character: x22.log is not matched
        "single/renamed.txt",  # no wildcard: path is the blob name
        "stdout.txt",  # no path: the file's own name
        "tree/a.txt",  # ** keeps the path below the pattern's fixed part; .hidden.txt is not matched
        "tree/sub/b.txt",
    ]
    assert read_blob(linked, container, "tree/sub/b.txt") == b"b\n"
    with linked.service() as svc:
        props = svc.get_blob_client(container, "single/renamed.txt").get_blob_properties()
    assert props.content_settings.content_type == "text/plain; charset=utf-8"
    names = {f.name for f in sclient.list_task_files(sjob, "ok")}
    assert {"fileuploadout.txt", "fileuploaderr.txt"} <= names


def test_outputs_on_failure(sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]) -> None:
    container = containers("out-fail")
    url = linked.container_sas_url(container, "rcwl")
    task = run(sclient, sjob, task_options("fail", WRITE.format(code=3), output_files=_outputs(url)))
    info = task.execution_info
    assert (info.result, info.exit_code, info.failure_info.code) == ("failure", 3, "FailureExitCode")
    assert blob_names(linked, container) == [
        "logs/x1.log",
        "on-failure/x22.log",  # taskfailure, with $AZ_BATCH_TASK_WORKING_DIR expanded
        "stdout.txt",
        "tree/a.txt",
        "tree/sub/b.txt",
    ]  # and no single/renamed.txt: that one is tasksuccess


def test_a_failed_upload_sets_failure_info_and_keeps_the_rest(
    sclient: Any, spool: str, uid: Callable[[str], str], linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    good = containers("out-good")
    missing = linked.container_sas_url("no-such-output-container", "rcwl")
    job_id = uid("upjob")
    sclient.create_job(job_options(job_id, spool, task_failure_mode="performexitoptionsjobaction"))
    try:
        task = task_options(
            "up",
            "/bin/sh -c 'echo result > result.txt'",
            output_files=[
                output("result.txt", missing, None, "tasksuccess"),
                output("result.txt", linked.container_sas_url(good, "rcwl"), "kept/result.txt", "tasksuccess"),
            ],
            exit_conditions=m.ExitConditions(file_upload_error=m.ExitOptions(job_action="disable")),
        )
        done = run(sclient, job_id, task)
        info = done.execution_info
        assert (info.result, info.exit_code) == ("failure", 0)
        assert info.failure_info.category == "usererror"
        assert info.failure_info.code == "FileUploadContainerNotFound"
        assert details(done)["ContainerUrl"] == missing
        assert blob_names(linked, good) == ["kept/result.txt"]  # the other upload still happened
        errors = b"".join(sclient.download_task_file(job_id, "up", "fileuploaderr.txt")).decode()
        assert "result.txt" in errors
        wait_job(sclient, job_id, "disabled")  # exitConditions.fileUploadError applied
    finally:
        sclient.begin_delete_job(job_id, polling_interval=POLL).result()


def test_no_upload_when_the_process_never_ran(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("out-never")
    task = run(
        sclient,
        sjob,
        task_options(
            "never",
            "/no/such/program",
            output_files=[output("../std*.txt", linked.container_sas_url(container, "rcwl"), "logs")],
        ),
    )
    assert task.execution_info.exit_code is None
    assert task.execution_info.failure_info.code == "CommandProgramNotFound"
    assert blob_names(linked, container) == []


def test_job_manager_task_with_resource_and_output_files(
    sclient: Any, spool: str, uid: Callable[[str], str], linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    inputs, results = containers("jm-in"), containers("jm-out")
    with linked.service() as svc:
        svc.get_blob_client(inputs, "plan.txt").upload_blob(b"the plan\n")
    job_id = uid("jmjob")
    manager = m.BatchJobManagerTask(
        id="manager",
        command_line="/bin/sh -c 'tr a-z A-Z < plan.txt > report.txt'",
        resource_files=[m.ResourceFile(http_url=linked.blob_sas_url(inputs, "plan.txt"), file_path="plan.txt")],
        output_files=[output("report.txt", linked.container_sas_url(results, "rcwl"), "reports/manager.txt")],
    )
    sclient.create_job(job_options(job_id, spool, job_manager_task=manager))
    try:
        wait_job(sclient, job_id, "completed")  # killJobOnCompletion
        assert read_blob(linked, results, "reports/manager.txt") == b"THE PLAN\n"
    finally:
        sclient.begin_delete_job(job_id, polling_interval=POLL).result()
