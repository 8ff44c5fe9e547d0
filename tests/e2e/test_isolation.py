"""Who tasks run as and what they can reach, on a server running as root (as in CI containers).

Two accounts share one server (isolation `users`, the default for root). Each test runs real tasks
through azure-batch 15.1.0 and reads what they printed: their ids, their environment, and whether
reading the service's secrets, its data directory or another account's node succeeded. A second
server runs every task in a sandbox, where the node's tree is at /mnt/batch/tasks and the pool's
users have names."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as m

from batchite.agent.identity import UID_BASE
from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client
from tests.e2e.helpers import Cleanup, make_pool, wait_task
from tests.sdk import job_options, task_options

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="isolating tasks by user needs the server to run as root"),
]

OTHER_NAME, OTHER_KEY = "otheraccount", "b3RoZXIga2V5IGZvciB0ZXN0cyBvbmx5"
USERS = [
    m.UserAccount(name="alice", password="Pa55-word-alice", elevation_level="nonadmin"),
    m.UserAccount(name="bob", password="Pa55-word-bob", elevation_level="admin"),
]


def sh(script: str) -> str:
    return f"/bin/sh -c {shlex.quote(script)}"


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    accounts = f"{DEV_ACCOUNT_NAME}:{DEV_ACCOUNT_KEY};{OTHER_NAME}:{OTHER_KEY}"
    child = start_child_server(tmp_path_factory.mktemp("isolation-data"), env={"BATCHITE_ACCOUNTS": accounts})
    yield child
    child.stop()


@pytest.fixture(scope="module")
def mine(two_accounts: ChildServer) -> Iterator[Any]:
    client = make_client(two_accounts.endpoint)
    yield client
    client.close()


@pytest.fixture(scope="module")
def theirs(two_accounts: ChildServer) -> Iterator[Any]:
    client = make_client(two_accounts.endpoint, OTHER_NAME, OTHER_KEY)
    yield client
    client.close()


@pytest.fixture(scope="module")
def pool(mine: Any) -> Iterator[str]:
    cleanup = Cleanup(mine)
    yield make_pool(mine, "isolated", cleanup, user_accounts=USERS)
    cleanup.run()


@pytest.fixture
def job(mine: Any, pool: str, uid: Any) -> Iterator[str]:
    cleanup = Cleanup(mine)
    job_id = uid("ijob")
    mine.create_job(job_options(job_id, pool))
    cleanup("job", job_id)
    yield job_id
    cleanup.run()


def run(client: Any, job_id: str, task_id: str, script: str, **extra: Any) -> tuple[Any, str, str]:
    client.create_task(job_id, task_options(task_id, sh(script), **extra))
    task = wait_task(client, job_id, task_id)
    out = b"".join(client.download_task_file(job_id, task_id, "stdout.txt")).decode()
    err = b"".join(client.download_task_file(job_id, task_id, "stderr.txt")).decode()
    return task, out, err


def auto(scope: str, elevation: str) -> m.UserIdentity:
    return m.UserIdentity(auto_user=m.AutoUserSpecification(scope=scope, elevation_level=elevation))


IDS = 'id -u; id -g; id -G; echo "$AZ_BATCH_TASK_USER_IDENTITY"; echo "$AZ_BATCH_TASK_USER"'


def test_a_nonadmin_task_runs_unprivileged(mine: Any, job: str) -> None:
    _, out, _ = run(mine, job, "pool-nonadmin", IDS)
    uid, gid, groups, identity, user = out.split("\n")[:5]
    assert int(uid) >= UID_BASE and int(gid) >= UID_BASE, out
    assert "0" not in groups.split(), out  # no root group either
    assert (identity, user) == ("PoolNonAdmin", "_azbatch")

    _, out, _ = run(mine, job, "task-nonadmin", IDS, user_identity=auto("task", "nonadmin"))
    task_uid, task_gid, _, identity, user = out.split("\n")[:5]
    assert int(task_uid) >= UID_BASE and task_uid != uid, out  # its own user, the pool's group
    assert task_gid == gid
    assert (identity, user) == ("TaskNonAdmin", "_azbatchtask")


def test_an_admin_task_is_root_only_inside_its_sandbox(mine: Any, job: str, two_accounts: ChildServer) -> None:
    data = two_accounts.data_dir
    script = (
        f"{IDS}; ls -A {data} | wc -l; cat {data}/batchite.db > /dev/null && echo db-read;"
        f" cat /proc/{two_accounts.process.pid}/environ > /dev/null && echo environ-read; ls /proc | grep -c '^[0-9]'"
    )
    _, out, _ = run(mine, job, "admin", script, user_identity=auto("pool", "admin"))
    lines = out.split("\n")
    assert lines[:2] == ["0", "0"], out
    assert lines[3] == "PoolAdmin"
    assert lines[5] == "0", out  # the data directory is an empty directory in there
    assert "db-read" not in out and "environ-read" not in out
    assert int(lines[6]) < 10, out  # its own pid namespace: the host's processes are not there


def test_named_users_run_as_themselves(mine: Any, job: str) -> None:
    _, pool_out, _ = run(mine, job, "as-pool", IDS)
    _, alice, _ = run(mine, job, "as-alice", IDS, user_identity=m.UserIdentity(username="alice"))
    uid, gid, _, identity, user = alice.split("\n")[:5]
    assert int(uid) >= UID_BASE and uid not in pool_out.split("\n")[:1], alice
    assert gid == pool_out.split("\n")[1]
    assert (identity, user) == ("alice", "alice")
    _, bob, _ = run(mine, job, "as-bob", IDS, user_identity=m.UserIdentity(username="bob"))
    assert bob.split("\n")[0] == "0", bob  # an admin user: root inside its sandbox


def test_a_task_sees_only_what_an_azure_task_sees(mine: Any, job: str) -> None:
    settings = [m.EnvironmentSetting(name="MINE", value="set by the task")]
    _, out, _ = run(mine, job, "env", "env", environment_settings=settings)
    names = {line.partition("=")[0] for line in out.splitlines() if "=" in line}
    allowed = {"HOME", "PATH", "PWD", "SHLVL", "_", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "MINE"}
    assert {n for n in names if not n.startswith("AZ_BATCH_")} <= allowed, names
    assert "MINE=set by the task" in out
    assert "BATCHITE" not in out and DEV_ACCOUNT_KEY not in out and OTHER_KEY not in out


def test_a_task_cannot_read_the_service_or_its_data(mine: Any, job: str, two_accounts: ChildServer) -> None:
    data = two_accounts.data_dir
    script = (
        f"cat /proc/{two_accounts.process.pid}/environ && echo environ-read;"
        f" ls {data} && echo data-listed; cat {data}/batchite.db > /dev/null && echo db-read; true"
    )
    _, out, err = run(mine, job, "snoop", script)
    assert not any(word in out for word in ("environ-read", "data-listed", "db-read")), out
    assert "Permission denied" in err, err
    assert OTHER_KEY not in out


def test_one_account_cannot_read_another_accounts_node(mine: Any, theirs: Any, job: str, uid: Any) -> None:
    _, where, _ = run(mine, job, "secret", 'echo private > secret.txt; echo "$AZ_BATCH_NODE_ROOT_DIR"; pwd')
    node_root, wd = where.split("\n")[:2]
    cleanup = Cleanup(theirs)
    try:
        other_pool = make_pool(theirs, uid("other"), cleanup)
        other_job = uid("ojob")
        theirs.create_job(job_options(other_job, other_pool))
        cleanup("job", other_job)
        script = (
            f"cat {wd}/secret.txt && echo read-it; ls {node_root} && echo listed-it;"
            f" ls {node_root}/shared && echo listed-shared; echo x > {node_root}/shared/planted && echo wrote-it; true"
        )
        _, out, err = run(theirs, other_job, "peek", script)
        assert not any(word in out for word in ("read-it", "listed-it", "listed-shared", "wrote-it")), out
        assert "private" not in out
        assert "Permission denied" in err, err
    finally:
        cleanup.run()


# -- every task in a sandbox ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    child = start_child_server(tmp_path_factory.mktemp("sandbox-data"), ["--isolation", "sandbox"])
    client = make_client(child.endpoint)
    cleanup = Cleanup(client)
    try:
        make_pool(client, "sandboxed", cleanup, user_accounts=USERS)
        client.create_job(job_options("sjob", "sandboxed"))
        cleanup("job", "sjob")
        yield client
    finally:
        cleanup.run()
        client.close()
        child.stop()


def test_in_a_sandbox_the_node_is_laid_out_as_on_azure(sandboxed: Any) -> None:
    script = 'echo "$AZ_BATCH_NODE_ROOT_DIR"; echo "$AZ_BATCH_TASK_WORKING_DIR"; pwd; ls /mnt/batch/tasks; id -un'
    _, out, _ = run(sandboxed, "sjob", "layout", script)
    lines = out.split("\n")
    assert lines[0] == "/mnt/batch/tasks"
    assert lines[1] == "/mnt/batch/tasks/workitems/sjob/job-1/layout/wd" == lines[2]
    assert {"shared", "startup", "workitems", "applications"} <= set(lines[3:-2]), out
    assert lines[-2] == "_azbatch"


def test_in_a_sandbox_named_users_have_their_names(sandboxed: Any) -> None:
    _, out, _ = run(sandboxed, "sjob", "whoami", "id -un; id -gn", user_identity=m.UserIdentity(username="alice"))
    assert out.split("\n")[:2] == ["alice", "_azbatchgrp"], out


def test_in_a_sandbox_the_system_is_read_only(sandboxed: Any) -> None:
    script = "touch /usr/planted 2>&1; touch /etc/planted 2>&1; echo x > /tmp/mine && cat /tmp/mine"
    _, out, _ = run(sandboxed, "sjob", "ro", script)
    assert out.count("Read-only file system") == 2, out
    assert out.rstrip().endswith("x")
    assert not Path("/usr/planted").exists() and not Path("/etc/planted").exists()
