"""The core flow through azure-batch 15.1.0: pool, job, tasks, output."""

from __future__ import annotations

from typing import Any

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options


def test_job_runs_end_to_end(client: Any, uid: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    client.create_pool(pool_options(pool_id, dedicated=2))
    client.create_job(job_options(job_id, pool_id))
    client.create_tasks(job_id, [task_options(f"t{i}", f"echo hello {i}") for i in range(5)])
    tasks = wait_for(
        lambda: (
            [t for t in client.list_tasks(job_id) if t.state == "completed"]
            if all(t.state == "completed" for t in client.list_tasks(job_id))
            else None
        )
    )
    assert len(tasks) == 5
    for task in tasks:
        assert task.execution_info.exit_code == 0
        assert task.execution_info.result == "success"
        assert task.node_info.node_id
        out = b"".join(client.download_task_file(job_id, task.id, "stdout.txt")).decode()
        assert out == f"hello {task.id[1:]}\n"
    client.begin_delete_job(job_id, polling_interval=0.1).result()
    client.begin_delete_pool(pool_id, polling_interval=0.1).result()
