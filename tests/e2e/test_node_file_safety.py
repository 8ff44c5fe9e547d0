"""The task and node file APIs against a hostile task, through azure-batch 15.1.0.

A task plants what an attacker would: symlinks to a directory and to a file outside, a FIFO, a
hard link to a file outside its tree, and a symlink it keeps swapping with a regular file while
the files are read. Every answer is a Batch error (or the link itself), and nothing outside the
task's directory is read or removed. A 1 GiB file downloads with the service's memory flat."""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batchite.cli.server import ChildServer
from tests.e2e.helpers import Cleanup, Raw, make_pool, wait_task
from tests.sdk import job_options, task_options

pytestmark = pytest.mark.e2e

SECRET = b"TOP-SECRET-CONTENT"


@dataclass
class Planted:
    pool_id: str
    job_id: str
    node_id: str
    outside: Path  # the directory the links point to: secret.txt (root only), victim/keep.txt
    shared: Path  # where the task made the file it hard-linked


def sh(script: str) -> str:
    return f"/bin/sh -c {shlex.quote(script)}"


@pytest.fixture(scope="module")
def planted(client: Any) -> Iterator[Planted]:
    outside = Path(tempfile.mkdtemp(prefix="batchite-outside-", dir="/tmp"))
    outside.chmod(0o755)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "secret.txt").chmod(0o600)
    (outside / "secretdir").mkdir(mode=0o700)
    (outside / "secretdir" / "f").write_bytes(SECRET)
    (outside / "victim").mkdir(mode=0o755)
    (outside / "victim" / "keep.txt").write_text("keep")
    shared = Path(tempfile.mkdtemp(prefix="batchite-shared-", dir="/tmp"))
    shared.chmod(0o1777)
    cleanup = Cleanup(client)
    suffix = os.urandom(4).hex()
    pool_id, job_id = make_pool(client, f"hostile-{suffix}", cleanup, slots=4), f"hjob-{suffix}"
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    script = (
        "mkdir -p real && echo inside > real/f.txt;"
        f" ln -s {outside} dir_link; ln -s {outside}/secret.txt file_link; ln -s {outside}/victim victim_link;"
        f" mkfifo pipe; echo mine > {shared}/mine.txt; ln {shared}/mine.txt hard"
    )
    client.create_task(job_id, task_options("hostile", sh(script)))
    client.create_task(job_id, task_options("other", sh("echo keep > keep.txt")))
    for task_id in ("hostile", "other"):
        task = wait_task(client, job_id, task_id)
        assert task.execution_info.exit_code == 0, task.execution_info
    try:
        yield Planted(pool_id, job_id, task.node_info.node_id, outside, shared)
    finally:
        cleanup.run()
        shutil.rmtree(outside, ignore_errors=True)
        shutil.rmtree(shared, ignore_errors=True)


def error(call: Any) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        call()
    return info.value


def refusal(endpoint: str, p: Planted, path: str) -> tuple[int, str]:
    """Status and Batch error code of a GET of a task file (the SDK does not read the body of a
    failed download, which it streams)."""
    raw = Raw(endpoint)
    try:
        response = raw.request("GET", f"/jobs/{p.job_id}/tasks/hostile/files/{quote(path, safe='')}")
        return response.status_code, response.json()["code"]
    finally:
        raw.close()


def read(client: Any, p: Planted, path: str) -> bytes:
    return b"".join(client.download_task_file(p.job_id, "hostile", path))


def test_a_symlink_in_the_path_is_never_followed(client: Any, planted: Planted) -> None:
    for path in ("wd/dir_link/secret.txt", "wd/dir_link/victim/keep.txt"):
        assert isinstance(error(lambda path=path: read(client, planted, path)), ResourceNotFoundError)
        with pytest.raises(ResourceNotFoundError):
            client.get_task_file_properties(planted.job_id, "hostile", path)
    node_path = f"workitems/{planted.job_id}/job-1/hostile/wd/dir_link/secret.txt"
    with pytest.raises(ResourceNotFoundError):
        b"".join(client.download_node_file(planted.pool_id, planted.node_id, node_path))


def test_a_symlink_at_the_end_is_reported_as_itself_and_not_read(client: Any, planted: Planted, endpoint: str) -> None:
    assert error(lambda: read(client, planted, "wd/file_link")).status_code == 409
    assert refusal(endpoint, planted, "wd/file_link") == (409, "FileNotReadable")
    props = client.get_task_file_properties(planted.job_id, "hostile", "wd/file_link")
    assert props.is_directory is False
    assert props.content_length == len(f"{planted.outside}/secret.txt")  # the link's own size

    listing = {f.name: f for f in client.list_task_files(planted.job_id, "hostile", recursive=True)}
    assert "wd/dir_link" in listing and listing["wd/dir_link"].is_directory is False
    assert not [name for name in listing if name.startswith("wd/dir_link/")]  # never listed through


def test_a_fifo_is_refused_at_once_and_the_service_goes_on(client: Any, planted: Planted, endpoint: str) -> None:
    started = time.monotonic()
    assert error(lambda: read(client, planted, "wd/pipe")).status_code == 409
    assert refusal(endpoint, planted, "wd/pipe") == (409, "FileNotReadable")
    assert time.monotonic() - started < 10
    assert client.get_job(planted.job_id).id == planted.job_id


def test_a_hard_link_to_a_file_outside_is_refused(client: Any, planted: Planted, endpoint: str) -> None:
    assert error(lambda: read(client, planted, "wd/hard")).status_code == 409
    assert refusal(endpoint, planted, "wd/hard") == (409, "FileNotReadable")
    assert read(client, planted, "wd/real/f.txt") == b"inside\n"


def test_paths_never_climb_out_of_the_task(client: Any, planted: Planted, endpoint: str) -> None:
    job = planted.job_id
    with pytest.raises(ResourceNotFoundError):
        b"".join(client.download_task_file(job, "hostile", "../other/wd/keep.txt"))
    with pytest.raises(ResourceNotFoundError):
        client.delete_task_file(job, "hostile", "../other/wd/keep.txt")
    with pytest.raises(ResourceNotFoundError):
        client.delete_task_file(job, "hostile", "../", recursive=True)
    with pytest.raises(ResourceNotFoundError):
        client.delete_node_file(planted.pool_id, planted.node_id, "workitems/../../", recursive=True)
    # A bare '..' is a dot segment the client would resolve itself; sent encoded, it is refused.
    raw = Raw(endpoint)
    try:
        node = f"/pools/{planted.pool_id}/nodes/{planted.node_id}"
        for path in (f"/jobs/{job}/tasks/hostile/files/%2E%2E", f"{node}/files/%2E%2E"):
            response = raw.request("DELETE", path, [("recursive", "true")])
            assert response.status_code == 404, response.text
    finally:
        raw.close()
    assert b"".join(client.download_task_file(job, "other", "wd/keep.txt")) == b"keep\n"
    assert client.get_task(job, "hostile").id == "hostile"


def test_the_node_root_itself_cannot_be_deleted(client: Any, planted: Planted, endpoint: str) -> None:
    raw = Raw(endpoint)
    try:
        path = f"/pools/{planted.pool_id}/nodes/{planted.node_id}/files/"
        response = raw.request("DELETE", path, [("recursive", "true")])
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "InvalidUri"
        task_root = f"/jobs/{planted.job_id}/tasks/other/files/"
        assert raw.request("DELETE", task_root, [("recursive", "true")]).status_code == 400
    finally:
        raw.close()
    assert b"".join(client.download_task_file(planted.job_id, "other", "wd/keep.txt")) == b"keep\n"


def test_a_delete_removes_a_symlink_never_what_it_points_to(client: Any, planted: Planted) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.delete_task_file(planted.job_id, "hostile", "wd/victim_link/keep.txt")
    client.delete_task_file(planted.job_id, "hostile", "wd/victim_link", recursive=True)
    with pytest.raises(ResourceNotFoundError):
        client.get_task_file_properties(planted.job_id, "hostile", "wd/victim_link")
    assert (planted.outside / "victim" / "keep.txt").read_text() == "keep"
    assert (planted.outside / "secret.txt").read_bytes() == SECRET


RACER = """
i=0
while [ $i -lt 4000 ] && [ ! -e stop ]; do
  echo safe > swap.f && mv -T swap.f swap
  ln -sfn {outside}/secret.txt swap.l && mv -T swap.l swap
  rm -rf dswap && ln -s {outside}/secretdir dswap
  rm -f dswap && mkdir dswap && echo safe > dswap/f
  i=$((i + 1))
done
"""


def test_a_symlink_swapped_in_a_race_never_leaks(client: Any, planted: Planted) -> None:
    job = planted.job_id
    client.create_task(job, task_options("racer", sh(RACER.format(outside=planted.outside))))
    wait_task(client, job, "racer", state="running")
    answers: dict[str, int] = {}
    for attempt in range(600):
        path = "wd/swap" if attempt % 2 else "wd/dswap/f"
        try:
            data = b"".join(client.download_task_file(job, "racer", path))
            assert SECRET not in data
            kind = "read"
        except HttpResponseError as exc:
            assert SECRET not in (exc.message or "").encode()
            kind = str(exc.status_code)
        answers[kind] = answers.get(kind, 0) + 1
    client.terminate_task(job, "racer")
    assert answers.get("read", 0) > 0, answers  # the race was on: the regular file was read at times
    assert set(answers) <= {"read", "404", "409"}, answers


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_1_gib_download_streams_with_flat_service_memory(client: Any, planted: Planted, server: ChildServer) -> None:
    size = 1 << 30
    client.create_task(planted.job_id, task_options("big", f"truncate -s {size} big"))
    assert wait_task(client, planted.job_id, "big").execution_info.exit_code == 0
    before = _peak_rss(server.process.pid)
    total = 0
    for chunk in client.download_task_file(planted.job_id, "big", "wd/big"):
        total += len(chunk)
    grown = _peak_rss(server.process.pid) - before
    assert total == size
    assert grown < 64 << 20, f"the service's peak memory grew by {grown >> 20} MiB"
    tail = b"".join(client.download_task_file(planted.job_id, "big", "wd/big", ocp_range=f"bytes={size - 10}-"))
    assert tail == b"\0" * 10
