"""Who a task runs as: RunAs labels, a pool's uids, spawn_as per isolation level and the bubblewrap sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from batchite.agent import identity, launcher
from batchite.agent.identity import (
    SANDBOX_ROOT,
    UID_BASE,
    UIDS_PER_POOL,
    Isolation,
    NodeUsers,
    RunAs,
    SpawnAs,
    UserKind,
    sandbox_prefix,
    spawn_as,
)

needs_bwrap = pytest.mark.skipif(identity.bwrap() is None, reason="bubblewrap (bwrap) is not installed")
BLOCK = 3
BASE = UID_BASE + BLOCK * UIDS_PER_POOL


@pytest.fixture
def users() -> NodeUsers:
    return NodeUsers.of_block(BLOCK, [("Alice", True), ("bob", False)])


def has_run(argv: Sequence[str], *run: str) -> bool:
    """Whether `run` appears in argv as consecutive items."""
    return any(tuple(argv[i : i + len(run)]) == run for i in range(len(argv) - len(run) + 1))


# -- RunAs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "admin", "label", "user_name"),
    [
        (UserKind.POOL, False, "PoolNonAdmin", "_azbatch"),
        (UserKind.POOL, True, "PoolAdmin", "_azbatch"),
        (UserKind.TASK, False, "TaskNonAdmin", "_azbatchtask"),
        (UserKind.TASK, True, "TaskAdmin", "_azbatchtask"),
    ],
)
def test_auto_user_label_and_name(kind: UserKind, admin: bool, label: str, user_name: str) -> None:
    who = RunAs(kind, admin)
    assert who.label == label
    assert who.user_name == user_name


@pytest.mark.parametrize("admin", [False, True])
def test_named_user_label_and_name_are_its_name(admin: bool) -> None:
    who = RunAs(UserKind.NAMED, admin, "Alice")
    assert who.label == "Alice"
    assert who.user_name == "Alice"


def test_default_identity_is_the_pool_non_admin() -> None:
    assert RunAs().label == "PoolNonAdmin"


# -- NodeUsers ---------------------------------------------------------------------------------------


def test_of_block_uid_arithmetic(users: NodeUsers) -> None:
    assert users.gid == BASE
    assert users.pool_uid == BASE
    assert users.task_uid == BASE + 1
    assert set(users.named) == {"alice", "bob"}  # looked up lower-cased
    assert (users.named["alice"].uid, users.named["alice"].admin, users.named["alice"].name) == (
        BASE + 2,
        True,
        "Alice",
    )
    assert (users.named["bob"].uid, users.named["bob"].admin, users.named["bob"].name) == (BASE + 3, False, "bob")


def test_of_block_blocks_do_not_overlap() -> None:
    first = NodeUsers.of_block(0, [])
    assert (first.gid, first.pool_uid, first.task_uid, first.named) == (UID_BASE, UID_BASE, UID_BASE + 1, {})
    assert NodeUsers.of_block(1, []).pool_uid == UID_BASE + UIDS_PER_POOL


def test_of_block_caps_the_named_users_within_the_block() -> None:
    names = [(f"user{i}", False) for i in range(UIDS_PER_POOL + 10)]
    users = NodeUsers.of_block(BLOCK, names)
    assert len(users.named) == UIDS_PER_POOL - 2
    uids = sorted(user.uid for user in users.named.values())
    assert uids == list(range(BASE + 2, BASE + UIDS_PER_POOL))  # never into the next pool's block
    assert f"user{UIDS_PER_POOL - 3}" in users.named
    assert f"user{UIDS_PER_POOL - 2}" not in users.named


def test_uid_of_each_identity(users: NodeUsers) -> None:
    assert users.uid(RunAs(UserKind.POOL, True)) == BASE
    assert users.uid(RunAs(UserKind.TASK)) == BASE + 1
    assert users.uid(RunAs(UserKind.NAMED, name="ALICE")) == BASE + 2
    assert users.uid(RunAs(UserKind.NAMED, name="Bob")) == BASE + 3
    assert users.uid(RunAs(UserKind.NAMED, name="carol")) is None


def test_is_admin_auto_users_ask_named_users_are(users: NodeUsers) -> None:
    assert users.is_admin(RunAs(UserKind.POOL, True))
    assert not users.is_admin(RunAs(UserKind.TASK, False))
    assert users.is_admin(RunAs(UserKind.NAMED, False, "alice"))  # the account's elevation counts
    assert not users.is_admin(RunAs(UserKind.NAMED, True, "BOB"))
    assert not users.is_admin(RunAs(UserKind.NAMED, True, "carol"))


def test_passwd_and_group_lines(users: NodeUsers) -> None:
    home = f"{BASE}::{SANDBOX_ROOT}:/bin/sh"
    assert users.passwd_lines() == [
        f"_azbatch:x:{BASE}:{home}",
        f"_azbatchtask:x:{BASE + 1}:{home}",
        f"Alice:x:{BASE + 2}:{home}",
        f"bob:x:{BASE + 3}:{home}",
    ]
    assert users.group_line() == f"_azbatchgrp:x:{BASE}:"


# -- spawn_as ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [RunAs(), RunAs(UserKind.POOL, True), RunAs(UserKind.NAMED, name="nobody")])
def test_spawn_as_none_is_the_agents_own_user(users: NodeUsers, who: RunAs, tmp_path: Path) -> None:
    assert spawn_as(Isolation.NONE, users, who, str(tmp_path), [], "wd") == SpawnAs()


@pytest.mark.parametrize(
    ("who", "uid"),
    [(RunAs(), BASE), (RunAs(UserKind.TASK), BASE + 1), (RunAs(UserKind.NAMED, True, "Bob"), BASE + 3)],
)
def test_spawn_as_users_non_admin_has_no_prefix(users: NodeUsers, who: RunAs, uid: int, tmp_path: Path) -> None:
    assert spawn_as(Isolation.USERS, users, who, str(tmp_path), [], "wd") == SpawnAs(uid, BASE)


@needs_bwrap
@pytest.mark.parametrize(
    ("who", "uid"), [(RunAs(UserKind.POOL, True), BASE), (RunAs(UserKind.NAMED, False, "alice"), BASE + 2)]
)
def test_spawn_as_users_admin_is_sandboxed(users: NodeUsers, who: RunAs, uid: int, tmp_path: Path) -> None:
    spawn = spawn_as(Isolation.USERS, users, who, str(tmp_path), ["/data"], "workitems/j/t/wd")
    assert (spawn.uid, spawn.gid, spawn.in_sandbox) == (uid, BASE, True)
    assert spawn.prefix == sandbox_prefix(str(tmp_path), ["/data"], True, f"{SANDBOX_ROOT}/workitems/j/t/wd")


@needs_bwrap
@pytest.mark.parametrize(("who", "admin"), [(RunAs(), False), (RunAs(UserKind.NAMED, name="Alice"), True)])
def test_spawn_as_sandbox_always_has_a_prefix(users: NodeUsers, who: RunAs, admin: bool, tmp_path: Path) -> None:
    spawn = spawn_as(Isolation.SANDBOX, users, who, str(tmp_path), [], "wd")
    assert spawn.in_sandbox
    assert spawn.uid == users.uid(who)
    assert spawn.gid == BASE
    assert spawn.prefix == sandbox_prefix(str(tmp_path), [], admin, f"{SANDBOX_ROOT}/wd")


@needs_bwrap
def test_spawn_as_without_users_keeps_the_agents_uid(tmp_path: Path) -> None:
    assert spawn_as(Isolation.USERS, None, RunAs(), str(tmp_path), [], "wd") == SpawnAs()
    admin = spawn_as(Isolation.USERS, None, RunAs(UserKind.POOL, True), str(tmp_path), [], "wd")
    assert (admin.uid, admin.gid, admin.in_sandbox) == (None, None, True)
    assert "--unshare-user" in admin.prefix


@pytest.mark.parametrize("isolation", [Isolation.USERS, Isolation.SANDBOX])
def test_spawn_as_unknown_named_user(users: NodeUsers, isolation: Isolation, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="carol"):
        spawn_as(isolation, users, RunAs(UserKind.NAMED, name="carol"), str(tmp_path), [], "wd")


# -- sandbox_prefix ----------------------------------------------------------------------------------


@needs_bwrap
@pytest.mark.parametrize("admin", [False, True])
def test_sandbox_prefix_argv(admin: bool, tmp_path: Path) -> None:
    hide = ["/srv/data", "/srv/other"]
    argv = sandbox_prefix(str(tmp_path), hide, admin, f"{SANDBOX_ROOT}/wd")
    assert argv[0] == identity.bwrap()
    assert argv[-1] == "--"
    assert has_run(argv, "--ro-bind", "/", "/")
    assert has_run(argv, "--bind", str(tmp_path), SANDBOX_ROOT)
    for directory in hide:
        assert has_run(argv, "--tmpfs", directory)
        # the node's tree is bound after the covers: a node root inside a hidden directory stays visible
        assert argv.index(directory) < argv.index(SANDBOX_ROOT)
    assert "--unshare-pid" in argv
    assert "--die-with-parent" in argv
    assert has_run(argv, "--chdir", f"{SANDBOX_ROOT}/wd")
    assert has_run(argv, "--unshare-user", "--uid", "0", "--gid", "0") == admin
    assert ("--unshare-user" in argv) == admin
    assert ("--uid" in argv) == admin
    assert "/etc/passwd" not in argv
    assert "/etc/group" not in argv


@needs_bwrap
@pytest.mark.parametrize("names", [["passwd"], ["group"], ["passwd", "group"]])
def test_sandbox_prefix_binds_the_user_database(names: list[str], tmp_path: Path) -> None:
    (tmp_path / "volatile").mkdir()
    for name in names:
        (tmp_path / "volatile" / name).write_text("x:x:1:1::/:/bin/sh\n")
    argv = sandbox_prefix(str(tmp_path), [], False, SANDBOX_ROOT)
    for name in ("passwd", "group"):
        bound = has_run(argv, "--ro-bind", str(tmp_path / "volatile" / name), f"/etc/{name}")
        assert bound == (name in names)


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory outside /tmp (which the sandbox covers anyway), so that hiding it means something."""
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    path = Path(tempfile.mkdtemp(prefix="batchite-sandbox-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_sandbox_really_runs_as_root_with_the_node_tree_and_hidden_data(outside_tmp: Path) -> None:
    data = outside_tmp / "data"
    node_root = data / "nodes" / "node1"  # the node's tree lives inside the hidden data directory
    (node_root / "workitems").mkdir(parents=True)
    (node_root / "shared").mkdir()
    (data / "store.db").write_text("secret")
    script = f"id -u; ls {SANDBOX_ROOT}; ls {data} | wc -l"

    def run(hide: list[str]) -> list[str]:
        argv = [*sandbox_prefix(str(node_root), hide, True, SANDBOX_ROOT), "/bin/sh", "-c", script]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run([]) == ["0", "shared", "workitems", "2"]  # not hidden: the data directory shows
    assert run([str(data)]) == ["0", "shared", "workitems", "0"]


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_an_admin_task_is_root_inside_and_its_pool_user_outside(users: NodeUsers, outside_tmp: Path) -> None:
    outside_tmp.chmod(0o755)
    node_root = outside_tmp / "node"
    (node_root / "wd").mkdir(parents=True)
    node_root.chmod(0o777)
    (node_root / "wd").chmod(0o777)
    spawn = spawn_as(Isolation.USERS, users, RunAs(UserKind.POOL, True), str(node_root), [str(outside_tmp)], "wd")
    out = node_root / "out.txt"

    def run() -> int:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            argv = [*spawn.prefix, "/bin/sh", "-c", "id -u; pwd; touch made"]
            child = launcher.spawn(argv, str(node_root / "wd"), {"PATH": "/usr/bin:/bin"}, fd, fd, spawn.uid, spawn.gid)
        finally:
            os.close(fd)
        return child.wait()

    with ThreadPoolExecutor(max_workers=1, initializer=launcher.prepare_thread) as pool:
        assert pool.submit(run).result(timeout=30) == 0, out.read_text()
    assert out.read_text().split() == ["0", f"{SANDBOX_ROOT}/wd"]
    made = (node_root / "wd" / "made").stat()
    assert (made.st_uid, made.st_gid) == (BASE, BASE)  # root inside, the pool's user outside
