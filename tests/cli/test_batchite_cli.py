"""`batchite submit`, `watch` and `logs` run as a user runs them (a subprocess, the AZURE_BATCH_*
variables as az reads them) against the tests' live server; what they made checked through the SDK."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from batchite.storage.linked import LinkedStorage
from tests.conftest import wait_for
from tests.e2e.helpers import wait_nodes
from tests.e2e.storage import conftest as storage_fixtures
from tests.e2e.storage.support import blob_names, put_blobs, read_blob
from tests.sdk import pool_options

# the storage tests' Azurite, a Batchite linked to it, its client and containers
azurite, linked, storage_server = storage_fixtures.azurite, storage_fixtures.linked, storage_fixtures.storage_server
sclient, containers = storage_fixtures.sclient, storage_fixtures.containers

CLI_TIMEOUT = 180.0  # one command; a hang fails the test, not the suite


def batchite(endpoint: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AZURE_BATCH_ENDPOINT": endpoint,
        "AZURE_BATCH_ACCOUNT": DEV_ACCOUNT_NAME,
        "AZURE_BATCH_ACCESS_KEY": DEV_ACCOUNT_KEY,
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "batchite.cli.main", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def job_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture(scope="module")
def shared_pool(client: Any) -> Iterator[str]:
    """An existing pool the job files name by id: 1 node, 4 slots."""
    import uuid

    pool_id = f"cli-{uuid.uuid4().hex[:6]}"
    client.create_pool(pool_options(pool_id, dedicated=1, slots=4))
    wait_nodes(client, pool_id, 1)
    yield pool_id
    client.begin_delete_pool(pool_id, polling_interval=0.05).result()


def _job_state(client: Any, job_id: str) -> str:
    return str(client.get_job(job_id).state.value)


def test_submit_sweep_creates_its_pool_and_n_tasks(
    endpoint: str, client: Any, cleanup: Callable[[str, str], None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    pool_id, job_id = uid("cli-pool"), uid("cli-sweep")
    cleanup("pool", pool_id)
    cleanup("job", job_id)
    path = job_file(
        tmp_path,
        f"""
        pool:
          id: {pool_id}
          nodes: 1
          slots_per_node: 3
        job:
          id: {job_id}
          environment: {{GREETING: hello}}
        sweep:
          id: "part-{{i}}"
          range: {{start: 2, stop: 12, step: 2}}
          command: /bin/sh -c 'echo "$GREETING {{i}} $((({{i}} * 10)))"'
        """,
    )
    result = batchite(endpoint, "submit", path)
    assert result.returncode == 0, result.stderr
    assert f"Created pool {pool_id}" in result.stdout
    ids = [f"part-{i}" for i in range(2, 12, 2)]
    for ident in ids:  # the summary table: one row per task, completed with exit code 0
        row = next(line for line in result.stdout.splitlines() if f" {ident} " in line)
        assert "completed" in row and " 0 " in row
    assert "5/5" in result.stdout  # the progress bar's completed / total
    tasks = {t.id: t for t in client.list_tasks(job_id)}
    assert sorted(tasks) == sorted(ids)
    for i in range(2, 12, 2):
        out = b"".join(client.download_task_file(job_id, f"part-{i}", "stdout.txt")).decode()
        assert out == f"hello {i} {i * 10}\n"
    pool = client.get_pool(pool_id)
    assert pool.target_dedicated_nodes == 1 and pool.task_slots_per_node == 3
    # terminate_when_done (the default): the job ends once its tasks have
    wait_for(lambda: _job_state(client, job_id) == "completed")

    again = batchite(endpoint, "submit", path)  # the pool is reused; the job exists: refused
    assert again.returncode == 3
    assert f"Pool {pool_id} exists already" in again.stdout
    assert "JobExists" in again.stderr


def test_submit_a_failing_task_on_an_auto_pool_exits_1(
    endpoint: str, client: Any, cleanup: Callable[[str, str], None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    job_id = uid("cli-fail")
    cleanup("job", job_id)
    path = job_file(
        tmp_path,
        f"""
        auto_pool: {{nodes: 1, slots_per_node: 2, id_prefix: clifail}}
        job: {{id: {job_id}}}
        tasks:
          - {{id: good, command: "echo fine"}}
          - {{id: bad, command: "/bin/sh -c 'echo broken >&2; exit 3'"}}
        """,
    )
    result = batchite(endpoint, "submit", path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad: exit code 3" in result.stderr
    bad = next(line for line in result.stdout.splitlines() if " bad " in line)
    assert "failed" in bad and " 3 " in bad
    job = client.get_job(job_id)
    assert job.pool_info.auto_pool_specification.auto_pool_id_prefix == "clifail"
    # the job ended with its tasks, and its auto pool (keep_alive false) with it
    wait_for(lambda: _job_state(client, job_id) == "completed")

    watched = batchite(endpoint, "watch", job_id)  # a finished job: watch ends at once, as submit
    assert watched.returncode == 1
    assert "bad: exit code 3" in watched.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("job: [unclosed\n", "not valid YAML"),
        ("pool: {id: p}\ntasks: [{id: t, command: c}]\n", "missing required field `job`"),
        ("pool: {id: p}\njob: {id: j}\ntasks: [{id: t}]\n", "missing required field `command` - at `$.tasks[0]`"),
        ("pool: {id: p, nodes: many}\njob: {id: j}\ntasks: [{id: t, command: c}]\n", "at `$.pool.nodes`"),
        ("pool: {id: p}\njob: {id: j, colour: red}\ntasks: [{id: t, command: c}]\n", "unknown field `colour`"),
        ("job: {id: j}\ntasks: [{id: t, command: c}]\n", "exactly one of `pool` and `auto_pool`"),
        ("pool: {id: p}\njob: {id: j}\n", "exactly one of `tasks` and `sweep`"),
        ("pool: {id: p}\njob: {id: j}\nsweep: {command: c, range: 3, id: same}\n", "must contain {i} or {file}"),
        ("pool: {id: p}\njob: {id: j}\nsweep: {command: c}\n", "exactly one of range, files, container"),
        ("pool: {id: p}\njob: {id: j}\ntasks: [{id: t, command: c}, {id: t, command: d}]\n", "repeated"),
        ("auto_pool: {image: ubuntu}\njob: {id: j}\ntasks: [{id: t, command: c}]\n", "publisher/offer/sku"),
        ("pool: {id: p}\njob: {id: j}\ntasks: [{id: t, command: c, resource_files: [{path: x}]}]\n", "exactly one"),
    ],
)
def test_a_wrong_job_file_exits_2_saying_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    # nothing listens there: a wrong file is found before the service is asked anything
    result = batchite("http://127.0.0.1:9", "submit", job_file(tmp_path, text))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())


def test_a_missing_job_file_exits_2(tmp_path: Path) -> None:
    result = batchite("http://127.0.0.1:9", "submit", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_an_unknown_pool_exits_3_with_the_batch_error(
    endpoint: str, client: Any, uid: Callable[[str], str], tmp_path: Path
) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    job_id = uid("cli-nopool")
    path = job_file(tmp_path, f"pool: {{id: {uid('absent')}}}\njob: {{id: {job_id}}}\ntasks: [{{id: t, command: c}}]\n")
    result = batchite(endpoint, "submit", path)
    assert result.returncode == 3
    assert "PoolNotFound: The specified pool does not exist." in " ".join(result.stderr.split())
    with pytest.raises(ResourceNotFoundError):  # nothing was created
        client.get_job(job_id)


def test_a_wrong_key_or_no_service_exits_3(endpoint: str, tmp_path: Path) -> None:
    path = job_file(tmp_path, "pool: {id: any}\njob: {id: j}\ntasks: [{id: t, command: c}]\n")
    wrong = batchite(endpoint, "submit", path, AZURE_BATCH_ACCESS_KEY="d3Jvbmc=")
    assert wrong.returncode == 3
    assert "AuthenticationFailed" in wrong.stderr
    nobody = batchite("http://127.0.0.1:9", "watch", "some-job")
    assert nobody.returncode == 3
    assert "Cannot reach the service" in nobody.stderr and "Connection refused" in nobody.stderr


def test_watch_a_finished_job_and_an_unknown_one(
    endpoint: str,
    client: Any,
    shared_pool: str,
    cleanup: Callable[[str, str], None],
    uid: Callable[[str], str],
    tmp_path: Path,
) -> None:
    job_id = uid("cli-watch")
    cleanup("job", job_id)
    files = "[alpha.txt, beta.txt, gamma.txt]"
    path = job_file(
        tmp_path,
        f"pool: {{id: {shared_pool}}}\njob: {{id: {job_id}}}\n"
        f"sweep: {{id: 'count-{{i}}', files: {files}, command: 'echo {{i}}={{file}}'}}\n",
    )
    submitted = batchite(endpoint, "submit", path)
    assert submitted.returncode == 0, submitted.stderr
    outputs = [b"".join(client.download_task_file(job_id, f"count-{i}", "stdout.txt")) for i in range(3)]
    assert outputs == [b"0=alpha.txt\n", b"1=beta.txt\n", b"2=gamma.txt\n"]

    watched = batchite(endpoint, "watch", job_id)
    assert watched.returncode == 0, watched.stderr
    rows = [
        [c.strip() for c in re.split("[│┃]", line)[1:-1]]
        for line in watched.stdout.splitlines()
        if "┃" in line or "│" in line
    ]
    header = rows.index(["active", "running", "completed", "succeeded", "failed"])
    assert rows[header + 1] == ["0", "0", "3", "3", "0"]

    unknown = batchite(endpoint, "watch", uid("nojob"))
    assert unknown.returncode == 3
    assert "JobNotFound" in unknown.stderr


def _gate() -> Path:
    """A directory the test makes a file in, which a task waits for (readable by the pool's user)."""
    gate = Path(tempfile.mkdtemp(prefix="batchite-cli-gate-"))
    gate.chmod(0o755)
    return gate


def test_logs_and_logs_follow_on_a_running_task(
    endpoint: str,
    client: Any,
    shared_pool: str,
    cleanup: Callable[[str, str], None],
    uid: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from azure.batch import models as m

    job_id = uid("cli-logs")
    cleanup("job", job_id)
    gate = _gate()
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=shared_pool)))
    script = f"echo first; echo oops >&2; while [ ! -e {gate}/go ]; do sleep 0.05; done; echo second; exit 4"
    client.create_task(job_id, m.BatchTaskCreateOptions(id="slow", command_line=f"/bin/sh -c '{script}'"))
    wait_for(lambda: str(client.get_task(job_id, "slow").state.value) == "running")

    env = {**os.environ, "AZURE_BATCH_ENDPOINT": endpoint, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "batchite.cli.main", "logs", job_id, "slow", "-f", "--interval", "0.05"]
    follower = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    out = follower.stdout
    assert out is not None

    def read_lines() -> None:
        for line in iter(out.readline, ""):
            lines.put(line)

    reader = threading.Thread(target=read_lines)
    reader.start()
    try:
        assert lines.get(timeout=60) == "first\n"  # shown while the task still runs
        assert str(client.get_task(job_id, "slow").state.value) == "running"
        assert follower.poll() is None

        now = batchite(endpoint, "logs", job_id, "slow")  # without -f: what there is, at once
        assert (now.returncode, now.stdout) == (0, "first\n")
        err = batchite(endpoint, "logs", job_id, "slow", "--stderr")
        assert (err.returncode, err.stdout) == (0, "oops\n")

        (gate / "go").touch()
        assert lines.get(timeout=60) == "second\n"
        assert follower.wait(timeout=60) == 1  # the task failed (exit 4): -f says so
    finally:
        if follower.poll() is None:
            follower.kill()
        reader.join(timeout=10)
    assert lines.empty()
    missing = batchite(endpoint, "logs", job_id, "no-such-task")
    assert missing.returncode == 3
    assert "TaskNotFound" in missing.stderr and "Traceback" not in missing.stderr


def test_a_container_sweep_with_resource_and_output_files_through_azurite(
    storage_server: Any,
    sclient: Any,
    linked: LinkedStorage,
    containers: Callable[[str], str],
    uid: Callable[[str], str],
    tmp_path: Path,
) -> None:
    endpoint = storage_server.endpoint
    source, results = containers("cli-in"), containers("cli-out")
    put_blobs(linked, source, {"a.txt": "apple\n", "b.txt": "banana\n", "skip.log": "no\n", "shared.dat": "!\n"})
    pool_id, job_id = uid("cli-spool"), uid("cli-files")
    listing = linked.container_sas_url(source, "rl")
    text = textwrap.dedent(
        f"""
        pool: {{id: {pool_id}, nodes: 1, slots_per_node: 2}}
        job: {{id: {job_id}}}
        sweep:
          id: "up-{{i}}"
          container: {{url: "{listing}", glob: "*.txt"}}
          command: /bin/sh -c 'tr a-z A-Z < {{file}} > up-{{file}}; cat shared.dat >> up-{{file}}'
          resource_files:
            - {{container_url: "{listing}", prefix: shared.dat}}
          output_files:
            - pattern: "up-{{file}}"
              container_url: "{linked.container_sas_url(results, "rwl")}"
              path: "results/{{i}}-{{file}}"
        """
    )
    try:
        result = batchite(endpoint, "submit", job_file(tmp_path, text))
        assert result.returncode == 0, result.stdout + result.stderr
        assert sorted(t.id for t in sclient.list_tasks(job_id)) == ["up-0", "up-1"]  # skip.log is not *.txt
        assert blob_names(linked, results) == ["results/0-a.txt", "results/1-b.txt"]
        assert read_blob(linked, results, "results/0-a.txt") == b"APPLE\n!\n"
        assert read_blob(linked, results, "results/1-b.txt") == b"BANANA\n!\n"

        none = job_file(tmp_path, text.replace('glob: "*.txt"', 'glob: "*.csv"').replace(job_id, uid("cli-csv")))
        nothing = batchite(endpoint, "submit", none)
        assert nothing.returncode == 2
        assert "no blob of `sweep.container` matches its glob" in nothing.stderr

        read_only = linked.container_sas_url(source, "r")  # no list permission: storage refuses
        unlisted = job_file(tmp_path, text.replace(listing, read_only).replace(job_id, uid("cli-ro")))
        refused = batchite(endpoint, "submit", unlisted)
        assert refused.returncode == 3
        assert "The service refused: Authorization" in refused.stderr
    finally:
        sclient.begin_delete_job(job_id, polling_interval=0.05).result()
        sclient.begin_delete_pool(pool_id, polling_interval=0.05).result()


def _documented_example(where: str) -> str:
    """The job file docs/cli.md shows (its example), or the one README.md writes with cat."""
    root = Path(__file__).resolve().parents[2]
    if where == "README.md":
        return (root / "README.md").read_text().split("cat > squares.yaml <<'YAML'\n", 1)[1].split("\nYAML\n", 1)[0]
    doc = (root / "docs" / "cli.md").read_text()
    after = doc.split("<!-- docs/cli.md example: tests/cli/test_batchite_cli.py runs it as written -->\n", 1)[1]
    return after.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("where", ["docs/cli.md", "README.md"])
def test_the_documented_example_runs_as_written(
    endpoint: str,
    client: Any,
    cleanup: Callable[[str, str], None],
    uid: Callable[[str], str],
    tmp_path: Path,
    where: str,
) -> None:
    pool_id, job_id = uid("squares-pool"), uid("squares")
    cleanup("pool", pool_id)
    cleanup("job", job_id)
    # only the ids change, so that runs of the suite on one server do not meet
    text = _documented_example(where).replace("id: squares-pool", f"id: {pool_id}")
    text = text.replace("id: squares\n", f"id: {job_id}\n").replace("id: squares}", f"id: {job_id}}}")
    assert pool_id in text and job_id in text
    result = batchite(endpoint, "submit", job_file(tmp_path, text))
    assert result.returncode == 0, result.stdout + result.stderr
    scaled = where == "docs/cli.md"  # the longer example also sets an environment variable
    for i in range(5):
        out = b"".join(client.download_task_file(job_id, f"square-{i}", "stdout.txt")).decode()
        assert out == f"{i} squared is {i * i}" + (f", scaled {i * 10}" if scaled else "") + "\n"
    logs = batchite(endpoint, "logs", job_id, "square-3")
    assert (logs.returncode, logs.stdout) == (0, "3 squared is 9" + (", scaled 30" if scaled else "") + "\n")


def test_submit_no_wait_then_watch_runs_until_the_tasks_complete(
    endpoint: str,
    client: Any,
    shared_pool: str,
    cleanup: Callable[[str, str], None],
    uid: Callable[[str], str],
    tmp_path: Path,
) -> None:
    job_id = uid("cli-live")
    cleanup("job", job_id)
    gate = _gate()
    path = job_file(
        tmp_path,
        f"pool: {{id: {shared_pool}}}\njob: {{id: {job_id}}}\n"
        f"sweep: {{range: 2, command: \"/bin/sh -c 'while [ ! -e {gate}/go ]; do sleep 0.05; done'\"}}\n",
    )
    # the options win over the variables (which point nowhere here)
    flags = ["--endpoint", endpoint, "--account-name", DEV_ACCOUNT_NAME, "--account-key", DEV_ACCOUNT_KEY]
    submitted = batchite("http://127.0.0.1:9", "submit", path, "--no-wait", *flags, AZURE_BATCH_ACCESS_KEY="d3Jvbmc=")
    assert submitted.returncode == 0, submitted.stderr
    assert "Added 2 task(s)" in submitted.stdout
    wait_for(lambda: client.get_job_task_counts(job_id).task_counts.running == 2)

    env = {**os.environ, "AZURE_BATCH_ENDPOINT": endpoint, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "batchite.cli.main", "watch", job_id, "--interval", "0.05"]
    watcher = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the tasks cannot end before the gate opens: a watch that stopped early fails here, or
        # shows them running in its last view
        assert watcher.poll() is None
        (gate / "go").touch()
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    assert "task-0" not in err and "Traceback" not in err
    rows = [[c.strip() for c in re.split("[│┃]", line)[1:-1]] for line in out.splitlines() if "│" in line]
    assert ["0", "0", "2", "2", "0"] in rows
