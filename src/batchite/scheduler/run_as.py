"""Which user a task asks to run as: its userIdentity, as the agent understands it."""

from __future__ import annotations

from batchite.compute.protocol import RunAs, UserKind
from batchite.wire.enums import AutoUserScope, ElevationLevel
from batchite.wire.models import UserIdentity


def run_as(identity: UserIdentity | None) -> RunAs:
    """A named pool user, or an auto user; without one, the pool's non-admin auto user (as on a
    Linux node, where AZ_BATCH_TASK_USER_IDENTITY is then PoolNonAdmin)."""
    if identity is None:
        return RunAs()
    if identity.username:
        return RunAs(UserKind.NAMED, name=identity.username)
    auto = identity.auto_user
    if auto is None:
        return RunAs()
    kind = UserKind.TASK if auto.scope == AutoUserScope.TASK else UserKind.POOL
    return RunAs(kind, admin=auto.elevation_level == ElevationLevel.ADMIN)
