"""`batchite quickstart`: the first run of a newcomer, through the official azure-batch SDK."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from batchite.cli.server import ChildServer, start_child_server, wait_healthy
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

WORDS = [
    "azure",
    "batch",
    "pool",
    "node",
    "job",
    "task",
    "slot",
    "queue",
    "retry",
    "output",
    "input",
    "file",
    "count",
    "word",
    "local",
    "cloud",
]
POOL_ID = "quickstart-pool"
JOB_ID = "quickstart-job"


def generate_inputs(directory: Path, count: int) -> list[Path]:
    rng = random.Random(42)
    # Tasks run as an unprivileged pool user: the inputs must be readable by anyone.
    directory.chmod(0o755)
    paths = []
    for i in range(count):
        path = directory / f"input{i}.txt"
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) for _ in range(rng.randint(3, 12))]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o644)
        paths.append(path)
    return paths


def connect(
    console: Console, endpoint: str, name: str, key: str, server_args: list[str] | None = None
) -> tuple[Any, ChildServer | None, str, str]:
    """A BatchClient on the given endpoint, the default one, or a server started on a free port."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    child: ChildServer | None = None
    if not endpoint:
        default = "http://127.0.0.1:8091"
        if wait_healthy(default, timeout=0.5):
            endpoint = default
        else:
            console.print("No Batchite is running on 127.0.0.1:8091; starting one on a free port...")
            child = start_child_server(extra_args=server_args)
            endpoint = child.endpoint
    name, key = name or DEV_ACCOUNT_NAME, key or DEV_ACCOUNT_KEY
    return BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(name, key)), child, endpoint, name


def create_pool_and_job(console: Console, client: Any, pool_id: str = POOL_ID, job_id: str = JOB_ID) -> None:
    from azure.batch import models as m

    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            virtual_machine_configuration=m.VirtualMachineConfiguration(
                image_reference=m.BatchVmImageReference(
                    publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"
                ),
                node_agent_sku_id="batch.node.ubuntu 22.04",
            ),
            target_dedicated_nodes=2,
            task_slots_per_node=2,
        )
    )
    console.print(f"Created pool [bold]{pool_id}[/bold] (2 nodes, 2 task slots each)")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))


def wait_with_progress(console: Console, client: Any, total: int, job_id: str = JOB_ID, timeout: float = 120.0) -> None:
    """A Rich progress bar over the job's completed tasks, until all of them are done."""
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("Running tasks", total=total)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = client.get_job_task_counts(job_id).task_counts.completed
            progress.update(bar, completed=done)
            if done == total:
                return
            time.sleep(0.2)


def delete_job_and_pool(console: Console, client: Any, pool_id: str = POOL_ID, job_id: str = JOB_ID) -> None:
    for cleanup in (
        lambda: client.begin_delete_job(job_id, polling_interval=0.5).result(),
        lambda: client.begin_delete_pool(pool_id, polling_interval=0.5).result(),
    ):
        try:
            cleanup()
        except Exception as exc:  # cleanup is best effort
            console.print(f"[yellow]cleanup: {exc}[/yellow]")


def run_quickstart(console: Console, endpoint: str, name: str, key: str, file_count: int) -> int:
    from azure.batch import models as m

    client, child, endpoint, name = connect(console, endpoint, name, key)
    console.print(Panel(f"Endpoint {endpoint}\nAccount  {name}", title="Batchite quickstart"))
    work = Path(tempfile.mkdtemp(prefix="batchite-quickstart-"))
    try:
        inputs = generate_inputs(work, file_count)
        create_pool_and_job(console, client)
        tasks = [m.BatchTaskCreateOptions(id=f"count-{p.stem}", command_line=f"wc -w {p}") for p in inputs]
        client.create_tasks(JOB_ID, tasks)
        console.print(f"Added job [bold]{JOB_ID}[/bold] with {len(tasks)} tasks, one per generated file")
        wait_with_progress(console, client, len(tasks))
        failed = 0
        for task in sorted(client.list_tasks(JOB_ID), key=lambda t: t.id):
            output = b"".join(client.download_task_file(JOB_ID, task.id, "stdout.txt")).decode().strip()
            info = task.execution_info
            node = (task.node_info.node_id if task.node_info else None) or "?"
            code = info.exit_code if info else None
            failed += 0 if code == 0 else 1
            words, _, path = output.partition(" ")
            console.print(f"  {task.id}: exit {code} on node {node[:14]}...: {words} words in {Path(path).name}")
        console.print("[green]All tasks succeeded.[/green]" if not failed else f"[red]{failed} task(s) failed.[/red]")
        return 1 if failed else 0
    finally:
        delete_job_and_pool(console, client)
        console.print("Deleted the job and the pool.")
        client.close()
        shutil.rmtree(work, ignore_errors=True)
        if child is not None:
            child.stop()
