"""What the agent does for a container task around its process: the checks Azure makes of a
task's containerSettings, the image (pulled when the node does not have it), the env file, the
engine's command line, and the container's removal when the task is killed.

The failures are the task's, as Azure reports them (category UserError, before the process):
ContainerTaskSettingsNotFound (a regular or job manager task without containerSettings on a
container-enabled pool), ContainerPoolNotSupported (containerSettings on a pool without
containerConfiguration), ContainerInvalidSettings, ContainerInvalidImage, ContainerInvalidRegistry,
ContainerMiscError (no engine on this node).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from batchite.agent.container_engine import (
    ContainerEngine,
    PullError,
    find_engine,
    registry_of,
    same_registry,
    valid_reference,
)
from batchite.agent.container_runs import LABEL, ContainerSettingsError, TaskPaths, run_arguments, write_env_file
from batchite.agent.container_specs import ContainerRun, ContainerSetup, EngineSettings, RegistryLogin
from batchite.agent.files import PREPROCESSING, TaskFailure
from batchite.agent.identity import SANDBOX_ROOT, NodeUsers, SpawnAs
from batchite.agent.layout import NodeIdentity, TaskLaunch
from batchite.agent.stagein import StageError

INVALID_SETTINGS = "At least one value of specified task container settings is invalid"
SETTINGS_NOT_FOUND = (
    "ContainerTaskSettingsNotFound",
    "Container-enabled compute node requires task container settings",
)
POOL_NOT_SUPPORTED = ("ContainerPoolNotSupported", "The Batch pool does not support running tasks in containers")


def container_name(run_id: str) -> str:
    return f"batchite-{run_id}"


def engine_for(setup: ContainerSetup, state_dir: Path) -> ContainerEngine | str:
    """This agent's engine for a pool's settings (its containers.conf in the agent's directory)."""
    return find_engine(setup.engine, state_dir / "containers")


def login_for(image: str, own: RegistryLogin | None, pool: tuple[RegistryLogin, ...]) -> RegistryLogin | None:
    """The credentials to pull an image with: the task's registry, else the pool's for its registry."""
    if own is not None:
        return own
    registry = registry_of(image)
    return next((r for r in pool if same_registry(r.server, registry)), None)


def _failure(code: str, message: str, details: tuple[tuple[str, str], ...]) -> StageError:
    return StageError(TaskFailure(PREPROCESSING, code, message, details))


@dataclass
class ContainerLaunch:
    """A container task's part of a Launch: everything but the process itself."""

    engine: ContainerEngine
    run: ContainerRun
    pool_registries: tuple[RegistryLogin, ...]
    name: str
    agent_id: str
    env_file: Path
    paths: TaskPaths
    working_dir: str  # inside the container
    user: tuple[int, int] | None  # None: the image's user (an agent that cannot change ids)

    def prepare(self, env: dict[str, str], argv: list[str]) -> list[str]:
        """On a staging thread: the image here, the env file written; the engine's command line.
        Raises StageError with the task's failure."""
        image = self.engine.local_name(self.run.image) if valid_reference(self.run.image) else None
        if image is None:
            login = login_for(self.run.image, self.run.registry, self.pool_registries)
            try:
                image = self.engine.pull(self.run.image, login)
            except PullError as exc:
                if exc.denied:
                    raise _failure(
                        "ContainerInvalidRegistry",
                        "The specified container registry was invalid",
                        (("RegistryServer", registry_of(self.run.image)), ("Message", exc.message)),
                    ) from None
                raise _failure(
                    "ContainerInvalidImage",
                    "The container image was invalid",
                    (("ImageName", self.run.image), ("Message", exc.message)),
                ) from None
        inside = {k: v for k, v in env.items() if k != "PATH"}  # the image's own PATH stays
        try:
            write_env_file(self.env_file, inside)
            args = run_arguments(
                self.run,
                image,
                self.name,
                self.agent_id,
                self.user,
                self.env_file,
                self.paths,
                self.working_dir,
                argv,
                self.engine.settings.unsafe_options,
            )
        except ContainerSettingsError as exc:
            self.discard()
            raise _failure(
                "ContainerInvalidSettings", INVALID_SETTINGS, (("Message", exc.message), (exc.name, exc.value))
            ) from None
        return self.engine.command(*args)

    def kill(self) -> None:
        """The container goes (killing the engine's client alone would leave it running)."""
        threading.Thread(target=self.engine.remove, args=([self.name],), daemon=True).start()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.env_file)


def container_launch(
    setup: ContainerSetup | None,
    launch: TaskLaunch,
    node: NodeIdentity,
    spawn: SpawnAs,
    users: NodeUsers | None,
    state_dir: Path,
) -> ContainerLaunch | None:
    """How a task runs in a container on this node (None: directly on the node). Raises
    ValueError(code, message) when it cannot run here at all."""
    run = launch.container
    if run is None:
        if launch.container_required and setup is not None:
            raise ValueError(*SETTINGS_NOT_FOUND)
        return None
    if setup is None:
        raise ValueError(*POOL_NOT_SUPPORTED)
    engine = engine_for(setup, state_dir)
    if isinstance(engine, str):
        raise ValueError("ContainerMiscError", f"No container engine on this node: {engine}")
    admin = users.is_admin(launch.run_as) if users is not None else False
    user = None
    if admin and spawn.uid is not None:
        user = (0, 0)  # an admin task is root in its container, as on Azure
    elif spawn.uid is not None:
        user = (spawn.uid, spawn.gid if spawn.gid is not None else spawn.uid)
    inside = SANDBOX_ROOT if spawn.in_sandbox else str(node.root)
    paths = TaskPaths(node.root, inside, launch.relative_dir, launch.job_prep_relative_dir)
    return ContainerLaunch(
        engine=engine,
        run=run,
        pool_registries=setup.registries,
        name=container_name(launch.run_id),
        agent_id=state_dir.name,
        env_file=state_dir / "containers" / f"env-{launch.run_id}",
        paths=paths,
        working_dir=f"{inside}/{launch.relative_dir}/wd",
        user=user,
    )


@dataclass(frozen=True)
class NodeError:
    code: str
    message: str
    details: tuple[tuple[str, str], ...] = ()


def prefetch(setup: ContainerSetup, state_dir: Path) -> NodeError | None:
    """On a worker thread: the pool's containerImageNames pulled (those the node has are kept);
    the node error of the first that cannot be."""
    engine = engine_for(setup, state_dir)
    if isinstance(engine, str):
        return NodeError("ContainerEngineNotFound", f"No container engine on this node: {engine}")
    for image in setup.images:
        if engine.local_name(image) is not None:
            continue
        try:
            engine.pull(image, login_for(image, None, setup.registries))
        except PullError as exc:
            return NodeError(
                "ContainerImagePullFailed",
                f"The container image {image} could not be pulled",
                (("ImageName", image), ("RegistryServer", registry_of(image)), ("Message", exc.message)),
            )
    return None


def remove_agent_containers(state_dir: Path) -> None:
    """In the background: the containers a gone agent left (found by their label), removed."""
    config = state_dir / "containers"
    if not config.is_dir():
        return

    def remove() -> None:
        engine = find_engine(EngineSettings(), config)
        if isinstance(engine, str):
            return
        with contextlib.suppress(Exception):
            listed = engine.call(["ps", "--all", "--quiet", "--filter", f"label={LABEL}={state_dir.name}"], 20.0)
            engine.remove(listed.stdout.split())

    threading.Thread(target=remove, daemon=True, name="containers-cleanup").start()
