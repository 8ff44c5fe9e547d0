"""Resource groups and provider registrations of the management plane (what ARM keeps per subscription)."""

from __future__ import annotations

import msgspec


class ResourceGroup(msgspec.Struct, omit_defaults=True):
    subscription_id: str
    name: str  # as first created; names are unique case-insensitively
    location: str
    tags: dict[str, str] = {}
    managed_by: str | None = None
    provisioning_state: str = "Succeeded"  # or Deleting

    @property
    def key(self) -> str:
        return group_key(self.subscription_id, self.name)


def group_key(subscription_id: str, name: str) -> str:
    return f"{subscription_id}/{name}".lower()


class ManagementState(msgspec.Struct, omit_defaults=True):
    """Everything the management plane persists besides Batch accounts."""

    resource_groups: dict[str, ResourceGroup] = {}
    providers: dict[str, str] = {}  # "subscription/namespace" (lower case) -> registrationState
