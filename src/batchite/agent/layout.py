"""The directory tree of a node, laid out like an Azure Batch Linux node, and task environments."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from batchite.agent.files import TaskStaging
from batchite.agent.packages import package_environment

NODE_SUBDIRS = ("shared", "startup", "applications", "workitems", "fsmounts", "certs", "volatile")

# What a task inherits from the service's environment; everything else (keys included) stays out.
_INHERITED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "USER", "LOGNAME", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class NodeIdentity:
    account: str
    account_url: str
    pool_id: str
    node_id: str
    root: Path
    is_dedicated: bool = True


@dataclass
class TaskLaunch:
    """What a node is asked to run: one process of a task (or of a start, preparation, release
    or multi-instance coordination task), identified by its run id."""

    run_id: str
    command_line: str
    job_id: str
    task_id: str
    relative_dir: str  # e.g. workitems/job1/job-1/task1
    user_environment: dict[str, str] = field(default_factory=dict)  # the job's and the task's settings
    extra_environment: dict[str, str] = field(default_factory=dict)  # multi-instance variables
    job_prep_relative_dir: str | None = None
    staging: TaskStaging | None = None  # resource files, output files, application packages


def prepare_node(root: Path) -> None:
    for sub in NODE_SUBDIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)


def task_relative_dir(job_id: str, task_id: str) -> str:
    return f"workitems/{job_id}/job-1/{task_id}"


def task_directory(node: NodeIdentity, task: TaskLaunch) -> Path:
    return node.root / task.relative_dir


@functools.lru_cache(maxsize=1024)
def _node_environment(node: NodeIdentity) -> dict[str, str]:
    """What every task on a node sees (computed once per node)."""
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    root = str(node.root)
    env.update(
        {
            "AZ_BATCH_ACCOUNT_NAME": node.account,
            "AZ_BATCH_ACCOUNT_URL": node.account_url,
            "AZ_BATCH_POOL_ID": node.pool_id,
            "AZ_BATCH_NODE_ID": node.node_id,
            "AZ_BATCH_NODE_IS_DEDICATED": "true" if node.is_dedicated else "false",
            "AZ_BATCH_NODE_ROOT_DIR": root,
            "AZ_BATCH_NODE_SHARED_DIR": f"{root}/shared",
            "AZ_BATCH_NODE_STARTUP_DIR": f"{root}/startup",
            "AZ_BATCH_NODE_STARTUP_WORKING_DIR": f"{root}/startup/wd",
            "AZ_BATCH_NODE_MOUNTS_DIR": f"{root}/fsmounts",
            "AZ_BATCH_TASK_USER": "_azbatch",
            "AZ_BATCH_TASK_USER_IDENTITY": "PoolNonAdmin",
        }
    )
    return env


def environment(node: NodeIdentity, task: TaskLaunch) -> dict[str, str]:
    """The environment a task sees: the AZ_BATCH_* variables, then its environmentSettings."""
    task_dir = f"{node.root}/{task.relative_dir}"
    env = dict(_node_environment(node))
    env.update(
        {
            "AZ_BATCH_CERTIFICATES_DIR": f"{task_dir}/certs",
            "AZ_BATCH_JOB_ID": task.job_id,
            "AZ_BATCH_TASK_ID": task.task_id,
            "AZ_BATCH_TASK_DIR": task_dir,
            "AZ_BATCH_TASK_WORKING_DIR": f"{task_dir}/wd",
        }
    )
    if task.job_prep_relative_dir:
        env["AZ_BATCH_JOB_PREP_DIR"] = str(node.root / task.job_prep_relative_dir)
        env["AZ_BATCH_JOB_PREP_WORKING_DIR"] = str(node.root / task.job_prep_relative_dir / "wd")
    if not task.job_id:
        env.pop("AZ_BATCH_JOB_ID", None)
    if task.staging is not None and task.staging.packages:
        env.update(package_environment(node.root, task.staging.packages))
    if "AZ_BATCH_HOST_LIST" in task.extra_environment:  # a multi-instance task's directory is shared
        env["AZ_BATCH_TASK_SHARED_DIR"] = task_dir
    env.update(task.extra_environment)
    env.update(task.user_environment)
    return env
