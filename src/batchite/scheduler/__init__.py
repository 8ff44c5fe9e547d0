"""The scheduler: what runs where and when; the one writer of pools, nodes, jobs and tasks."""

from batchite.scheduler.scheduler import Scheduler, SchedulerSettings

__all__ = ["Scheduler", "SchedulerSettings"]
