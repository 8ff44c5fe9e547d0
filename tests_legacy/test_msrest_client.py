"""azure-batch 14.2.0 (msrest generation, api-version 2024-02-01.19.0) against Batchite.

The flow of the official quickstart of the msrest era (Azure-Samples/batch-python-quickstart): pool.add, job.add,
task.add_collection, wait with task.list, task.get for the node, file.get_from_task for stdout.txt, and the clean-up;
plus the error shapes (BatchErrorException) and odata.nextLink paging that old clients rely on.

14.x differs from 15.x on the wire: it sends `Content-Type: application/json; odata=minimalmetadata; charset=utf-8`
on every request, bodiless POSTs included (job.terminate), `maxParallelTasks: -1` in every JobAddParameter,
`timeout` instead of `timeOut`, `accept-language`, and it follows odata.nextLink verbatim.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.batch import models

POOL_SIZE = 2
IMAGE = {"publisher": "canonical", "offer": "0001-com-ubuntu-server-focal", "sku": "20_04-lts"}
NODE_AGENT = "batch.node.ubuntu 20.04"


def pool_parameter(pool_id: str, nodes: int = POOL_SIZE, version: str | None = "latest", vm_size: str = "") -> Any:
    return models.PoolAddParameter(
        id=pool_id,
        vm_size=vm_size or "STANDARD_DS1_V2",
        virtual_machine_configuration=models.VirtualMachineConfiguration(
            image_reference=models.ImageReference(**IMAGE, version=version),
            node_agent_sku_id=NODE_AGENT,
        ),
        target_dedicated_nodes=nodes,
    )


def batch_error(excinfo: pytest.ExceptionInfo[Any]) -> Any:
    exc = excinfo.value
    assert isinstance(exc, models.BatchErrorException)
    assert exc.error is not None, "the error body did not deserialize into BatchError"
    return exc


def test_quickstart_flow_pool_job_three_tasks_output_and_cleanup(
    client: Any, uid: Callable[[str], str], wait_for: Callable[..., Any], cleanup: Callable[[str, str], None]
) -> None:
    pool_id, job_id = uid("PythonQuickstartPool"), uid("PythonQuickstartJob")

    client.pool.add(pool_parameter(pool_id))
    cleanup("pool", pool_id)
    client.job.add(models.JobAddParameter(id=job_id, pool_info=models.PoolInformation(pool_id=pool_id)))
    cleanup("job", job_id)

    tasks = [
        models.TaskAddParameter(id=f"Task{i}", command_line=f'/bin/bash -c "echo line {i} of taskdata{i}.txt"')
        for i in range(3)
    ]
    result = client.task.add_collection(job_id, tasks)
    assert sorted(r.task_id for r in result.value) == ["Task0", "Task1", "Task2"]
    assert all(r.status == models.TaskAddStatus.success for r in result.value), [r.as_dict() for r in result.value]

    def all_completed() -> list[Any] | None:
        listed = list(client.task.list(job_id))
        return listed if len(listed) == 3 and all(t.state == models.TaskState.completed for t in listed) else None

    completed = wait_for(all_completed, timeout=120)

    node_ids = {n.id for n in client.compute_node.list(pool_id)}
    assert len(node_ids) == POOL_SIZE
    for task in completed:
        detail = client.task.get(job_id, task.id)
        assert detail.node_info is not None and detail.node_info.node_id in node_ids
        assert detail.node_info.pool_id == pool_id
        assert detail.execution_info.exit_code == 0
        assert detail.execution_info.result == models.TaskExecutionResult.success

        i = task.id[len("Task") :]
        expected = f"line {i} of taskdata{i}.txt\n".encode()
        stream = client.file.get_from_task(job_id, task.id, "stdout.txt")
        assert b"".join(stream) == expected

        # raw=True: msrest returns the response headers, deserialized to their declared types.
        props = client.file.get_properties_from_task(job_id, task.id, "stdout.txt", raw=True)
        assert props.response.status_code == 200
        assert int(props.headers["Content-Length"]) == len(expected)
        assert props.headers["ocp-batch-file-isdirectory"] is False
        assert props.headers["ocp-batch-file-url"].endswith(f"/jobs/{job_id}/tasks/{task.id}/files/stdout.txt")

    images = list(client.account.list_supported_images())
    assert images, "no supported images"
    assert any(img.node_agent_sku_id == NODE_AGENT for img in images)
    assert all(img.image_reference is not None and img.os_type is not None for img in images)

    # 14.x sends a charset'ed JSON Content-Type on this bodiless POST.
    client.job.terminate(job_id)
    assert client.job.get(job_id).state in (models.JobState.terminating, models.JobState.completed)
    client.job.delete(job_id)
    client.pool.delete(pool_id)

    def job_gone() -> bool:
        try:
            client.job.get(job_id)
        except models.BatchErrorException as exc:
            return exc.error.code == "JobNotFound"
        return False

    assert wait_for(job_gone, timeout=30)


def test_pool_add_without_image_version_defaults_to_latest(
    client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None]
) -> None:
    pool_id = uid("noversion")
    client.pool.add(pool_parameter(pool_id, nodes=0, version=None))
    cleanup("pool", pool_id)
    pool = client.pool.get(pool_id)
    assert pool.id == pool_id
    image = pool.virtual_machine_configuration.image_reference
    assert (image.publisher, image.offer, image.sku) == (IMAGE["publisher"], IMAGE["offer"], IMAGE["sku"])
    assert image.version == "latest"


def test_job_add_sends_max_parallel_tasks_minus_one_and_it_round_trips(
    client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None]
) -> None:
    pool_id, job_id = uid("mpt-pool"), uid("mpt-job")
    client.pool.add(pool_parameter(pool_id, nodes=0))
    cleanup("pool", pool_id)
    parameter = models.JobAddParameter(id=job_id, pool_info=models.PoolInformation(pool_id=pool_id))
    assert parameter.max_parallel_tasks == -1  # the msrest model's default, always serialized
    client.job.add(parameter)
    cleanup("job", job_id)
    job = client.job.get(job_id)
    assert job.id == job_id
    assert job.pool_info.pool_id == pool_id
    assert job.max_parallel_tasks == -1
    assert job.state == models.JobState.active


def test_adding_an_existing_pool_raises_batch_error_pool_exists(
    client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None]
) -> None:
    pool_id = uid("twice")
    client.pool.add(pool_parameter(pool_id, nodes=0))
    cleanup("pool", pool_id)
    with pytest.raises(models.BatchErrorException) as excinfo:
        client.pool.add(pool_parameter(pool_id, nodes=0))
    exc = batch_error(excinfo)
    assert exc.response.status_code == 409
    assert exc.error.code == "PoolExists"
    assert exc.error.message.lang == "en-US"
    assert exc.error.message.value.startswith("The specified pool already exists.")
    assert "RequestId:" in exc.error.message.value


def test_getting_a_missing_job_raises_batch_error_job_not_found(client: Any, uid: Callable[[str], str]) -> None:
    with pytest.raises(models.BatchErrorException) as excinfo:
        client.job.get(uid("missing-job"))
    exc = batch_error(excinfo)
    assert exc.response.status_code == 404
    assert exc.error.code == "JobNotFound"
    assert exc.error.message.value.startswith("The specified job does not exist.")
    assert exc.response.headers.get("request-id")


def test_terminating_a_missing_job_raises_job_not_found(client: Any, uid: Callable[[str], str]) -> None:
    with pytest.raises(models.BatchErrorException) as excinfo:
        client.job.terminate(uid("missing-job"))
    assert batch_error(excinfo).error.code == "JobNotFound"


def test_invalid_property_error_carries_values(client: Any, uid: Callable[[str], str]) -> None:
    with pytest.raises(models.BatchErrorException) as excinfo:
        client.pool.add(pool_parameter(uid("badsize"), nodes=0, vm_size="not_a_real_vm_size"))
    exc = batch_error(excinfo)
    assert exc.response.status_code == 400
    assert exc.error.code
    values = {v.key: v.value for v in exc.error.values or []}
    assert values.get("PropertyName") == "vmSize", values


def test_pool_list_pages_with_max_results_one(
    client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None]
) -> None:
    ours = [uid(f"page{i}") for i in range(3)]
    for pool_id in ours:
        client.pool.add(pool_parameter(pool_id, nodes=0))
        cleanup("pool", pool_id)

    paged = client.pool.list(models.PoolListOptions(max_results=1))
    pages: list[list[str]] = []
    while True:
        try:
            page = paged.advance_page()
        except StopIteration:
            break
        pages.append([p.id for p in page])
        assert len(pages) < 1000, "paging does not end"
    assert all(len(page) <= 1 for page in pages), pages
    seen = [pool_id for page in pages for pool_id in page]
    assert len(seen) == len(set(seen)), f"a pool was listed twice: {seen}"
    assert set(ours) <= set(seen)
    assert len(pages) >= 3

    # The plain iterator follows the same nextLinks.
    assert set(ours) <= {p.id for p in client.pool.list(models.PoolListOptions(max_results=1))}


def test_exists_single_task_counts_node_and_file_listing(
    client: Any, uid: Callable[[str], str], wait_for: Callable[..., Any], cleanup: Callable[[str, str], None]
) -> None:
    pool_id, job_id = uid("misc-pool"), uid("misc-job")
    # msrest turns the HEAD's 404 into False (15.1.0 raises instead; see clients.md 1.6).
    assert client.pool.exists(pool_id) is False
    client.pool.add(pool_parameter(pool_id, nodes=1))
    cleanup("pool", pool_id)
    assert client.pool.exists(pool_id) is True
    client.job.add(models.JobAddParameter(id=job_id, pool_info=models.PoolInformation(pool_id=pool_id)))
    cleanup("job", job_id)
    assert job_id in {j.id for j in client.job.list()}

    client.task.add(job_id, models.TaskAddParameter(id="single", command_line="/bin/sh -c 'echo one'"))
    task = wait_for(lambda: (t := client.task.get(job_id, "single")).state == models.TaskState.completed and t)
    counts = client.job.get_task_counts(job_id)
    assert (counts.task_counts.completed, counts.task_counts.succeeded, counts.task_counts.failed) == (1, 1, 0)

    node = client.compute_node.get(pool_id, task.node_info.node_id)
    assert node.id == task.node_info.node_id
    names = {f.name for f in client.file.list_from_task(job_id, "single")}
    assert {"stdout.txt", "stderr.txt"} <= names, names


def test_disable_then_enable_job_with_charset_content_type(
    client: Any, uid: Callable[[str], str], wait_for: Callable[..., Any], cleanup: Callable[[str, str], None]
) -> None:
    pool_id, job_id = uid("dis-pool"), uid("dis-job")
    client.pool.add(pool_parameter(pool_id, nodes=1))
    cleanup("pool", pool_id)
    client.job.add(models.JobAddParameter(id=job_id, pool_info=models.PoolInformation(pool_id=pool_id)))
    cleanup("job", job_id)
    # disable: {"disableTasks": "requeue"}; enable: no body, yet the charset'ed JSON Content-Type.
    client.job.disable(job_id, models.DisableJobOption.requeue)
    assert wait_for(lambda: client.job.get(job_id).state == models.JobState.disabled)
    client.task.add(job_id, models.TaskAddParameter(id="after", command_line="/bin/true"))
    client.job.enable(job_id)
    assert wait_for(lambda: client.job.get(job_id).state == models.JobState.active)
    task = wait_for(lambda: (t := client.task.get(job_id, "after")).state == models.TaskState.completed and t)
    assert task.execution_info.exit_code == 0


def test_certificates_are_retired_as_on_azure(client: Any, uid: Callable[[str], str]) -> None:
    """The certificate feature was retired on 2024-02-29: its operations, and a pool naming a
    certificate, are 400 CertificateRetired (14.2.0 still has them)."""
    thumbprint = "c1e494a415149c5f211c4778b52f2e834a07247c"
    calls: list[Callable[[], Any]] = [
        lambda: list(client.certificate.list()),
        lambda: client.certificate.get("sha1", thumbprint),
        lambda: client.certificate.delete("sha1", thumbprint),
        lambda: client.certificate.cancel_deletion("sha1", thumbprint),
        lambda: client.certificate.add(
            models.CertificateAddParameter(thumbprint=thumbprint, thumbprint_algorithm="sha1", data="AAAA")
        ),
    ]
    pool = pool_parameter(uid("CertPool"), nodes=0)
    pool.certificate_references = [models.CertificateReference(thumbprint=thumbprint, thumbprint_algorithm="sha1")]
    calls.append(lambda: client.pool.add(pool))
    for call in calls:
        with pytest.raises(models.BatchErrorException) as excinfo:
            call()
        exc = batch_error(excinfo)
        assert exc.response.status_code == 400
        assert exc.error.code == "CertificateRetired"
        assert "retired on 02/29/2024" in exc.error.message.value
    with pytest.raises(models.BatchErrorException) as excinfo:
        client.pool.get(pool.id)
    assert batch_error(excinfo).error.code == "PoolNotFound"
