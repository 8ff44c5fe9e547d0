"""A pool's containerConfiguration and a task's containerSettings, as a node is told them."""

from __future__ import annotations

from batchite.agent.container_specs import BindMount, ContainerRun, ContainerSetup, EngineSettings, RegistryLogin
from batchite.wire.enums import ContainerWorkingDirectory
from batchite.wire.models import BatchTaskContainerSettings, ContainerRegistryReference, VirtualMachineConfiguration


def registry_login(ref: ContainerRegistryReference) -> RegistryLogin:
    return RegistryLogin(
        server=ref.registry_server or "",
        username=ref.username or "",
        password=ref.password or "",
        identity=ref.identity_reference is not None,
    )


def pool_containers(vm: VirtualMachineConfiguration | None, engine: EngineSettings) -> ContainerSetup | None:
    """What a container-enabled pool's nodes pull and with which credentials; None for other pools."""
    config = vm.container_configuration if vm is not None else None
    if config is None:
        return None
    return ContainerSetup(
        images=tuple(config.container_image_names or ()),
        registries=tuple(registry_login(r) for r in config.container_registries or ()),
        engine=engine,
    )


def task_container(settings: BatchTaskContainerSettings | None) -> ContainerRun | None:
    if settings is None:
        return None
    mounts = None
    if settings.container_host_batch_bind_mounts is not None:
        mounts = tuple(
            BindMount(str(m.source or "Task"), bool(m.is_read_only)) for m in settings.container_host_batch_bind_mounts
        )
    return ContainerRun(
        image=settings.image_name,
        run_options=settings.container_run_options or "",
        registry=registry_login(settings.registry) if settings.registry is not None else None,
        image_working_directory=settings.working_directory == ContainerWorkingDirectory.CONTAINER_IMAGE_DEFAULT,
        mounts=mounts,
    )
