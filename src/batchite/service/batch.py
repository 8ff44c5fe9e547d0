"""BatchService: the service layer's front door, built once per process."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from batchite.clock import Clock, SystemClock
from batchite.compute.protocol import Isolation, NodeBackend
from batchite.compute.ray_backend import RayPlacement
from batchite.domain.urls import Urls
from batchite.scheduler import Scheduler, SchedulerSettings
from batchite.service.accounts import AccountRegistry
from batchite.service.applications import ApplicationService
from batchite.service.autoscale import AutoScaleService
from batchite.service.batch_accounts import BatchAccountService
from batchite.service.context import ServiceContext
from batchite.service.files import FileService
from batchite.service.jobs import JobService
from batchite.service.jobschedules import JobScheduleService
from batchite.service.nodes import NodeService
from batchite.service.observability import Observability
from batchite.service.packages import PackageService
from batchite.service.pools import PoolService
from batchite.service.prices import InMemoryPrices, PriceRepository, PriceService, PriceTable
from batchite.service.statistics import StatisticsService
from batchite.service.task_table import TaskTable
from batchite.service.tasks import TaskService
from batchite.service.usage_report import UsageReports
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Store
from batchite.store.prices import PriceFile
from batchite.store.sqlite import SqliteStore


class BatchService:
    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        accounts: AccountRegistry,
        public_url: str,
        clock: Clock | None = None,
        storage: LinkedStorage | None = None,
        settings: SchedulerSettings | None = None,
        prices: PriceRepository | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.accounts = accounts
        self.store = store
        public = public_url.rstrip("/")
        urls = Urls(lambda _account: public)
        self.scheduler = Scheduler(store, backend, self.clock, urls, storage, settings)
        self.ctx = ServiceContext(store, self.scheduler, self.clock, accounts, urls, storage)
        self.pools = PoolService(self.ctx)
        self.jobs = JobService(self.ctx, self.pools)
        self.job_schedules = JobScheduleService(self.ctx, self.jobs)
        self.tasks = TaskService(self.ctx)
        self.nodes = NodeService(self.ctx)
        self.files = FileService(self.ctx)
        self.applications = ApplicationService(self.ctx)
        self.packages = PackageService(self.ctx)
        self.autoscale = AutoScaleService(self.ctx, self.pools)
        self.statistics = StatisticsService(self.ctx)
        self.batch_accounts = BatchAccountService(self.ctx)  # management's accounts; per-account quotas
        self.prices = PriceService(prices or InMemoryPrices())  # the portal's price tables
        self.usage_reports = UsageReports(self.ctx, self.prices)
        self.observability = Observability(self.ctx)  # the health probe's checks, the metrics' gauges
        self.task_table = TaskTable(self.ctx)  # the portal's sorted, filtered task pages and charts

    @classmethod
    def local(
        cls,
        data_dir: Path,
        accounts: AccountRegistry,
        public_url: str,
        clock: Clock | None = None,
        storage: LinkedStorage | None = None,
        settings: SchedulerSettings | None = None,
        isolation: Isolation = Isolation.NONE,
        ray: RayPlacement | None = None,
    ) -> BatchService:
        """SQLite in DATA_DIR and nodes hosted by local agents (trees under DATA_DIR/nodes). With
        isolation, what the service writes is its own (umask 077) and tasks can only pass through
        DATA_DIR to their own nodes. With `ray`, pools may have their nodes on a Ray cluster
        (by default when ray.default; per pool by its `batchite.backend` metadata)."""
        from batchite.compute.backends import BackendSet
        from batchite.compute.local import LocalBackend

        if isolation != Isolation.NONE:
            os.umask(0o077)
        data_dir.mkdir(parents=True, exist_ok=True)
        clock = clock or SystemClock()
        store = SqliteStore(data_dir / "batchite.db", clock)
        if isolation != Isolation.NONE:
            for name in ("batchite.db", "batchite.db-wal", "batchite.db-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(data_dir / name, 0o600)
        local = LocalBackend(data_dir, isolation)
        backend = BackendSet(local)
        if ray is not None:
            from batchite.compute.ray_backend import RayBackend

            on_ray = RayBackend(data_dir, ray.address, ray.node_dir, isolation)
            on_ray.connect_ray()  # blocking, once, before the service serves
            backend = BackendSet(on_ray, local) if ray.default else BackendSet(local, on_ray)
        prices = PriceFile.in_data_dir(data_dir, PriceTable)
        return cls(store, backend, accounts, public_url, clock, storage, settings, prices)

    def scheduler_backends(self) -> list[str]:
        """The compute backends pools may choose, the default first."""
        backend = self.scheduler.backend
        return list(getattr(backend, "names", [backend.name]))

    def start(self) -> None:
        """Recover from the store; call on the running event loop."""
        self.scheduler.recover()
        self.job_schedules.recover()
        self.batch_accounts.recover()  # deletes a stop cut short

    async def committed(self) -> None:
        """Wait until every change made so far is on disk."""
        await self.store.committed()

    async def stop(self, stop_agents: bool = False) -> None:
        """Stop serving: everything stored; the nodes' agents go on (and their tasks), unless
        `stop_agents`."""
        await self.scheduler.shutdown(stop_agents)
        await self.store.committed()
        self.store.close()
