"""The portal's view of the management plane's resource groups (`portal.ports.ResourceGroups`),
over the repository the management plane itself uses (one instance per process: both write the
same `DATA_DIR/mgmt/state.json`)."""

from __future__ import annotations

from batchite.domain.errors import BatchError
from batchite.domain.resource_groups import ResourceGroup
from batchite.mgmt.errors import ArmError
from batchite.mgmt.resource_groups import GroupRepository, check_name
from batchite.mgmt.subscriptions import LOCATIONS, check_subscription, normalize_location


def _batch_error(err: ArmError) -> BatchError:
    return BatchError(err.status, err.code, err.message)


class ManagementGroups:
    def __init__(self, repository: GroupRepository) -> None:
        self.repository = repository

    def names(self, subscription_id: str) -> list[str]:
        return [g.name for g in self.repository.list_groups(subscription_id) if g.provisioning_state != "Deleting"]

    def ensure(self, subscription_id: str, name: str, location: str) -> None:
        try:
            subscription = check_subscription(subscription_id)
            check_name(name)
        except ArmError as err:
            raise _batch_error(err) from None
        found = normalize_location(location)
        if found is None:
            raise BatchError(
                400,
                "LocationNotAvailableForResourceGroup",
                f"The provided location '{location}' is not available for resource group.",
            )
        current = self.repository.get_group(subscription, name)
        if current is not None and current.provisioning_state == "Deleting":
            raise BatchError(
                409,
                "ResourceGroupBeingDeleted",
                f"The resource group '{current.name}' is in deprovisioning state and cannot perform this operation.",
            )
        if current is None:
            self.repository.put_group(ResourceGroup(subscription, name, found))

    def locations(self) -> list[tuple[str, str]]:
        return list(LOCATIONS)
