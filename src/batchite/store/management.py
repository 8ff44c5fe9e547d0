"""The management plane's resource groups and provider registrations, in one small JSON file.

`DATA_DIR/mgmt/state.json`, rewritten whole and atomically (a temporary file, fsync, os.replace)
on every change; it holds a few records, so a rewrite costs less than a schema would. Calls are
blocking: the layer above runs them in a thread.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import msgspec

from batchite.domain.resource_groups import ManagementState, ResourceGroup, group_key

STATE_FILE = "state.json"


class ManagementStore:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / STATE_FILE
        self._lock = threading.Lock()
        if self._path.is_file():
            self._state = msgspec.json.decode(self._path.read_bytes(), type=ManagementState)
        else:
            self._state = ManagementState()

    @property
    def path(self) -> Path:
        return self._path

    def _write(self) -> None:
        data = msgspec.json.format(msgspec.json.encode(self._state))
        tmp = self._path.with_name(self._path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    def get_group(self, subscription_id: str, name: str) -> ResourceGroup | None:
        with self._lock:
            return self._state.resource_groups.get(group_key(subscription_id, name))

    def list_groups(self, subscription_id: str) -> list[ResourceGroup]:
        with self._lock:
            groups = [g for g in self._state.resource_groups.values() if g.subscription_id == subscription_id]
        return sorted(groups, key=lambda g: g.name.lower())

    def put_group(self, group: ResourceGroup) -> None:
        with self._lock:
            self._state.resource_groups[group.key] = group
            self._write()

    def delete_group(self, subscription_id: str, name: str) -> bool:
        with self._lock:
            if self._state.resource_groups.pop(group_key(subscription_id, name), None) is None:
                return False
            self._write()
            return True

    def provider_state(self, subscription_id: str, namespace: str) -> str | None:
        with self._lock:
            return self._state.providers.get(f"{subscription_id}/{namespace}".lower())

    def set_provider_state(self, subscription_id: str, namespace: str, state: str) -> None:
        with self._lock:
            self._state.providers[f"{subscription_id}/{namespace}".lower()] = state
            self._write()
