"""Account quotas, with Azure's defaults (batch-quota-limit): cores, pools, active jobs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quotas:
    dedicated_cores: int = 900
    low_priority_cores: int = 100
    pools: int = 100
    active_jobs: int = 300  # active jobs and job schedules together
