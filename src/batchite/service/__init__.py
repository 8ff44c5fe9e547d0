"""The domain: accounts, pools, nodes, jobs, tasks and their rules. Knows nothing of HTTP."""

from batchite.service.accounts import Account, AccountRegistry
from batchite.service.batch import BatchService

__all__ = ["Account", "AccountRegistry", "BatchService"]
