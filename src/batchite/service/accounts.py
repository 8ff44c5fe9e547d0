"""Batch accounts: the well-known development account, or those named in BATCHITE_ACCOUNTS (the
configured ones), and those created through management (stored; service/batch_accounts.py).

The data plane asks `get` on every request, so a regenerated key counts from the next request, and
a deleted account's key from the moment it is deleted."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from batchite.domain.entities.accounts import ProvisioningState
from batchite.domain.quotas import Quotas
from batchite.store.base import AccountRepository

DEV_ACCOUNT_NAME = "devbatchaccount1"
# The well-known development key, published in the README like Azurite's storage key. Not a secret.
DEV_ACCOUNT_KEY = "YmF0Y2hpdGUtZGV2ZWxvcG1lbnQta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmZ2hpams="


@dataclass
class Account:
    name: str
    keys: list[str] = field(default_factory=list)  # base64, primary first

    def key_bytes(self) -> list[bytes]:
        return [base64.b64decode(k) for k in self.keys]


class AccountConfigError(ValueError):
    pass


def parse_accounts(spec: str) -> list[Account]:
    """Parse "name:key;name2:key2" (as AZURITE_ACCOUNTS); a name may repeat for a second key."""
    accounts: dict[str, Account] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, sep, key = part.partition(":")
        if not sep or not name or not key:
            raise AccountConfigError(f"expected name:base64key, got {part!r}")
        try:
            base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AccountConfigError(f"the key of account {name!r} is not base64") from exc
        accounts.setdefault(name, Account(name)).keys.append(key)
    if not accounts:
        raise AccountConfigError("no accounts given")
    return list(accounts.values())


class AccountRegistry:
    def __init__(self, accounts: list[Account]) -> None:
        self._by_name = {a.name: a for a in accounts}
        self._stored: AccountRepository | None = None
        self.quotas = Quotas()  # the configured accounts' (settings)

    def use_store(self, stored: AccountRepository, quotas: Quotas) -> None:
        """Serve the stored accounts too; the configured ones have `quotas`."""
        self._stored = stored
        self.quotas = quotas

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> AccountRegistry:
        spec = (env if env is not None else dict(os.environ)).get("BATCHITE_ACCOUNTS", "").strip()
        if spec:
            return cls(parse_accounts(spec))
        return cls([Account(DEV_ACCOUNT_NAME, [DEV_ACCOUNT_KEY])])

    def get(self, name: str) -> Account | None:
        """A configured account, or a stored one that is not being deleted."""
        found = self._by_name.get(name)
        if found is not None or self._stored is None:
            return found
        record = self._stored.get(name)
        if record is None or record.provisioning_state != ProvisioningState.SUCCEEDED:
            return None
        return Account(name, record.keys)

    def is_configured(self, name: str) -> bool:
        return name in self._by_name

    def quotas_of(self, name: str) -> Quotas:
        """A stored account's own quotas; the settings' for the configured (and unknown) ones."""
        record = self._stored.get(name) if self._stored is not None and name not in self._by_name else None
        return record.quotas.quotas() if record is not None else self.quotas

    def __iter__(self) -> Iterator[Account]:
        """The configured accounts."""
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return list(self._by_name)
