"""Who a task runs as, and how far it is kept from everything else.

Isolation levels (`batchite serve --isolation`):

- `users` (the default when the agent runs as root): every pool has its own unprivileged uids and
  a group of its own. A task runs as its user (the pool's auto user, the task-scope auto user, or
  a named pool user); node directories belong to the pool's group, mode 2770, so no other pool's
  or account's task can read them. An `admin` task runs as root inside a sandbox (a user and
  mount namespace: bubblewrap) that maps its unprivileged user to root and shows the node's tree
  and a read-only system, never the data directory or other nodes.
- `sandbox`: every task in such a sandbox (and a pid namespace), as its user; the node's tree is
  at /mnt/batch/tasks, as on an Azure Linux node.
- `none` (the only level when the agent is not root, unless `sandbox`): tasks run as the agent's
  own user.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from enum import StrEnum

UID_BASE = 200_000  # the first uid Batchite gives a pool's users
UIDS_PER_POOL = 64  # pool-scope auto user, task-scope auto user, then the named users
SANDBOX_ROOT = "/mnt/batch/tasks"  # where a sandbox shows the node's tree
POOL_GROUP = "_azbatchgrp"  # the name of a pool's group inside a sandbox
USER_DATABASE = "volatile"  # the node subdirectory holding the sandbox's passwd and group files


class Isolation(StrEnum):
    NONE = "none"
    USERS = "users"
    SANDBOX = "sandbox"


def default_isolation() -> Isolation:
    return Isolation.USERS if os.geteuid() == 0 else Isolation.NONE


class UserKind(StrEnum):
    POOL = "pool"  # autoUser scope pool (the default on Linux nodes)
    TASK = "task"  # autoUser scope task
    NAMED = "named"  # one of the pool's userAccounts


@dataclass(frozen=True)
class RunAs:
    """The identity a task asks for (its userIdentity)."""

    kind: UserKind = UserKind.POOL
    admin: bool = False
    name: str = ""  # a named user

    @property
    def label(self) -> str:
        """AZ_BATCH_TASK_USER_IDENTITY: PoolNonAdmin, PoolAdmin, TaskNonAdmin, TaskAdmin, or the user's name."""
        if self.kind == UserKind.NAMED:
            return self.name
        return f"{'Pool' if self.kind == UserKind.POOL else 'Task'}{'Admin' if self.admin else 'NonAdmin'}"

    @property
    def user_name(self) -> str:
        """AZ_BATCH_TASK_USER: the account the task runs under."""
        if self.kind == UserKind.NAMED:
            return self.name
        return "_azbatch" if self.kind == UserKind.POOL else "_azbatchtask"


@dataclass(frozen=True)
class NamedUser:
    uid: int
    admin: bool
    name: str = ""


@dataclass(frozen=True)
class NodeUsers:
    """The uids and group of one pool's users, the same on each of its nodes."""

    gid: int
    pool_uid: int
    task_uid: int
    named: dict[str, NamedUser] = field(default_factory=dict)

    @classmethod
    def of_block(cls, block: int, names: list[tuple[str, bool]]) -> NodeUsers:
        """The users of a pool given its block number and its userAccounts (name, admin)."""
        base = UID_BASE + block * UIDS_PER_POOL
        named = {
            name.lower(): NamedUser(base + 2 + i, admin, name)
            for i, (name, admin) in enumerate(names[: UIDS_PER_POOL - 2])
        }
        return cls(gid=base, pool_uid=base, task_uid=base + 1, named=named)

    def uid(self, who: RunAs) -> int | None:
        if who.kind == UserKind.POOL:
            return self.pool_uid
        if who.kind == UserKind.TASK:
            return self.task_uid
        user = self.named.get(who.name.lower())
        return user.uid if user is not None else None

    def passwd_lines(self) -> list[str]:
        """The pool's users as /etc/passwd shows them inside a sandbox."""
        users = [("_azbatch", self.pool_uid), ("_azbatchtask", self.task_uid)]
        users += [(user.name, user.uid) for user in self.named.values()]
        return [f"{name}:x:{uid}:{self.gid}::{SANDBOX_ROOT}:/bin/sh" for name, uid in users]

    def group_line(self) -> str:
        return f"{POOL_GROUP}:x:{self.gid}:"

    def is_admin(self, who: RunAs) -> bool:
        if who.kind == UserKind.NAMED:
            user = self.named.get(who.name.lower())
            return user is not None and user.admin
        return who.admin


def bwrap() -> str | None:
    return shutil.which("bwrap") or (shutil.which("bwrap", path="/usr/bin:/bin"))


@dataclass(frozen=True)
class SpawnAs:
    """How the agent starts one process: as which uid/gid (None: its own), behind which prefix."""

    uid: int | None = None
    gid: int | None = None
    prefix: tuple[str, ...] = ()  # the sandbox's command line before the task's own
    in_sandbox: bool = False  # paths inside are the sandbox's (/mnt/batch/tasks)


def sandbox_prefix(node_root: str, hide: list[str], admin: bool, chdir: str) -> tuple[str, ...]:
    """bubblewrap: the system read-only, the node's tree at /mnt/batch/tasks, `hide` covered by an
    empty tmpfs (the data directory), fresh /proc (own pid namespace), /dev and /tmp; an admin task
    is root inside a user namespace (its uid outside stays unprivileged). `chdir` is the working
    directory inside."""
    path = bwrap()
    if path is None:
        raise RuntimeError("bubblewrap (bwrap) is needed for sandboxed tasks; install Debian's bubblewrap")
    argv = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/mnt"]
    for directory in hide:
        argv += ["--tmpfs", directory]
    argv += ["--bind", node_root, SANDBOX_ROOT, "--proc", "/proc", "--unshare-pid", "--die-with-parent"]
    for name in ("passwd", "group"):  # the pool's users by name (written by layout.prepare_node)
        database = os.path.join(node_root, USER_DATABASE, name)
        if os.path.exists(database):
            argv += ["--ro-bind", database, f"/etc/{name}"]
    argv += ["--new-session", "--chdir", chdir]
    if admin:
        argv += ["--unshare-user", "--uid", "0", "--gid", "0"]
    return (*argv, "--")


def spawn_as(
    isolation: Isolation, users: NodeUsers | None, who: RunAs, node_root: str, hide: list[str], wd: str
) -> SpawnAs:
    """How to start a task of this identity at this level of isolation; `wd` is its working
    directory relative to the node root. `users` is None when the agent cannot change uid."""
    if isolation == Isolation.NONE:
        return SpawnAs()
    uid = gid = None
    admin = who.admin
    if users is not None:
        uid = users.uid(who)
        if uid is None:
            raise LookupError(f"the pool has no user account named '{who.name}'")
        gid, admin = users.gid, users.is_admin(who)
    if isolation == Isolation.SANDBOX or admin:
        prefix = sandbox_prefix(node_root, hide, admin, f"{SANDBOX_ROOT}/{wd}")
        return SpawnAs(uid, gid, prefix, in_sandbox=True)
    return SpawnAs(uid, gid)
