"""What a node is told when one of a job's tasks starts on it: the launch (command line,
directory, environment, staging, identity) and the nodeInfo the task then shows."""

from __future__ import annotations

from batchite.agent.layout import TaskLaunch, task_relative_dir
from batchite.domain.entities import Task
from batchite.domain.urls import Urls
from batchite.scheduler.containers import task_container
from batchite.scheduler.live import LiveJob, LiveNode, LivePool, Run
from batchite.scheduler.run_as import run_as
from batchite.scheduler.staging import Staging
from batchite.wire.models import BatchNodeInfo


def task_launch(job: LiveJob, run: Run, entity: Task, pool: LivePool | None, staging: Staging) -> TaskLaunch:
    task, wire = run.task, entity.wire
    multi = wire.multi_instance_settings
    return TaskLaunch(
        run_id=run.id,
        command_line=wire.command_line,
        job_id=job.id,
        task_id=task.id,
        relative_dir=task_relative_dir(job.id, task.id),
        user_environment=job.environment(wire.environment_settings),
        job_prep_relative_dir=job.prep_dir,
        staging=staging.build(
            task.account,
            pool_refs=pool.package_refs if pool is not None else (),
            task_refs=wire.application_package_references,
            resource_files=wire.resource_files,
            common_resource_files=multi.common_resource_files if multi else None,
            output_files=wire.output_files,
        ),
        run_as=run_as(wire.user_identity),
        container=task_container(wire.container_settings),
        container_required=True,
    )


def node_info(urls: Urls, node: LiveNode, job_id: str, task_id: str) -> BatchNodeInfo:
    """Where a task (or a subtask) runs, as its nodeInfo shows it."""
    rel_dir = task_relative_dir(job_id, task_id)
    node_url = urls.node(node.spec.account, node.spec.pool_id, node.id)
    return BatchNodeInfo(
        affinity_id=f"TVM:{node.id}",
        node_url=node_url,
        pool_id=node.spec.pool_id,
        node_id=node.id,
        task_root_directory=rel_dir,
        task_root_directory_url=f"{node_url}/files/{rel_dir}",
    )
