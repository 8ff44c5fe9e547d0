"""The URLs the service writes into bodies (nodeInfo, recentTasks, recentJob, prep statuses)."""

from __future__ import annotations

from collections.abc import Callable


class Urls:
    def __init__(self, account_url: Callable[[str], str]) -> None:
        self.account = account_url  # an account's endpoint, e.g. http://127.0.0.1:8091

    def pool(self, account: str, pool_id: str) -> str:
        return f"{self.account(account)}/pools/{pool_id}"

    def node(self, account: str, pool_id: str, node_id: str) -> str:
        return f"{self.pool(account, pool_id)}/nodes/{node_id}"

    def job(self, account: str, job_id: str) -> str:
        return f"{self.account(account)}/jobs/{job_id}"

    def task(self, account: str, job_id: str, task_id: str) -> str:
        return f"{self.job(account, job_id)}/tasks/{task_id}"
