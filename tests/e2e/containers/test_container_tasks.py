"""Container tasks through azure-batch 15.1.0 over real HTTP, on the shared server (podman found by
`--container-engine auto`): pools that prefetch images (from local storage and from a registry
with a login), tasks that run in them, and what is refused.

Every test checks an effect inside the container: the image's /etc/os-release (`ID=batchite-test`,
not the host's), its WORKDIR, the task's environment, files written through the bind mounts and
read on the host or by the next task, the exit code, the engine's containers gone after a kill."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported by 15.1.0
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.conftest import wait_for
from tests.e2e.containers.images import IMAGE_WORKDIR, TEST_IMAGE, Registry, podman
from tests.e2e.helpers import POLL, make_pool, wait_nodes, wait_task
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e

BOOT = 60.0  # a node pulls its images before its start task: ~0.5-1 s a pull
RUN = 60.0
UNPULLABLE = "127.0.0.1:1/none/nothing:1"  # nothing listens on port 1


# -- builders ---------------------------------------------------------------------------------


def sh(script: str) -> str:
    """A command line running `script` in the image's /bin/sh (a container's command line has no shell)."""
    assert "'" not in script
    return f"/bin/sh -c '{script}'"


def in_container(image: str, **extra: Any) -> m.BatchTaskContainerSettings:
    return m.BatchTaskContainerSettings(image_name=image, **extra)


def login(registry: Registry, password: str | None = None) -> m.ContainerRegistryReference:
    return m.ContainerRegistryReference(
        registry_server=registry.server, username=registry.username, password=password or registry.password
    )


def container_pool_options(
    pool_id: str,
    images: list[str],
    registries: list[m.ContainerRegistryReference] | None = None,
    dedicated: int = 1,
    slots: int = 1,
    **extra: Any,
) -> m.BatchPoolCreateOptions:
    options = pool_options(pool_id, dedicated=dedicated, slots=slots, **extra)
    assert options.virtual_machine_configuration is not None
    options.virtual_machine_configuration.container_configuration = m.BatchContainerConfiguration(
        type="dockerCompatible", container_image_names=images, container_registries=registries
    )
    return options


def new_job(
    client: Any, uid: Callable[[str], str], cleanup: Callable[[str, str], None], pool_id: str, **extra: Any
) -> str:
    job_id = uid("cjob") + uuid.uuid4().hex[:4]  # several jobs a test
    client.create_job(job_options(job_id, pool_id, **extra))
    cleanup("job", job_id)
    return job_id


def run(client: Any, job_id: str, task_id: str, command_line: str, **extra: Any) -> Any:
    """Adds one task and answers it completed."""
    client.create_task(job_id, task_options(task_id, command_line, **extra))
    return wait_task(client, job_id, task_id, timeout=RUN)


def stdout(client: Any, job_id: str, task_id: str, name: str = "stdout.txt") -> str:
    return b"".join(client.download_task_file(job_id, task_id, name)).decode()


def failure(task: Any) -> tuple[str | None, str]:
    """The failure code and everything it says (message and details), for matching."""
    info = task.execution_info.failure_info
    assert info is not None, task.execution_info
    said = [info.message or ""] + [f"{d.name}={d.value}" for d in info.details or []]
    return info.code, " ".join(said)


def running_containers(conf: Path) -> str:
    """IDs and names of the containers running in root's storage (Batchite's engine shares it)."""
    return podman(conf, "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}").stdout


def error_values(error: HttpResponseError) -> dict[str, str]:
    assert error.error is not None
    return {str(d.code): str(d.message) for d in error.error.details or []}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def container_pool(client: Any, test_image: str) -> Iterator[str]:
    """One node prefetching the test image, four slots (the module's tasks do not queue)."""
    pool_id = f"ctr-{uuid.uuid4().hex[:8]}"
    client.create_pool(container_pool_options(pool_id, [test_image], slots=4))
    try:
        wait_nodes(client, pool_id, 1, timeout=BOOT)
        yield pool_id
    finally:
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


# -- running in the container -----------------------------------------------------------------


def test_prefetched_image_pool_runs_a_task_in_its_image(
    client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any
) -> None:
    [node] = list(client.list_nodes(container_pool))
    assert node.state == "idle" and not node.errors, node
    job_id = new_job(client, uid, cleanup, container_pool)

    task = run(client, job_id, "osr", sh("cat /etc/os-release; id -u"), container_settings=in_container(test_image))

    info = task.execution_info
    assert (info.result, info.exit_code, info.failure_info) == ("success", 0, None), info
    out = stdout(client, job_id, "osr").splitlines()
    assert "ID=batchite-test" in out, out  # the image's file, not the host's
    assert 'NAME="Batchite test image"' in out, out
    assert out[-1] != "0", out  # the pool's non-admin user, not root
    assert info.container_info is not None and info.container_info.container_id, info
    assert task.node_info.node_id == node.id


def test_environment_and_bind_mounts(client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    name = f"shared-{job_id}"
    writer = sh(
        f'echo written-in-container > "$AZ_BATCH_NODE_SHARED_DIR/{name}"; '
        'echo "task=$AZ_BATCH_TASK_ID"; echo "myvar=$MYVAR"; echo "pwd=$(pwd)"; '
        'echo "wd=$AZ_BATCH_TASK_WORKING_DIR"; echo "shared=$AZ_BATCH_NODE_SHARED_DIR"; echo here > mine.txt'
    )
    task = run(
        client,
        job_id,
        "writer",
        writer,
        container_settings=in_container(test_image),
        environment_settings=[m.EnvironmentSetting(name="MYVAR", value="from-settings")],
    )
    assert task.execution_info.exit_code == 0, task.execution_info
    lines = dict(line.split("=", 1) for line in stdout(client, job_id, "writer").splitlines())
    assert lines["task"] == "writer"
    assert lines["myvar"] == "from-settings"
    assert lines["pwd"] == lines["wd"], lines  # the default working directory: the task's
    assert lines["wd"].endswith("/wd") and "writer" in lines["wd"], lines
    # The node's directories are mounted at their own paths: what the container wrote is on the host.
    assert (Path(lines["shared"]) / name).read_text() == "written-in-container\n"
    assert (Path(lines["wd"]) / "mine.txt").read_text() == "here\n"
    assert b"".join(client.download_task_file(job_id, "writer", "wd/mine.txt")) == b"here\n"

    reader = run(
        client,
        job_id,
        "reader",
        sh(f'cat "$AZ_BATCH_NODE_SHARED_DIR/{name}"'),
        container_settings=in_container(test_image),
    )
    assert reader.execution_info.exit_code == 0, reader.execution_info
    assert stdout(client, job_id, "reader") == "written-in-container\n"

    # Only the task's own directory: the shared one is not in the container, the working one is.
    only_task = in_container(
        test_image,
        container_host_batch_bind_mounts=[m.ContainerHostBatchBindMountEntry(source="Task", is_read_only=False)],
    )
    probe = sh(
        'if test -e "$AZ_BATCH_NODE_SHARED_DIR"; then echo shared-present; else echo shared-absent; fi; '
        'echo "pwd=$(pwd)"; echo ok > own.txt && cat own.txt'
    )
    task = run(client, job_id, "onlytask", probe, container_settings=only_task)
    assert task.execution_info.exit_code == 0, (task.execution_info, stdout(client, job_id, "onlytask", "stderr.txt"))
    out = stdout(client, job_id, "onlytask").splitlines()
    assert out[0] == "shared-absent", out
    assert out[1].startswith("pwd=") and out[1].endswith("/wd") and "onlytask" in out[1], out
    assert out[2] == "ok", out

    # The shared directory read-only: what is there can be read, nothing written.
    read_only = in_container(
        test_image,
        container_host_batch_bind_mounts=[
            m.ContainerHostBatchBindMountEntry(source="Task", is_read_only=False),
            m.ContainerHostBatchBindMountEntry(source="Shared", is_read_only=True),
        ],
    )
    probe = sh(
        f'cat "$AZ_BATCH_NODE_SHARED_DIR/{name}"; '
        'if echo x > "$AZ_BATCH_NODE_SHARED_DIR/ro-$AZ_BATCH_JOB_ID"; then echo written; else echo refused; fi'
    )
    task = run(client, job_id, "readonly", probe, container_settings=read_only)
    assert task.execution_info.exit_code == 0, task.execution_info
    assert stdout(client, job_id, "readonly").splitlines() == ["written-in-container", "refused"]
    assert not (Path(lines["shared"]) / f"ro-{job_id}").exists()


def test_image_default_working_directory(
    client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any
) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    settings = in_container(test_image, working_directory="containerImageDefault")
    task = run(client, job_id, "imgwd", "pwd", container_settings=settings)
    assert task.execution_info.exit_code == 0, task.execution_info
    assert stdout(client, job_id, "imgwd") == f"{IMAGE_WORKDIR}\n"

    settings = in_container(test_image, working_directory="taskWorkingDirectory")
    task = run(
        client, job_id, "taskwd", sh('test "$(pwd)" = "$AZ_BATCH_TASK_WORKING_DIR" && pwd'), container_settings=settings
    )
    assert task.execution_info.exit_code == 0, task.execution_info
    assert stdout(client, job_id, "taskwd").strip().endswith("/wd")


def test_exit_code_is_the_commands(client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    task = run(client, job_id, "three", sh("echo to-stderr >&2; exit 3"), container_settings=in_container(test_image))
    info = task.execution_info
    assert (info.exit_code, info.result) == (3, "failure"), info
    assert failure(task)[0] == "FailureExitCode"
    assert stdout(client, job_id, "three", "stderr.txt") == "to-stderr\n"


def test_wall_clock_and_terminate_end_the_container(
    client: Any, container_pool: str, test_image: str, containers_conf: Path, uid: Any, cleanup: Any
) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    began = time.monotonic()
    client.create_task(
        job_id,
        task_options(
            "limited",
            "sleep 60",
            container_settings=in_container(test_image),
            constraints=m.BatchTaskConstraints(max_wall_clock_time=dt.timedelta(seconds=2)),
        ),
    )
    client.create_task(job_id, task_options("terminated", "sleep 60", container_settings=in_container(test_image)))

    running = wait_task(client, job_id, "terminated", state="running", timeout=RUN)
    container_id = wait_for(
        lambda: (c := client.get_task(job_id, "terminated").execution_info.container_info) and c.container_id,
        timeout=RUN,
    )
    assert running.node_info is not None
    client.terminate_task(job_id, "terminated")
    terminated = wait_task(client, job_id, "terminated", timeout=RUN)
    limited = wait_task(client, job_id, "limited", timeout=RUN)
    assert time.monotonic() - began < 30, "a killed container ran on"
    for task in (limited, terminated):
        assert task.execution_info.result == "failure", task.execution_info
        assert failure(task)[0] == "TaskEnded", task.execution_info
    # The engine's container is gone, not just the process that waited on it.
    wait_for(lambda: container_id not in running_containers(containers_conf), timeout=15)


# -- images from a registry -------------------------------------------------------------------


def test_pool_pulls_from_a_registry_with_its_login(
    client: Any, registry: Registry, registry_image: str, containers_conf: Path, uid: Any, cleanup: Any
) -> None:
    assert registry.anonymous_pull_refused(registry_image)  # the login is what lets the node pull
    pool_id = uid("ctr-reg")
    client.create_pool(container_pool_options(pool_id, [registry_image], [login(registry)]))
    cleanup("pool", pool_id)
    [node] = wait_nodes(client, pool_id, 1, timeout=BOOT)
    assert not node.errors, node.errors
    assert podman(containers_conf, "image", "exists", registry_image, check=False).returncode == 0

    job_id = new_job(client, uid, cleanup, pool_id)
    task = run(client, job_id, "fromreg", "cat /etc/os-release", container_settings=in_container(registry_image))
    assert task.execution_info.exit_code == 0, task.execution_info
    assert "ID=batchite-test" in stdout(client, job_id, "fromreg").splitlines()


def test_task_pulls_its_own_image_with_its_login(
    client: Any, container_pool: str, registry: Registry, registry_image: str, uid: Any, cleanup: Any
) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    # Without a login (the pool has none for this registry) the registry refuses the pull.
    task = run(client, job_id, "anon", "cat /etc/os-release", container_settings=in_container(registry_image))
    code, said = failure(task)
    assert code == "ContainerInvalidRegistry", said
    assert "unauthorized" in said or "authentication" in said, said

    settings = in_container(registry_image, registry=login(registry))
    task = run(client, job_id, "withlogin", "cat /etc/os-release", container_settings=settings)
    assert task.execution_info.exit_code == 0, task.execution_info
    assert "ID=batchite-test" in stdout(client, job_id, "withlogin").splitlines()


def test_task_image_that_cannot_be_pulled(
    client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any
) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    task = run(client, job_id, "noimage", "true", container_settings=in_container(UNPULLABLE))
    assert task.execution_info.result == "failure", task.execution_info
    code, said = failure(task)
    assert code == "ContainerInvalidImage", said


@pytest.mark.parametrize("case", ["unreachable", "bad-password"])
def test_pool_pull_failure_makes_the_node_unusable(
    client: Any, test_image: str, request: pytest.FixtureRequest, case: str, uid: Any, cleanup: Any
) -> None:
    if case == "unreachable":
        image, registries = UNPULLABLE, None
    else:
        registry: Registry = request.getfixturevalue("registry")
        image = registry.push(test_image)
        registries = [login(registry, password="not-the-password")]
    pool_id = uid(f"ctr-{case}")
    client.create_pool(container_pool_options(pool_id, [image], registries))
    cleanup("pool", pool_id)

    [node] = wait_nodes(client, pool_id, 1, state="unusable", timeout=BOOT)
    [error] = node.errors
    assert error.code == "ContainerImagePullFailed", error
    assert image in (error.message or ""), error
    details = {d.name: d.value for d in error.error_details or []}
    assert details.get("ImageName") == image, details


# -- what is refused --------------------------------------------------------------------------


def test_container_pool_refused_without_an_engine(no_engine_client: Any, uid: Any) -> None:
    # (runs without podman too: nothing is pulled)
    with pytest.raises(HttpResponseError) as info:
        no_engine_client.create_pool(container_pool_options(uid("ctr-noengine"), [TEST_IMAGE]))
    assert info.value.status_code == 400
    assert info.value.error is not None and info.value.error.code == "UnsupportedProperty", info.value
    assert error_values(info.value)["PropertyName"].endswith("containerConfiguration"), error_values(info.value)
    with pytest.raises(ResourceNotFoundError):  # nothing was made
        no_engine_client.get_pool(uid("ctr-noengine"))


def test_registry_with_a_managed_identity_refused(client: Any, test_image: str, uid: Any, cleanup: Any) -> None:
    # (needs the engine: without one the server refuses containerConfiguration itself)
    identity = m.BatchNodeIdentityReference(resource_id="/subscriptions/s/resourceGroups/g/providers/x/y/z")
    registry = m.ContainerRegistryReference(registry_server="myregistry.azurecr.io", identity_reference=identity)
    pool_id = uid("ctr-identity")
    with pytest.raises(HttpResponseError) as info:
        client.create_pool(container_pool_options(pool_id, [test_image], [registry]))
    cleanup("pool", pool_id)  # (in case it was made)
    assert info.value.status_code == 400
    assert info.value.error is not None and info.value.error.code == "UnsupportedProperty", info.value
    assert error_values(info.value)["PropertyName"].endswith("identityReference"), error_values(info.value)


UNSAFE = {
    "--privileged": ("--privileged",),
    "-v /:/host": ("-v", "--volume", "/:/host"),
    "--network host": ("--network", "--net"),
    "--pid host": ("--pid",),
}


def test_run_options_that_break_isolation_are_refused(
    client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any
) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    for i, option in enumerate(UNSAFE):
        client.create_task(
            job_id,
            task_options(
                f"unsafe{i}", "true", container_settings=in_container(test_image, container_run_options=option)
            ),
        )
    for i, (option, names) in enumerate(UNSAFE.items()):
        task = wait_task(client, job_id, f"unsafe{i}", timeout=RUN)
        code, said = failure(task)
        assert code == "ContainerInvalidSettings", (option, task.execution_info)
        assert any(name in said for name in names), (option, said)


def test_benign_run_options_apply(client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    settings = in_container(test_image, container_run_options="--env FOO=bar --memory 64m --hostname h1")
    task = run(client, job_id, "benign", sh('echo "foo=$FOO"; hostname'), container_settings=settings)
    assert task.execution_info.exit_code == 0, (task.execution_info, stdout(client, job_id, "benign", "stderr.txt"))
    assert stdout(client, job_id, "benign").splitlines() == ["foo=bar", "h1"]


def test_container_pool_task_without_container_settings(
    client: Any, container_pool: str, uid: Any, cleanup: Any
) -> None:
    job_id = new_job(client, uid, cleanup, container_pool)
    task = run(client, job_id, "bare", "true")
    assert task.execution_info.result == "failure", task.execution_info
    assert failure(task)[0] == "ContainerTaskSettingsNotFound"


def test_container_settings_on_a_pool_without_containers(client: Any, uid: Any, cleanup: Any) -> None:
    # (runs without podman too: the task is refused before any engine is asked)
    pool_id = make_pool(client, uid("plain"), cleanup)
    job_id = new_job(client, uid, cleanup, pool_id)
    task = run(client, job_id, "misplaced", "true", container_settings=in_container(TEST_IMAGE))
    assert task.execution_info.result == "failure", task.execution_info
    assert failure(task)[0] == "ContainerPoolNotSupported"


# -- node-level and job-level tasks in containers ---------------------------------------------


def test_start_task_in_a_container(client: Any, test_image: str, uid: Any, cleanup: Any) -> None:
    start = m.BatchStartTask(
        command_line=sh('cat /etc/os-release; grep ^ID= /etc/os-release > "$AZ_BATCH_NODE_SHARED_DIR/started"'),
        container_settings=in_container(test_image),
        wait_for_success=True,
    )
    pool_id = uid("ctr-start")
    client.create_pool(container_pool_options(pool_id, [test_image], start_task=start))
    cleanup("pool", pool_id)
    [node] = wait_nodes(client, pool_id, 1, timeout=BOOT)

    info = node.start_task_info
    assert (info.state, info.exit_code, info.result) == ("completed", 0, "success"), info
    assert info.container_info.container_id and info.container_info.state == "exited", info
    out = b"".join(client.download_node_file(pool_id, node.id, "startup/stdout.txt")).decode()
    assert "ID=batchite-test" in out.splitlines(), out

    job_id = new_job(client, uid, cleanup, pool_id)
    task = run(
        client,
        job_id,
        "after",
        sh('cat "$AZ_BATCH_NODE_SHARED_DIR/started"'),
        container_settings=in_container(test_image),
    )
    assert task.execution_info.exit_code == 0, task.execution_info
    assert stdout(client, job_id, "after") == "ID=batchite-test\n"


def test_job_preparation_and_release_in_containers(
    client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any
) -> None:
    prep = m.BatchJobPreparationTask(
        command_line=sh('grep ^ID= /etc/os-release > "$AZ_BATCH_NODE_SHARED_DIR/prep-$AZ_BATCH_JOB_ID"; pwd'),
        container_settings=in_container(test_image),
    )
    release = m.BatchJobReleaseTask(
        command_line=sh(
            'grep ^ID= /etc/os-release > "$AZ_BATCH_NODE_SHARED_DIR/released-$AZ_BATCH_JOB_ID"; '
            'rm "$AZ_BATCH_NODE_SHARED_DIR/prep-$AZ_BATCH_JOB_ID"'
        ),
        container_settings=in_container(test_image),
    )
    job_id = new_job(client, uid, cleanup, container_pool, job_preparation_task=prep, job_release_task=release)
    main = sh('cat "$AZ_BATCH_NODE_SHARED_DIR/prep-$AZ_BATCH_JOB_ID"; echo "$AZ_BATCH_NODE_SHARED_DIR"')
    task = run(client, job_id, "main", main, container_settings=in_container(test_image))
    assert task.execution_info.exit_code == 0, task.execution_info
    first, shared_dir = stdout(client, job_id, "main").splitlines()
    assert first == "ID=batchite-test"

    [status] = list(client.list_job_preparation_and_release_task_status(job_id))
    info = status.job_preparation_task_execution_info
    assert (info.state, info.result, info.exit_code) == ("completed", "success", 0), info
    assert info.container_info.container_id and info.container_info.state == "exited", info
    shared = Path(shared_dir)
    assert (shared / f"prep-{job_id}").read_text() == "ID=batchite-test\n"  # written through the mount

    terminate = BatchJobTerminateOptions(termination_reason="done")
    client.begin_terminate_job(job_id, terminate, polling_interval=POLL).result()

    def released() -> Any:
        [s] = list(client.list_job_preparation_and_release_task_status(job_id))
        r = s.job_release_task_execution_info
        return r if r is not None and r.state == "completed" else None

    info = wait_for(released, timeout=RUN)
    assert (info.result, info.exit_code) == ("success", 0), info
    assert not (shared / f"prep-{job_id}").exists()  # the release task removed it, through the mount
    assert (shared / f"released-{job_id}").read_text() == "ID=batchite-test\n"
    (shared / f"released-{job_id}").unlink()


def test_job_manager_in_a_container(client: Any, container_pool: str, test_image: str, uid: Any, cleanup: Any) -> None:
    manager = m.BatchJobManagerTask(
        id="manager",
        command_line=sh('grep ^ID= /etc/os-release; echo "task=$AZ_BATCH_TASK_ID"'),
        container_settings=in_container(test_image),
        kill_job_on_completion=True,
    )
    job_id = new_job(client, uid, cleanup, container_pool, job_manager_task=manager)
    task = wait_task(client, job_id, "manager", timeout=RUN)
    assert task.execution_info.exit_code == 0, task.execution_info
    assert task.execution_info.container_info is not None and task.execution_info.container_info.container_id
    assert stdout(client, job_id, "manager").splitlines() == ["ID=batchite-test", "task=manager"]
    wait_for(lambda: client.get_job(job_id).state == "completed", timeout=RUN)  # killJobOnCompletion


def test_multi_instance_task_in_containers(client: Any, test_image: str, uid: Any, cleanup: Any) -> None:
    pool_id = uid("ctr-multi")
    client.create_pool(container_pool_options(pool_id, [test_image], dedicated=2))
    cleanup("pool", pool_id)
    wait_nodes(client, pool_id, 2, timeout=BOOT)
    job_id = new_job(client, uid, cleanup, pool_id)
    coordination = sh('grep ^ID= /etc/os-release > "$AZ_BATCH_NODE_SHARED_DIR/coord-$AZ_BATCH_JOB_ID"')
    task = run(
        client,
        job_id,
        "multi",
        sh('cat "$AZ_BATCH_NODE_SHARED_DIR/coord-$AZ_BATCH_JOB_ID"; echo "hosts=$AZ_BATCH_HOST_LIST"'),
        container_settings=in_container(test_image),
        multi_instance_settings=m.MultiInstanceSettings(number_of_instances=2, coordination_command_line=coordination),
    )
    assert task.execution_info.exit_code == 0, (task.execution_info, stdout(client, job_id, "multi", "stderr.txt"))
    first, hosts = stdout(client, job_id, "multi").splitlines()
    assert first == "ID=batchite-test"  # the coordination command ran in the image, then the application command
    assert len(hosts.removeprefix("hosts=").split(",")) == 2, hosts
    [sub] = list(client.list_subtasks(job_id, "multi"))
    assert (sub.state, sub.exit_code, sub.result) == ("completed", 0, "success"), sub
    assert sub.node_info.node_id != task.node_info.node_id
    for node_id in (sub.node_info.node_id, task.node_info.node_id):  # each node's coordination command
        written = b"".join(client.download_node_file(pool_id, node_id, f"shared/coord-{job_id}"))
        assert written == b"ID=batchite-test\n", node_id


# -- an agent that dies -----------------------------------------------------------------------


def _engine_client_of(container: str) -> int:
    """The pid of the engine client (`podman run --name CONTAINER ...`) the agent started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in argv and container.encode() in argv:
            return int(entry.name)
    raise LookupError(container)


def test_a_dead_agents_containers_are_removed(
    client: Any, test_image: str, containers_conf: Path, uid: Any, cleanup: Any
) -> None:
    """The engine keeps a container running when the agent that started it dies; the service ends
    it with the agent's other processes, and the node is unusable as for any agent lost."""
    pool_id = uid("ctr-lost")
    client.create_pool(container_pool_options(pool_id, [test_image]))
    cleanup("pool", pool_id)
    [node] = wait_nodes(client, pool_id, 1, timeout=BOOT)
    job_id = new_job(client, uid, cleanup, pool_id)
    client.create_task(job_id, task_options("orphan", "sleep 120", container_settings=in_container(test_image)))
    wait_task(client, job_id, "orphan", state="running", timeout=RUN)
    name = wait_for(
        lambda: (c := client.get_task(job_id, "orphan").execution_info.container_info) and c.container_id,
        timeout=RUN,
    )
    wait_for(lambda: name in running_containers(containers_conf), timeout=RUN)
    engine_client = wait_for(lambda: _engine_client_of(name) if name else None, timeout=RUN)
    agent = int(Path(f"/proc/{engine_client}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert b"batchite.agent.server" in Path(f"/proc/{agent}/cmdline").read_bytes()

    os.kill(agent, signal.SIGKILL)
    wait_for(lambda: (n := client.get_node(pool_id, node.id)).state == "unusable" and n, timeout=RUN)
    wait_for(lambda: name not in running_containers(containers_conf), timeout=30)
    task = client.get_task(job_id, "orphan")
    assert task.state == "active" and task.execution_info.requeue_count == 1, task.execution_info
