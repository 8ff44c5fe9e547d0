"""A job's preparation task (before its first task on each node) and release task (on every node
that ran the preparation task, when the job ends), with their status list."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from batchite.agent.layout import TaskLaunch
from batchite.domain.entities import PreparationStatus
from batchite.domain.urls import Urls
from batchite.scheduler.containers import task_container
from batchite.scheduler.live import LiveJob, LiveNode, PrepState, Projection
from batchite.scheduler.run_as import run_as
from batchite.scheduler.side_tasks import SideRun, SideRunInfo, SideTasks
from batchite.scheduler.staging import Staging
from batchite.store.base import Store
from batchite.wire.enums import BatchJobPreparationTaskState, BatchJobReleaseTaskState
from batchite.wire.models import (
    BatchApplicationPackageReference,
    BatchJobPreparationAndReleaseTaskStatus,
    BatchJobPreparationTaskExecutionInfo,
    BatchJobReleaseTaskExecutionInfo,
)


class JobPreparation:
    def __init__(
        self, store: Store, side_tasks: SideTasks, staging: Staging, projection: Projection, urls: Urls
    ) -> None:
        self.store = store
        self.side_tasks = side_tasks
        self.staging = staging
        self.projection = projection
        self.urls = urls

    def recover(self, job: LiveJob) -> None:
        """At start: the nodes where the preparation task already completed."""
        if job.prep_dir is None:
            return
        for status in self.store.prep_statuses.list(job.account, job.key):
            info = status.wire.job_preparation_task_execution_info
            if info is not None and info.state == BatchJobPreparationTaskState.COMPLETED:
                job.prep[status.id] = PrepState.SUCCEEDED if info.result == "success" else PrepState.FAILED

    # -- status list ----------------------------------------------------------------------
    def _status(self, job: LiveJob, node: LiveNode) -> PreparationStatus:
        status = self.store.prep_statuses.get(job.account, job.key, node.id)
        if status is None:
            url = self.urls.node(node.spec.account, node.spec.pool_id, node.id)
            wire = BatchJobPreparationAndReleaseTaskStatus(pool_id=node.spec.pool_id, node_id=node.id, node_url=url)
            status = self.store.prep_statuses.insert(PreparationStatus(job.account, job.key, wire))
        return status

    def _write_prep(self, job: LiveJob, node: LiveNode, rel_dir: str, info: SideRunInfo) -> None:
        status = self._status(job, node)
        status.wire.job_preparation_task_execution_info = BatchJobPreparationTaskExecutionInfo(
            start_time=info.start_time or self.side_tasks.clock.now(),
            end_time=info.end_time,
            state=BatchJobPreparationTaskState.RUNNING if info.running else BatchJobPreparationTaskState.COMPLETED,
            task_root_directory=rel_dir,
            task_root_directory_url=self._dir_url(node, rel_dir),
            exit_code=info.exit_code,
            failure_info=info.failure_info,
            retry_count=info.retry_count,
            last_retry_time=info.last_retry_time,
            result=info.result,
            container_info=info.container_info,
        )
        self.store.prep_statuses.update(status)

    def _write_release(self, job: LiveJob, node: LiveNode, rel_dir: str, info: SideRunInfo) -> None:
        status = self._status(job, node)
        status.wire.job_release_task_execution_info = BatchJobReleaseTaskExecutionInfo(
            start_time=info.start_time or self.side_tasks.clock.now(),
            end_time=info.end_time,
            state=BatchJobReleaseTaskState.RUNNING if info.running else BatchJobReleaseTaskState.COMPLETED,
            task_root_directory=rel_dir,
            task_root_directory_url=self._dir_url(node, rel_dir),
            exit_code=info.exit_code,
            failure_info=info.failure_info,
            result=info.result,
            container_info=info.container_info,
        )
        self.store.prep_statuses.update(status)

    def _pool_refs(self, node: LiveNode) -> list[BatchApplicationPackageReference]:
        pool = self.projection.pool_of(node)
        return pool.package_refs if pool is not None else []

    def _dir_url(self, node: LiveNode, rel_dir: str) -> str:
        return f"{self.urls.node(node.spec.account, node.spec.pool_id, node.id)}/files/{rel_dir}"

    # -- preparation ------------------------------------------------------------------------
    def ensure_prepared(self, job: LiveJob, node: LiveNode, proceed: Callable[[bool], None]) -> bool:
        """True when the job's tasks may run on the node now; otherwise `proceed(ok)` is called later."""
        prep = job.entity.wire.job_preparation_task
        if prep is None or job.prep_dir is None:
            return True
        state = job.prep.get(node.id)
        if state == PrepState.SUCCEEDED:
            return True
        if state == PrepState.FAILED:
            proceed(False)
            return False
        job.prep_waiters.setdefault(node.id, []).append(proceed)
        if state == PrepState.RUNNING:
            return False
        wait = prep.wait_for_success is not False
        job.prep[node.id] = PrepState.RUNNING
        launch = TaskLaunch(
            run_id="",
            command_line=prep.command_line,
            job_id=job.id,
            task_id=prep.id or "jobpreparation",
            relative_dir=job.prep_dir,
            user_environment=job.environment(prep.environment_settings),
            staging=self.staging.build(
                job.account, pool_refs=self._pool_refs(node), resource_files=prep.resource_files
            ),
            run_as=run_as(prep.user_identity),
            container=task_container(prep.container_settings),
        )
        constraints = prep.constraints
        self.side_tasks.run(
            SideRun(
                node,
                launch,
                max_retries=(constraints.max_task_retry_count or 0) if constraints else 0,
                wall_clock=constraints.max_wall_clock_time if constraints else None,
                on_update=partial(self._write_prep, job, node, job.prep_dir),
                on_done=partial(self._prep_done, job, node, wait),
            )
        )
        if not wait:
            job.prep_waiters.pop(node.id, None)
            return True
        return False

    def _prep_done(self, job: LiveJob, node: LiveNode, wait: bool, ok: bool) -> None:
        job.prep[node.id] = PrepState.SUCCEEDED if ok or not wait else PrepState.FAILED
        for proceed in job.prep_waiters.pop(node.id, []):
            proceed(ok or not wait)

    def forget_node(self, job: LiveJob, node_id: str, reimaged: bool) -> None:
        """A node rebooted or was reimaged: the preparation task runs again there (after a reboot,
        unless the job says rerunOnNodeRebootAfterSuccess false)."""
        prep = job.entity.wire.job_preparation_task
        if node_id in job.prep and (reimaged or prep is None or prep.rerun_on_node_reboot_after_success is not False):
            job.prep.pop(node_id, None)

    # -- release ----------------------------------------------------------------------------
    def release(self, job: LiveJob, then: Callable[[], None]) -> None:
        """Run the job release task on every node that ran the preparation task, then `then()`.
        The status list says where it ran: `job.prep` forgets a node that rebooted (its
        preparation task runs again before its next task), the release task still runs there."""
        release = job.entity.wire.job_release_task
        ran = set(job.prep)
        if release is not None:
            ran.update(s.id for s in self.store.prep_statuses.list(job.account, job.key))
        nodes = [n for n in self.projection.nodes_of(job.account) if n.id in ran]
        if release is None or not nodes or job.prep_dir is None:
            then()
            return
        rel_dir = job.prep_dir.rsplit("/", 1)[0] + "/jobrelease"
        pending = {n.id for n in nodes}

        def done(node_id: str, _ok: bool) -> None:
            pending.discard(node_id)
            if not pending:
                then()

        for node in nodes:
            launch = TaskLaunch(
                run_id="",
                command_line=release.command_line,
                job_id=job.id,
                task_id=release.id or "jobrelease",
                relative_dir=rel_dir,
                user_environment=job.environment(release.environment_settings),
                job_prep_relative_dir=job.prep_dir,
                staging=self.staging.build(
                    job.account, pool_refs=self._pool_refs(node), resource_files=release.resource_files
                ),
                run_as=run_as(release.user_identity),
                container=task_container(release.container_settings),
            )
            self.side_tasks.run(
                SideRun(
                    node,
                    launch,
                    max_retries=0,
                    wall_clock=release.max_wall_clock_time,
                    on_update=partial(self._write_release, job, node, rel_dir),
                    on_done=partial(done, node.id),
                )
            )
