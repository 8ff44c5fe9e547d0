"""What the portal needs from the parts of the server it may not import (the management plane),
as small protocols the CLI implements when it puts the server together."""

from __future__ import annotations

from typing import Protocol


class ResourceGroups(Protocol):
    """The management plane's resource groups, for creating a Batch account in one.

    Calls run on the event loop, as the management plane's own do (its groups are in memory, `ensure`
    rewrites a small file), so the two never write the store at once. `ensure` raises a
    `batchite.domain.errors.BatchError` carrying the management plane's
    error (InvalidResourceGroup, ResourceGroupBeingDeleted...)."""

    def names(self, subscription_id: str) -> list[str]:
        """The subscription's resource groups, by name."""
        ...

    def ensure(self, subscription_id: str, name: str, location: str) -> None:
        """The group `name`, made in `location` when it does not exist yet (one that exists keeps its own)."""
        ...

    def locations(self) -> list[tuple[str, str]]:
        """Where accounts may be placed, as the management plane offers them: (name, display name)."""
        ...
