"""Resource files in: SAS httpUrl, storageContainerUrl with blobPrefix, autoStorageContainerName,
fileMode, start tasks, commonResourceFiles; and the failures: a bad URL, a missing blob, a path
that leaves the working directory, an unlinked storage container."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.batch import models as m

from batchite.cli.server import free_port
from batchite.storage.linked import LinkedStorage
from tests.conftest import wait_for
from tests.e2e.helpers import POLL, wait_job, wait_nodes
from tests.e2e.storage.support import details, put_blobs, run, stdout
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e

INPUTS = {f"taskdata{i}.txt": f"line one of input {i}\nline two of input {i}\n" for i in range(3)}


def test_quickstart_flow_sas_resource_files_are_catted(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    """The official quickstart: a container, three input files, SAS URLs as resource files, cat."""
    container = containers("input")
    put_blobs(linked, container, dict(INPUTS))
    tasks = [
        task_options(
            f"Task{i}",
            f'/bin/bash -c "cat {name}"',
            resource_files=[m.ResourceFile(http_url=linked.blob_sas_url(container, name, "r"), file_path=name)],
        )
        for i, name in enumerate(INPUTS)
    ]
    sclient.create_tasks(sjob, tasks)
    for i, (_name, text) in enumerate(INPUTS.items()):
        task = wait_for(lambda i=i: (t := sclient.get_task(sjob, f"Task{i}")).state == "completed" and t)
        assert task.execution_info.result == "success", task.execution_info.failure_info
        assert task.node_info.node_id
        assert stdout(sclient, sjob, f"Task{i}") == text


def test_container_url_and_prefix_keep_blob_paths_below_file_path(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("tree")
    put_blobs(linked, container, {"data/a.txt": "A", "data/sub/b.txt": "B", "other/c.txt": "C"})
    rf = m.ResourceFile(
        storage_container_url=linked.container_sas_url(container, "rl"), blob_prefix="data/", file_path="inputs"
    )
    task = run(
        sclient,
        sjob,
        task_options("tree", "/bin/sh -c 'find inputs -type f | sort; cat inputs/data/sub/b.txt'", resource_files=[rf]),
    )
    assert task.execution_info.result == "success", task.execution_info.failure_info
    assert stdout(sclient, sjob, "tree") == "inputs/data/a.txt\ninputs/data/sub/b.txt\nB"


def test_whole_container_without_prefix_or_path(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("whole")
    put_blobs(linked, container, {"x.txt": "x", "d/y.txt": "y"})
    rf = m.ResourceFile(storage_container_url=linked.container_sas_url(container, "rl"))
    task = run(sclient, sjob, task_options("whole", "/bin/sh -c 'cat x.txt d/y.txt'", resource_files=[rf]))
    assert stdout(sclient, sjob, "whole") == "xy", task.execution_info.failure_info


def test_auto_storage_container_name_reads_the_linked_account(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("auto")
    put_blobs(linked, container, {"in/data.txt": "from auto-storage"})
    rf = m.ResourceFile(auto_storage_container_name=container, blob_prefix="in/")
    task = run(sclient, sjob, task_options("auto", "cat in/data.txt", resource_files=[rf]))
    assert task.execution_info.result == "success", task.execution_info.failure_info
    assert stdout(sclient, sjob, "auto") == "from auto-storage"


def test_file_mode_and_the_linux_default(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("mode")
    put_blobs(linked, container, {"run.sh": "#!/bin/sh\necho ran from a resource file\n", "plain.txt": "p"})
    files = [
        m.ResourceFile(http_url=linked.blob_sas_url(container, "run.sh"), file_path="bin/run.sh", file_mode="0755"),
        m.ResourceFile(http_url=linked.blob_sas_url(container, "plain.txt"), file_path="plain.txt"),
    ]
    task = run(
        sclient,
        sjob,
        task_options("mode", "/bin/sh -c './bin/run.sh && stat -c %a bin/run.sh plain.txt'", resource_files=files),
    )
    assert task.execution_info.result == "success", task.execution_info.failure_info
    assert stdout(sclient, sjob, "mode").split() == ["ran", "from", "a", "resource", "file", "755", "770"]


def test_a_bad_url_fails_the_task_before_it_runs(sclient: Any, sjob: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing/here.txt"
    task = run(
        sclient,
        sjob,
        task_options(
            "badurl", "/bin/sh -c 'echo never'", resource_files=[m.ResourceFile(http_url=url, file_path="here.txt")]
        ),
    )
    info = task.execution_info
    assert info.result == "failure"
    assert info.exit_code is None
    assert info.failure_info.category == "usererror"
    assert info.failure_info.code == "BlobDownloadMiscError"
    assert details(task)["BlobSource"] == url
    assert not [
        f
        for f in sclient.list_task_files(sjob, "badurl")
        if f.name == "stdout.txt" and f.properties and f.properties.content_length
    ]


def test_a_missing_blob_is_blob_not_found(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("missing")
    url = linked.blob_sas_url(container, "absent.txt")
    task = run(
        sclient,
        sjob,
        task_options("absent", "/bin/true", resource_files=[m.ResourceFile(http_url=url, file_path="absent.txt")]),
    )
    assert task.execution_info.failure_info.code == "BlobNotFound"
    assert details(task)["BlobSource"] == url


def test_a_path_that_leaves_the_working_directory_is_rejected(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("escape")
    put_blobs(linked, container, {"evil.txt": "should not land"})
    rf = m.ResourceFile(http_url=linked.blob_sas_url(container, "evil.txt"), file_path="../evil.txt")
    task = run(sclient, sjob, task_options("escape", "/bin/true", resource_files=[rf]))
    info = task.execution_info
    assert (info.result, info.exit_code, info.failure_info.category) == ("failure", None, "usererror")
    assert info.failure_info.code == "ResourceFileCreateFailed"
    assert details(task)["FilePath"] == "../evil.txt"
    names = {f.name for f in sclient.list_task_files(sjob, "escape", recursive=True)}
    assert "evil.txt" not in names


def test_an_unknown_container_is_resource_container_not_found(sclient: Any, sjob: str, linked: LinkedStorage) -> None:
    rf = m.ResourceFile(auto_storage_container_name="no-such-container-here")
    task = run(sclient, sjob, task_options("nocontainer", "/bin/true", resource_files=[rf]))
    assert task.execution_info.failure_info.code == "ResourceContainerNotFound"


def test_pre_processing_error_exit_condition_applies(sclient: Any, spool: str, uid: Callable[[str], str]) -> None:
    job_id = uid("ppjob")
    sclient.create_job(job_options(job_id, spool, task_failure_mode="performexitoptionsjobaction"))
    try:
        url = f"http://127.0.0.1:{free_port()}/x"
        # "disable" rather than the default "terminate": only a matched preProcessingError does that
        conditions = m.ExitConditions(pre_processing_error=m.ExitOptions(job_action="disable"))
        task = task_options(
            "pp", "/bin/true", resource_files=[m.ResourceFile(http_url=url, file_path="x")], exit_conditions=conditions
        )
        assert run(sclient, job_id, task).execution_info.failure_info.code == "BlobDownloadMiscError"
        wait_job(sclient, job_id, "disabled")
    finally:
        sclient.begin_delete_job(job_id, polling_interval=POLL).result()


def test_start_task_and_common_resource_files(
    sclient: Any, uid: Callable[[str], str], linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("start")
    put_blobs(linked, container, {"setup.txt": "set up by the start task", "common.txt": "shared input"})
    pool_id = uid("stpool")
    start = m.BatchStartTask(
        command_line="cat setup.txt",
        resource_files=[m.ResourceFile(http_url=linked.blob_sas_url(container, "setup.txt"), file_path="setup.txt")],
        wait_for_success=True,
    )
    sclient.create_pool(pool_options(pool_id, dedicated=1, start_task=start))
    job_id = uid("stjob")
    try:
        node = wait_nodes(sclient, pool_id, 1)[0]
        assert node.start_task_info.result == "success"
        text = b"".join(sclient.download_node_file(pool_id, node.id, "startup/wd/setup.txt")).decode()
        assert text == "set up by the start task"
        sclient.create_job(job_options(job_id, pool_id))
        common = m.ResourceFile(http_url=linked.blob_sas_url(container, "common.txt"), file_path="common.txt")
        settings = m.MultiInstanceSettings(
            number_of_instances=1, coordination_command_line="/bin/true", common_resource_files=[common]
        )
        task = run(sclient, job_id, task_options("multi", "cat ../common.txt", multi_instance_settings=settings))
        assert task.execution_info.result == "success", task.execution_info.failure_info
        assert stdout(sclient, job_id, "multi") == "shared input"
    finally:
        sclient.begin_delete_job(job_id, polling_interval=POLL).result()
        sclient.begin_delete_pool(pool_id, polling_interval=POLL).result()


def test_job_preparation_task_resource_files(
    sclient: Any, spool: str, uid: Callable[[str], str], linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("prep")
    put_blobs(linked, container, {"ref/genome.txt": "ACGT"})
    job_id = uid("prepjob")
    prep = m.BatchJobPreparationTask(
        command_line="/bin/true",
        resource_files=[m.ResourceFile(storage_container_url=linked.container_sas_url(container, "rl"))],
    )
    sclient.create_job(job_options(job_id, spool, job_preparation_task=prep))
    try:
        command = '/bin/sh -c "cat $AZ_BATCH_JOB_PREP_WORKING_DIR/ref/genome.txt"'
        task = run(sclient, job_id, task_options("reader", command))
        assert task.execution_info.result == "success", task.execution_info.failure_info
        assert stdout(sclient, job_id, "reader") == "ACGT"
    finally:
        sclient.begin_delete_job(job_id, polling_interval=POLL).result()


def test_multi_instance_common_files_on_every_node_resource_files_on_the_primary(
    sclient: Any, sjob: str, linked: LinkedStorage, containers: Callable[[str], str]
) -> None:
    container = containers("mpi")
    put_blobs(linked, container, {"common.txt": "common", "own.txt": "own"})
    settings = m.MultiInstanceSettings(
        number_of_instances=2,
        coordination_command_line="/bin/sh -c 'cat ../common.txt > ../seen-by-$AZ_BATCH_NODE_ID.txt'",
        common_resource_files=[
            m.ResourceFile(http_url=linked.blob_sas_url(container, "common.txt"), file_path="common.txt")
        ],
    )
    own = m.ResourceFile(http_url=linked.blob_sas_url(container, "own.txt"), file_path="own.txt")
    task = run(
        sclient,
        sjob,
        task_options(
            "mpi", "/bin/sh -c 'cat ../common.txt own.txt'", resource_files=[own], multi_instance_settings=settings
        ),
    )
    assert task.execution_info.result == "success", task.execution_info.failure_info
    assert stdout(sclient, sjob, "mpi") == "commonown"
    subtasks = list(sclient.list_subtasks(sjob, "mpi"))
    assert len(subtasks) == 1 and subtasks[0].result == "success"
    node = subtasks[0].node_info  # the other node downloaded the common file too
    seen = f"{node.task_root_directory}/seen-by-{node.node_id}.txt"
    assert b"".join(sclient.download_node_file(node.pool_id, node.node_id, seen)) == b"common"
