"""A Batch account created through management: stored with its keys, quotas and tags.

Not an `Entity` of the data plane (it owns them): the store keeps it in its own table, by name."""

from __future__ import annotations

from datetime import datetime

import msgspec

from batchite.domain.quotas import Quotas
from batchite.wire.types import WireEnum

# Where management shows the configured accounts (the development account, BATCHITE_ACCOUNTS): the
# development subscription's resource group `batchite`, which cannot be deleted.
DEV_SUBSCRIPTION_ID = "ba7c1e00-0000-4000-8000-000000000003"
CONFIGURED_RESOURCE_GROUP = "batchite"
CONFIGURED_LOCATION = "westus"


class ProvisioningState(WireEnum):
    SUCCEEDED = "Succeeded"
    DELETING = "Deleting"


class AccountQuotas(msgspec.Struct, kw_only=True, rename="camel"):
    """The four quotas management shows (the ARM names, camelCase on disk)."""

    dedicated_core_quota: int
    low_priority_core_quota: int
    pool_quota: int
    active_job_and_job_schedule_quota: int

    @classmethod
    def of(cls, quotas: Quotas) -> AccountQuotas:
        return cls(
            dedicated_core_quota=quotas.dedicated_cores,
            low_priority_core_quota=quotas.low_priority_cores,
            pool_quota=quotas.pools,
            active_job_and_job_schedule_quota=quotas.active_jobs,
        )

    def quotas(self) -> Quotas:
        return Quotas(
            self.dedicated_core_quota,
            self.low_priority_core_quota,
            self.pool_quota,
            self.active_job_and_job_schedule_quota,
        )


class BatchAccountRecord(msgspec.Struct, kw_only=True, rename="camel"):
    name: str  # 3-24 lowercase letters and digits; unique across every account
    subscription_id: str
    resource_group: str
    location: str
    primary_key: str  # base64 of 64 random bytes
    secondary_key: str
    quotas: AccountQuotas
    creation_time: datetime
    provisioning_state: ProvisioningState = ProvisioningState.SUCCEEDED
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    auto_storage_account_id: str | None = None  # autoStorage.storageAccountId, as the client gave it
    configured: bool = False  # one of the configured accounts (never stored; read-only through management)

    @property
    def keys(self) -> list[str]:
        return [self.primary_key, self.secondary_key]
