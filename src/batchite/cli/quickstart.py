"""`batchite quickstart`: the first run of a newcomer, through the official azure-batch SDK."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

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


def _generate_inputs(directory: Path, count: int) -> list[Path]:
    rng = random.Random(42)
    paths = []
    for i in range(count):
        path = directory / f"input{i}.txt"
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) for _ in range(rng.randint(3, 12))]
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def run_quickstart(console: Console, endpoint: str, name: str, key: str, file_count: int) -> int:
    from azure.batch import BatchClient
    from azure.batch import models as m
    from azure.core.credentials import AzureNamedKeyCredential

    child: ChildServer | None = None
    if not endpoint:
        default = "http://127.0.0.1:8091"
        if wait_healthy(default, timeout=0.5):
            endpoint = default
        else:
            console.print("No Batchite is running on 127.0.0.1:8091; starting one on a free port...")
            child = start_child_server()
            endpoint = child.endpoint
    name, key = name or DEV_ACCOUNT_NAME, key or DEV_ACCOUNT_KEY
    client = BatchClient(endpoint=endpoint, credential=AzureNamedKeyCredential(name, key))
    console.print(Panel(f"Endpoint {endpoint}\nAccount  {name}", title="Batchite quickstart"))
    work = Path(tempfile.mkdtemp(prefix="batchite-quickstart-"))
    try:
        inputs = _generate_inputs(work, file_count)
        client.create_pool(
            m.BatchPoolCreateOptions(
                id=POOL_ID,
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
        console.print(f"Created pool [bold]{POOL_ID}[/bold] (2 nodes, 2 task slots each)")
        client.create_job(m.BatchJobCreateOptions(id=JOB_ID, pool_info=m.BatchPoolInfo(pool_id=POOL_ID)))
        tasks = [m.BatchTaskCreateOptions(id=f"count-{p.stem}", command_line=f"wc -w {p}") for p in inputs]
        client.create_tasks(JOB_ID, tasks)
        console.print(f"Added job [bold]{JOB_ID}[/bold] with {len(tasks)} tasks, one per generated file")
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task("Running tasks", total=len(tasks))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                counts = client.get_job_task_counts(JOB_ID).task_counts
                progress.update(bar, completed=counts.completed)
                if counts.completed == len(tasks):
                    break
                time.sleep(0.2)
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
        for cleanup in (
            lambda: client.begin_delete_job(JOB_ID, polling_interval=0).result(),
            lambda: client.begin_delete_pool(POOL_ID, polling_interval=0).result(),
        ):
            try:
                cleanup()
            except Exception as exc:  # cleanup is best effort
                console.print(f"[yellow]cleanup: {exc}[/yellow]")
        console.print("Deleted the job and the pool.")
        client.close()
        shutil.rmtree(work, ignore_errors=True)
        if child is not None:
            child.stop()
