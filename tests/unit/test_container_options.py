"""Container tasks' pure parts: run options, image names, bind mounts, the env file, and what a
pool and a task's wire settings become on a node."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from batchite.agent.container_engine import qualified, registry_of, same_registry, valid_reference
from batchite.agent.container_runs import ContainerSettingsError, TaskPaths, run_arguments, run_options, write_env_file
from batchite.agent.container_specs import BindMount, ContainerRun, EngineSettings, RegistryLogin
from batchite.agent.container_tasks import login_for
from batchite.domain.errors import BatchError
from batchite.scheduler.containers import pool_containers, task_container
from batchite.service.container_checks import check_container_configuration
from batchite.wire import models as m


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("--memory 64m --cpus=1 -e A=1 --env B=2", ["--memory=64m", "--cpus=1", "--env=A=1", "--env=B=2"]),
        ("-eA=1 -w /x --read-only --init", ["--env=A=1", "--workdir=/x", "--read-only", "--init"]),
        ("--rm -it --network none --net=bridge", ["--network=none", "--network=bridge"]),
        (
            "--entrypoint /bin/sh --hostname h1 --ipc private",
            ["--entrypoint=/bin/sh", "--hostname=h1", "--ipc=private"],
        ),
        ("", []),
    ],
)
def test_safe_run_options_pass_normalised(given: str, expected: list[str]) -> None:
    assert run_options(given, unsafe=False) == expected


@pytest.mark.parametrize(
    "given",
    [
        "--privileged",
        "-v /:/host",
        "--volume=/etc:/etc",
        "--mount type=bind,src=/,dst=/h",
        "--network host",
        "--net=host",
        "--pid host",
        "--ipc=host",
        "--user 0",
        "-u root",
        "--cap-add ALL",
        "--device /dev/sda",
        "--security-opt seccomp=unconfined",
        "--env-file /etc/shadow",
        "--userns host",
    ],
)
def test_run_options_that_break_isolation_are_refused(given: str) -> None:
    with pytest.raises(ContainerSettingsError) as caught:
        run_options(given, unsafe=False)
    assert caught.value.name == "ContainerRunOptions"
    assert given.split()[0].split("=")[0] in caught.value.value
    assert "--container-unsafe-options" in caught.value.message


def test_unsafe_options_pass_when_the_admin_allows_them() -> None:
    assert run_options("--privileged -v /:/host", unsafe=True) == ["--privileged", "-v", "/:/host"]


def test_unparseable_and_valueless_options_are_refused() -> None:
    with pytest.raises(ContainerSettingsError, match="cannot be parsed"):
        run_options("--env 'A=1", unsafe=False)
    with pytest.raises(ContainerSettingsError, match="needs a value"):
        run_options("--memory", unsafe=False)


@pytest.mark.parametrize(
    ("image", "registry", "full"),
    [
        ("busybox", "docker.io", "docker.io/library/busybox"),
        ("busybox:1.36", "docker.io", "docker.io/library/busybox:1.36"),
        ("user/app:2", "docker.io", "docker.io/user/app:2"),
        ("docker.io/library/busybox", "docker.io", "docker.io/library/busybox"),
        ("myacr.azurecr.io/app:1", "myacr.azurecr.io", "myacr.azurecr.io/app:1"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "127.0.0.1:5000/team/app"),
        ("localhost/app:1", "localhost", "localhost/app:1"),
    ],
)
def test_image_names_as_docker_pull_reads_them(image: str, registry: str, full: str) -> None:
    assert registry_of(image) == registry
    assert qualified(image) == full


def test_registry_servers_match_with_or_without_scheme() -> None:
    assert same_registry("https://myacr.azurecr.io/", "myacr.azurecr.io")
    assert same_registry("MyAcr.azurecr.io", "myacr.azurecr.io")
    assert same_registry("", "docker.io") and same_registry("index.docker.io", "docker.io")
    assert not same_registry("other.azurecr.io", "myacr.azurecr.io")


def test_a_tasks_registry_wins_over_the_pools() -> None:
    pool = (RegistryLogin("other.io", "a", "b"), RegistryLogin("https://myacr.azurecr.io", "u", "p"))
    assert login_for("myacr.azurecr.io/app", None, pool) == pool[1]
    own = RegistryLogin("myacr.azurecr.io", "me", "secret")
    assert login_for("myacr.azurecr.io/app", own, pool) == own
    assert login_for("busybox", None, pool) is None


def test_bind_mounts_default_to_the_whole_node_root(tmp_path: Path) -> None:
    paths = TaskPaths(tmp_path, "/mnt/batch/tasks", "workitems/j/job-1/t", "workitems/j/job-1/jobpreparation")
    assert paths.mounts(None) == [(tmp_path, "/mnt/batch/tasks", False)]
    assert paths.mounts(()) == []
    chosen = (BindMount("Shared", True), BindMount("Task"), BindMount("JobPrep"), BindMount("VfsMounts"))
    assert paths.mounts(chosen) == [
        (tmp_path / "shared", "/mnt/batch/tasks/shared", True),
        (tmp_path / "workitems/j/job-1/t", "/mnt/batch/tasks/workitems/j/job-1/t", False),
        (tmp_path / "workitems/j/job-1/jobpreparation", "/mnt/batch/tasks/workitems/j/job-1/jobpreparation", False),
        (tmp_path / "fsmounts", "/mnt/batch/tasks/fsmounts", False),
    ]
    no_prep = TaskPaths(tmp_path, str(tmp_path), "startup")
    assert no_prep.mounts((BindMount("JobPrep"),)) == []  # a task of a job without a preparation task
    with pytest.raises(ContainerSettingsError):
        no_prep.mounts((BindMount("Elsewhere"),))


def test_the_env_file_is_the_agents_alone_and_refuses_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "env"
    write_env_file(path, {"AZ_BATCH_TASK_ID": "t1", "SPACED": "a b = c"})
    assert path.read_text() == "AZ_BATCH_TASK_ID=t1\nSPACED=a b = c\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ContainerSettingsError) as caught:
        write_env_file(tmp_path / "env2", {"MULTI": "one\ntwo"})
    assert caught.value.value == "MULTI"


def test_run_arguments_put_the_task_in_its_container(tmp_path: Path) -> None:
    run = ContainerRun(image="localhost/app:1", run_options="--memory 64m", mounts=None)
    paths = TaskPaths(tmp_path, str(tmp_path), "workitems/j/job-1/t")
    args = run_arguments(
        run,
        "localhost/app:1",
        "batchite-r-1",
        "agent-1",
        (200000, 200000),
        tmp_path / "env",
        paths,
        "/wd",
        ["cat", "x"],
        False,
    )
    assert args[:2] == ["run", "--rm"]
    assert args[args.index("--user") : args.index("--user") + 2] == ["--user", "200000:200000"]
    assert f"{tmp_path}:{tmp_path}:rw" in args
    assert args[args.index("--workdir") + 1] == "/wd"
    assert args[-4:] == ["--memory=64m", "localhost/app:1", "cat", "x"]
    image_dir = ContainerRun(image="i", image_working_directory=True)
    assert "--workdir" not in run_arguments(image_dir, "i", "n", "a", None, tmp_path / "e", paths, "/wd", [], False)


def _vm(config: m.BatchContainerConfiguration | None) -> m.VirtualMachineConfiguration:
    return m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="canonical", offer="o", sku="s"),
        node_agent_sku_id="batch.node.ubuntu 22.04",
        container_configuration=config,
    )


def test_a_container_pool_is_refused_without_an_engine() -> None:
    config = _vm(m.BatchContainerConfiguration(type="dockerCompatible"))
    check_container_configuration(config, EngineSettings("auto"))
    check_container_configuration(_vm(None), EngineSettings("none"))
    with pytest.raises(BatchError) as caught:
        check_container_configuration(config, EngineSettings("none"))
    assert caught.value.status == 400 and caught.value.code == "UnsupportedProperty"
    assert ("PropertyName", "virtualMachineConfiguration.containerConfiguration") in caught.value.values


def test_a_registry_with_a_managed_identity_is_refused() -> None:
    registry = m.ContainerRegistryReference(
        registry_server="x.azurecr.io", identity_reference=m.BatchNodeIdentityReference(resource_id="/id")
    )
    config = _vm(m.BatchContainerConfiguration(type="dockerCompatible", container_registries=[registry]))
    with pytest.raises(BatchError) as caught:
        check_container_configuration(config, EngineSettings("auto"))
    name = dict(caught.value.values)["PropertyName"]
    assert name.endswith("containerRegistries[0].identityReference")


def test_wire_settings_become_what_the_node_is_told() -> None:
    registry = m.ContainerRegistryReference(registry_server="r.io", username="u", password="p")
    vm = _vm(
        m.BatchContainerConfiguration(
            type="dockerCompatible", container_image_names=["r.io/a:1"], container_registries=[registry]
        )
    )
    setup = pool_containers(vm, EngineSettings("podman"))
    assert setup is not None and setup.images == ("r.io/a:1",)
    assert setup.registries == (RegistryLogin("r.io", "u", "p"),) and setup.engine.choice == "podman"
    assert pool_containers(_vm(None), EngineSettings()) is None
    settings = m.BatchTaskContainerSettings(
        image_name="r.io/a:1",
        working_directory="containerImageDefault",
        container_host_batch_bind_mounts=[m.ContainerHostBatchBindMountEntry(source="Shared", is_read_only=True)],
    )
    run = task_container(settings)
    assert run is not None and run.image_working_directory and run.mounts == (BindMount("Shared", True),)
    assert task_container(None) is None


@pytest.mark.parametrize("name", ["--privileged", "-v", "a b", "", "img;rm", "x" * 600])
def test_names_that_are_no_image_reference_never_reach_the_engine(name: str) -> None:
    assert not valid_reference(name)
    config = _vm(m.BatchContainerConfiguration(type="dockerCompatible", container_image_names=[name]))
    with pytest.raises(BatchError) as caught:
        check_container_configuration(config, EngineSettings("auto"))
    assert caught.value.code == "InvalidPropertyValue"


@pytest.mark.parametrize(
    "name", ["busybox", "busybox:1.36", "r.io:5000/a/b:1", "a/b@sha256:" + "0" * 64, "localhost/x"]
)
def test_image_references_are_valid(name: str) -> None:
    assert valid_reference(name)
