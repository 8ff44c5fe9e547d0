"""What a user can do to a compute node, besides removing it from its pool."""

from __future__ import annotations

from enum import StrEnum


class NodeAction(StrEnum):
    REBOOT = "reboot"
    REIMAGE = "reimage"
    DEALLOCATE = "deallocate"
