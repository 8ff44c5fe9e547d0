"""A pool's containerConfiguration, checked when the pool is created: refused where no
container engine runs container tasks, and for what Batchite cannot do (managed identities)."""

from __future__ import annotations

from batchite.agent.container_engine import valid_reference
from batchite.agent.container_specs import EngineSettings
from batchite.domain.errors import BatchError, invalid_property
from batchite.wire.models import VirtualMachineConfiguration

_PATH = "virtualMachineConfiguration.containerConfiguration"


def unsupported_property(name: str, reason: str) -> BatchError:
    return BatchError(
        400,
        "UnsupportedProperty",
        "One of the properties specified in the request body is not supported.",
        [("PropertyName", name), ("Reason", reason)],
    )


def check_container_configuration(config: VirtualMachineConfiguration, engine: EngineSettings) -> None:
    containers = config.container_configuration
    if containers is None:
        return
    if engine.choice == "none":
        raise unsupported_property(
            _PATH,
            "Container tasks are not available on this Batchite service: no Docker-compatible container engine "
            "(install podman and runc, or start the service without --container-engine none).",
        )
    for i, image in enumerate(containers.container_image_names or []):
        if not valid_reference(image):
            raise invalid_property(f"{_PATH}.containerImageNames[{i}]", image, "The value is not an image reference.")
    for i, registry in enumerate(containers.container_registries or []):
        if registry.identity_reference is not None:
            raise unsupported_property(
                f"{_PATH}.containerRegistries[{i}].identityReference",
                "Managed identities are not available here: give the registry's username and password.",
            )
