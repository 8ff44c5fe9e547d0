"""What a node is told about containers: a pool's images to prefetch and the registries to pull
them from (`ContainerSetup`, with AddNode), and how one task runs in a container (`ContainerRun`,
with its TaskLaunch). Plain data, sent over the agent protocol."""

from __future__ import annotations

import msgspec


class RegistryLogin(msgspec.Struct, frozen=True):
    """A registry and its credentials (`server` "" is Docker Hub). `identity`: the user asked for a
    managed identity, which Batchite cannot have (a pull with it is refused)."""

    server: str = ""
    username: str = ""
    password: str = ""
    identity: bool = False


class EngineSettings(msgspec.Struct, frozen=True):
    """How the service was told to run containers (`--container-engine`, ...), for the agent."""

    choice: str = "auto"  # auto, podman, docker
    insecure_registries: tuple[str, ...] = ()  # pulled over plain HTTP (loopback ones always are)
    unsafe_options: bool = False  # any containerRunOptions, even those that break isolation


class ContainerSetup(msgspec.Struct, frozen=True):
    """A container-enabled pool (virtualMachineConfiguration.containerConfiguration) on one node."""

    images: tuple[str, ...] = ()
    registries: tuple[RegistryLogin, ...] = ()
    engine: EngineSettings = EngineSettings()


class BindMount(msgspec.Struct, frozen=True):
    """One of containerHostBatchBindMounts: Shared, Startup, VfsMounts, Task, JobPrep, Applications."""

    source: str
    read_only: bool = False


class ContainerRun(msgspec.Struct, frozen=True):
    """A task's containerSettings, as the node applies them."""

    image: str
    run_options: str = ""
    registry: RegistryLogin | None = None  # the task's own; else the pool's for the image's server
    image_working_directory: bool = False  # workingDirectory containerImageDefault
    mounts: tuple[BindMount, ...] | None = None  # None: the whole node root
