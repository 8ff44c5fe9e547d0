"""Batch accounts through management: create, get, list, update, keys, delete.

What the management layer (ARM `batchAccounts`) calls. The configured accounts (BATCHITE_ACCOUNTS
or the development account) are always there, in the development subscription's resource group
`batchite` (CONFIGURED_RESOURCE_GROUP): they can be read, listed and hold applications and pools,
but not changed, re-keyed or deleted (409 ScopeLocked: change the configuration instead). A created
account serves the data plane at once (the SharedKey check asks the registry per request), with its
own quotas. Deleting one is durable before anything stops: the account is stored `Deleting` (the
data plane refuses it from then on), then everything of it stops (scheduler/account_removal.py) and
its rows are removed; a delete cut short by a crash is finished at the next start (`recover`).
"""

from __future__ import annotations

import base64
import builtins
import re
import secrets
from dataclasses import asdict, dataclass

import msgspec

from batchite.domain.entities.accounts import (
    CONFIGURED_LOCATION,
    CONFIGURED_RESOURCE_GROUP,
    DEV_SUBSCRIPTION_ID,
    AccountQuotas,
    BatchAccountRecord,
    ProvisioningState,
)
from batchite.service.context import ServiceContext

ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
KEY_BYTES = 64


class BatchAccountError(Exception):
    """Refused: the HTTP status, a code and a message for the management layer's error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NameAvailability:
    available: bool
    reason: str | None = None  # "AlreadyExists" or "Invalid"
    message: str | None = None


@dataclass(frozen=True)
class QuotaChange:
    """Quotas to set (None: unchanged)."""

    dedicated_core_quota: int | None = None
    low_priority_core_quota: int | None = None
    pool_quota: int | None = None
    active_job_and_job_schedule_quota: int | None = None


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def not_found(name: str) -> BatchAccountError:
    return BatchAccountError(404, "ResourceNotFound", f"The Batch account '{name}' was not found.")


def locked(name: str) -> BatchAccountError:
    return BatchAccountError(
        409,
        "ScopeLocked",
        f"The Batch account '{name}' is configured by Batchite's settings (BATCHITE_ACCOUNTS or the development "
        "account): it cannot be changed, re-keyed or deleted through management; change the configuration instead.",
    )


class BatchAccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.repo = ctx.store.accounts
        ctx.accounts.use_store(self.repo, ctx.scheduler.quotas)
        ctx.scheduler.use_quotas(ctx.accounts.quotas_of)
        self.started = ctx.clock.now()

    def recover(self) -> None:
        """Finish the deletes a stop cut short (accounts stored `Deleting`); after the scheduler's recovery."""
        for record in self.repo.list():
            if record.provisioning_state == ProvisioningState.DELETING:
                self._remove(record.name)

    # -- the configured accounts ------------------------------------------------------------
    def configured(self, name: str) -> BatchAccountRecord | None:
        """A configured account as management shows it: its configured keys and the settings' quotas."""
        account = next((a for a in self.ctx.accounts if a.name == name), None)
        if account is None:
            return None
        return BatchAccountRecord(
            name=account.name,
            subscription_id=DEV_SUBSCRIPTION_ID,
            resource_group=CONFIGURED_RESOURCE_GROUP,
            location=CONFIGURED_LOCATION,
            primary_key=account.keys[0],
            secondary_key=account.keys[1] if len(account.keys) > 1 else account.keys[0],
            quotas=AccountQuotas.of(self.ctx.scheduler.quotas),
            creation_time=self.started,
            configured=True,
        )

    def _configured_in(self, subscription_id: str, resource_group: str | None) -> builtins.list[BatchAccountRecord]:
        if subscription_id.lower() != DEV_SUBSCRIPTION_ID:
            return []
        if resource_group is not None and resource_group.lower() != CONFIGURED_RESOURCE_GROUP:
            return []
        return [r for name in self.ctx.accounts.names() if (r := self.configured(name)) is not None]

    # -- names ----------------------------------------------------------------------------
    def check_name_availability(self, name: str) -> NameAvailability:
        if not ACCOUNT_NAME.match(name):
            return NameAvailability(
                False, "Invalid", "Batch account names must be 3 to 24 characters long, lowercase letters and digits."
            )
        if self.ctx.accounts.is_configured(name) or self.repo.get(name) is not None:
            return NameAvailability(False, "AlreadyExists", f"The Batch account name '{name}' is already in use.")
        return NameAvailability(True)

    # -- create, read, update ---------------------------------------------------------------
    def create(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str,
        tags: dict[str, str] | None = None,
        auto_storage_account_id: str | None = None,
    ) -> BatchAccountRecord:
        """A new account with random keys and the default quotas (settings). Creating again the
        account a resource group already has updates its tags (ARM's PUT is idempotent)."""
        existing = self.repo.get(name) or self.configured(name)
        if existing is not None and existing.provisioning_state == ProvisioningState.DELETING:
            raise BatchAccountError(
                409, "AccountBeingDeleted", f"The Batch account '{name}' is being deleted; create it again afterwards."
            )
        if existing is not None and existing.configured and self._owned(existing, subscription_id, resource_group):
            return existing
        if existing is not None and self._owned(existing, subscription_id, resource_group):
            if existing.location.lower() != location.lower():
                raise BatchAccountError(
                    409, "LocationCannotBeChanged", f"The Batch account '{name}' is in '{existing.location}'."
                )
            return self.update(
                subscription_id, resource_group, name, tags=tags, auto_storage_account_id=auto_storage_account_id
            )
        availability = self.check_name_availability(name)
        if not availability.available:
            status, code = (
                (400, "AccountNameInvalid") if availability.reason == "Invalid" else (409, "AccountAlreadyExists")
            )
            raise BatchAccountError(status, code, availability.message or "")
        defaults = self.ctx.scheduler.quotas
        in_location = sum(
            1
            for a in self.repo.list()
            if a.subscription_id.lower() == subscription_id.lower() and a.location.lower() == location.lower()
        )
        if in_location >= defaults.accounts_per_location:
            raise BatchAccountError(
                409,
                "SubscriptionQuotaExceeded",
                f"The subscription has reached its quota of {defaults.accounts_per_location} Batch accounts "
                f"in location '{location}'.",
            )
        record = BatchAccountRecord(
            name=name,
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=location,
            primary_key=new_key(),
            secondary_key=new_key(),
            quotas=AccountQuotas.of(defaults),
            creation_time=self.ctx.clock.now(),
            tags=dict(tags or {}),
            auto_storage_account_id=auto_storage_account_id or None,
        )
        self.repo.put(record)
        return record

    def get(self, subscription_id: str, resource_group: str, name: str) -> BatchAccountRecord:
        """The account (a configured one too), unless it is being deleted."""
        found = self.repo.get(name) or self.configured(name)
        if (
            found is None
            or found.provisioning_state == ProvisioningState.DELETING
            or not self._owned(found, subscription_id, resource_group)
        ):
            raise not_found(name)
        return found

    def get_writable(self, subscription_id: str, resource_group: str, name: str) -> BatchAccountRecord:
        """The account, which must not be a configured one (409 ScopeLocked)."""
        record = self.get(subscription_id, resource_group, name)
        if record.configured:
            raise locked(name)
        return record

    def list(self, subscription_id: str, resource_group: str | None = None) -> builtins.list[BatchAccountRecord]:
        """The subscription's accounts (of one resource group, if given): the configured ones first,
        then the stored ones by name; not those being deleted."""
        stored = [
            a
            for a in self.repo.list(resource_group)
            if a.subscription_id.lower() == subscription_id.lower()
            and a.provisioning_state != ProvisioningState.DELETING
        ]
        return self._configured_in(subscription_id, resource_group) + stored

    def update(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        *,
        tags: dict[str, str] | None = None,
        quotas: QuotaChange | None = None,
        auto_storage_account_id: str | None = None,
    ) -> BatchAccountRecord:
        """Replace the tags and the auto-storage account (if given) and set the quotas given; the
        data plane sees them at once."""
        record = self.get_writable(subscription_id, resource_group, name)
        if tags is not None:
            record.tags = dict(tags)
        if auto_storage_account_id is not None:
            record.auto_storage_account_id = auto_storage_account_id or None
        if quotas is not None:
            changes = {k: v for k, v in asdict(quotas).items() if v is not None}
            for key, value in changes.items():
                if value < 0:
                    raise BatchAccountError(400, "InvalidQuota", f"The quota '{key}' must not be negative.")
            record.quotas = msgspec.structs.replace(record.quotas, **changes)
        self.repo.put(record)
        return record

    def set_quotas(self, name: str, quotas: QuotaChange) -> BatchAccountRecord:
        """Set the quotas of a stored account, found by name (Batchite's admin hook; the configured
        accounts' quotas are the settings')."""
        record = self.repo.get(name) or self.configured(name)
        if record is None or record.provisioning_state == ProvisioningState.DELETING:
            raise not_found(name)
        return self.update(record.subscription_id, record.resource_group, name, quotas=quotas)

    # -- keys -----------------------------------------------------------------------------
    def regenerate_key(self, subscription_id: str, resource_group: str, name: str, key_name: str) -> BatchAccountRecord:
        """A new primary or secondary key (`key_name`, case-insensitive); the old one fails at once."""
        record = self.get_writable(subscription_id, resource_group, name)
        which = key_name.lower()
        if which == "primary":
            record.primary_key = new_key()
        elif which == "secondary":
            record.secondary_key = new_key()
        else:
            raise BatchAccountError(400, "InvalidKeyName", f"The key name '{key_name}' is not Primary or Secondary.")
        self.repo.put(record)
        return record

    # -- delete ---------------------------------------------------------------------------
    async def delete(self, subscription_id: str, resource_group: str, name: str) -> None:
        """Delete the account and everything of it: its pools' nodes (and node agent processes),
        jobs, job schedules, tasks, applications; nothing of it remains in the store. `Deleting` is
        on disk before anything stops, so a crash midway is finished at the next start."""
        record = self.get_writable(subscription_id, resource_group, name)
        record.provisioning_state = ProvisioningState.DELETING
        self.repo.put(record)
        await self.ctx.store.committed()
        self._remove(name)

    def _remove(self, name: str) -> None:
        self.ctx.scheduler.remove_account(name)
        self.repo.delete(name)

    def group_is_locked(self, subscription_id: str, resource_group: str) -> bool:
        """Whether the group holds configured accounts (and cannot be deleted)."""
        return bool(self._configured_in(subscription_id, resource_group))

    async def delete_resource_group(self, subscription_id: str, resource_group: str) -> builtins.list[str]:
        """Delete every account of a resource group (none may be configured); the names deleted."""
        names = [a.name for a in self.list(subscription_id, resource_group) if not a.configured]
        for name in names:
            await self.delete(subscription_id, resource_group, name)
        return names

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _owned(record: BatchAccountRecord, subscription_id: str, resource_group: str) -> bool:
        return (
            record.subscription_id.lower() == subscription_id.lower()
            and record.resource_group.lower() == resource_group.lower()
        )
