"""Paths a task names (resource file paths, blob names, zip entries) must stay inside their base."""

from __future__ import annotations

import os
from pathlib import Path


def inside(base: Path, relative: str) -> Path | None:
    """base/relative when it stays inside base (lexically and through symlinks), else None.

    An absolute path, or one whose `..` parts climb out of base, is refused.
    """
    rel = relative
    if os.path.isabs(rel):
        return None
    root = os.path.abspath(base)
    target = os.path.abspath(os.path.join(root, rel)) if rel else root
    if target != root and not target.startswith(root + os.sep):
        return None
    real_root = os.path.realpath(root)
    real_target = os.path.realpath(target)
    if real_target != real_root and not real_target.startswith(real_root + os.sep):
        return None
    return Path(target)
