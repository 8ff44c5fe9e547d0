"""The directory tree of a node, laid out like an Azure Batch Linux node, and task environments.

A task sees only what a task on Azure sees: the AZ_BATCH_* variables, its job's and its own
environment settings, HOME (its working directory) and a PATH of the system's directories, the
node's shared directory and its working directory. Nothing of the service's or the agent's own
environment reaches it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from batchite.agent.container_specs import ContainerRun
from batchite.agent.files import TaskStaging
from batchite.agent.identity import SANDBOX_ROOT, USER_DATABASE, NodeUsers, RunAs
from batchite.agent.packages import package_environment

NODE_SUBDIRS = ("shared", "startup", "applications", "workitems", "fsmounts", "certs", "volatile")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_INHERITED = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")  # the locale, and nothing else
GROUP_DIR = 0o2770  # a task's directories, and those the pool's tasks share: new files keep the group
NODE_DIR = 0o2750  # the agent's directories: the pool's users may look, not write (nor plant links)
_SHARED_SUBDIRS = ("shared", "startup")  # written by every task / by the start task


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
    run_as: RunAs = field(default_factory=RunAs)
    container: ContainerRun | None = None  # its containerSettings
    container_required: bool = False  # a regular or job manager task: a container-enabled node refuses it without


def _own(path: Path, users: NodeUsers | None, uid: int | None = None, mode: int = GROUP_DIR) -> None:
    """A node directory: the pool's group (and `uid`, or root)."""
    if users is None:
        return
    os.chown(path, uid if uid is not None else 0, users.gid, follow_symlinks=False)
    os.chmod(path, mode, follow_symlinks=False)


def prepare_node(root: Path, users: NodeUsers | None = None) -> None:
    """The node's tree. With users, it belongs to the pool's group only (no one else can look in);
    tasks write only in their own directories and the shared ones, so nothing the agent creates
    as root lies where a task could have planted a symlink first."""
    for sub in NODE_SUBDIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    if users is not None:
        _own(root, users, mode=NODE_DIR)
        for sub in NODE_SUBDIRS:
            _own(root / sub, users, mode=GROUP_DIR if sub in _SHARED_SUBDIRS else NODE_DIR)
        _write_user_database(root / USER_DATABASE, users)


def _write_user_database(directory: Path, users: NodeUsers) -> None:
    """passwd and group for sandboxes: the host's entries and the pool's users, so that `id` and
    `whoami` name them as on an Azure node."""
    for name, extra in (("passwd", users.passwd_lines()), ("group", [users.group_line()])):
        try:
            host = Path("/etc", name).read_text().splitlines()
        except OSError:
            host = []
        (directory / name).write_text("\n".join([*host, *extra]) + "\n")
        os.chmod(directory / name, 0o644)


def prepare_task_directory(task_dir: Path, users: NodeUsers | None, uid: int | None) -> None:
    """A task's directory and working directory (and the directories between them and the node
    root), owned by the task's user and the pool's group. Only what is missing is made (a retry
    finds its directory there): two directories for a new task of a job already seen."""
    wd = task_dir / "wd"
    missing: list[Path] = []
    path = wd
    while True:
        try:
            os.mkdir(path)
        except FileNotFoundError:  # its parent is missing too: made first, then this one
            if path == path.parent:
                raise
            missing.append(path)
            path = path.parent
            continue
        except FileExistsError:
            pass
        else:
            _own_new(path, task_dir, users, uid)
        break
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        _own_new(path, task_dir, users, uid)


def _own_new(path: Path, task_dir: Path, users: NodeUsers | None, uid: int | None) -> None:
    mine = path in (task_dir, task_dir / "wd")
    _own(path, users, uid if mine else None, GROUP_DIR if mine else NODE_DIR)


def task_relative_dir(job_id: str, task_id: str) -> str:
    return f"workitems/{job_id}/job-1/{task_id}"


def task_directory(node: NodeIdentity, task: TaskLaunch) -> Path:
    return node.root / task.relative_dir


@functools.lru_cache(maxsize=1024)
def _node_environment(node: NodeIdentity, root: str) -> dict[str, str]:
    """What every task on a node sees (computed once per node and root path)."""
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
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
        }
    )
    return env


def environment(node: NodeIdentity, task: TaskLaunch, in_sandbox: bool = False) -> dict[str, str]:
    """The environment a task sees: the AZ_BATCH_* variables, then its environmentSettings.
    In a sandbox the node's tree is at /mnt/batch/tasks, and the paths say so."""
    root = SANDBOX_ROOT if in_sandbox else str(node.root)
    task_dir = f"{root}/{task.relative_dir}"
    env = dict(_node_environment(node, root))
    env.update(
        {
            "AZ_BATCH_CERTIFICATES_DIR": f"{task_dir}/certs",
            "AZ_BATCH_JOB_ID": task.job_id,
            "AZ_BATCH_TASK_ID": task.task_id,
            "AZ_BATCH_TASK_DIR": task_dir,
            "AZ_BATCH_TASK_WORKING_DIR": f"{task_dir}/wd",
            "AZ_BATCH_TASK_USER": task.run_as.user_name,
            "AZ_BATCH_TASK_USER_IDENTITY": task.run_as.label,
            "HOME": f"{task_dir}/wd",
            "PATH": f"{SYSTEM_PATH}:{root}/shared:{task_dir}/wd",
        }
    )
    if task.job_prep_relative_dir:
        env["AZ_BATCH_JOB_PREP_DIR"] = f"{root}/{task.job_prep_relative_dir}"
        env["AZ_BATCH_JOB_PREP_WORKING_DIR"] = f"{root}/{task.job_prep_relative_dir}/wd"
    if not task.job_id:
        env.pop("AZ_BATCH_JOB_ID", None)
    if task.staging is not None and task.staging.packages:
        env.update(package_environment(Path(root), task.staging.packages))
    if "AZ_BATCH_HOST_LIST" in task.extra_environment:  # a multi-instance task's directory is shared
        env["AZ_BATCH_TASK_SHARED_DIR"] = task_dir
    env.update(task.extra_environment)
    env.update(task.user_environment)
    return env
