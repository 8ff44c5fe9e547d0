"""Matches ready tasks to free node slots and drives every state transition that time or processes cause."""

from batchite.scheduler.core import Scheduler

__all__ = ["Scheduler"]
