"""Account quotas, with Azure's defaults (batch-quota-limit): cores, pools, active jobs; and how
many Batch accounts a subscription may have in one location (management's account create)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quotas:
    dedicated_cores: int = 900
    low_priority_cores: int = 100
    pools: int = 100
    active_jobs: int = 300  # active jobs and job schedules together
    accounts_per_location: int = 3  # per subscription; Azure's default is 1-3 (up to 50 on request)
