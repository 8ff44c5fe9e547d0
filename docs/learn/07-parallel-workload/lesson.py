"""Lesson 07: an intrinsically parallel workload (a Monte Carlo estimate of pi).

Eight tasks each throw 200,000 random darts at the unit square and count those inside the quarter
circle; a ninth task, which depends on all eight, adds the counts up. This script creates the pool
and job, submits the tasks, waits for the job to finish, downloads every task's stdout, CHECKS the
result (exit 1 if anything is off), draws result.png and deletes what it created.

Run it with `./run` (or `bash docs/learn/run-all 07-parallel-workload`). It talks to the endpoint
in BATCH_ENDPOINT / BATCH_ACCOUNT_NAME / BATCH_ACCOUNT_KEY, by default Batchite's development
account; set the three to your Azure Batch account to run the same thing on Azure.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from azure.batch import BatchClient, models
from azure.core.credentials import AzureNamedKeyCredential

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
ENDPOINT = os.environ.get("BATCH_ENDPOINT", "http://127.0.0.1:8091")
ACCOUNT = os.environ.get("BATCH_ACCOUNT_NAME", "devbatchaccount1")
KEY = os.environ.get(
    "BATCH_ACCOUNT_KEY", "YmF0Y2hpdGUtZGV2ZWxvcG1lbnQta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmZ2hpams="
)

TASKS = 8  # how many pieces the work is split into
SAMPLES = 200_000  # darts per piece
TOLERANCE = 0.01  # how close to pi the merged estimate must be
TIMEOUT = 900.0 if "batch.azure.com" in ENDPOINT else 60.0  # Azure boots a real VM: minutes, not seconds

# A suffix makes every run's ids new, so a second run never meets the first one's pool or job.
RUN = uuid.uuid4().hex[:6]
POOL_ID, JOB_ID = f"learn07-pool-{RUN}", f"learn07-job-{RUN}"
SAMPLE_IDS = [f"sample-{i}" for i in range(TASKS)]
MERGE_ID = "merge"

# Every task, and the start task, runs as the pool's one non-admin auto-user: the files the start task
# and the sample tasks write in the shared directory then belong to the user the merge task runs as.
POOL_USER = models.UserIdentity(
    auto_user=models.AutoUserSpecification(scope=models.AutoUserScope.POOL, elevation_level="nonadmin")
)


def shell(script: str) -> str:
    """A command line run by /bin/sh: Batch does not run command lines in a shell, so $VARIABLES
    (like $AZ_BATCH_NODE_SHARED_DIR) are only expanded when we ask a shell to."""
    return f"/bin/sh -c '{script}'"


def start_task() -> models.BatchStartTask:
    """Runs once on every node as it joins the pool: writes pi_task.py into the node's shared
    directory, where every task on that node finds it. The file travels inside the command line
    (base64, so no quoting trouble); with a storage account you would use a resource file instead."""
    code = base64.b64encode((HERE / "pi_task.py").read_bytes()).decode()
    return models.BatchStartTask(
        command_line=shell(
            'dir="$AZ_BATCH_NODE_SHARED_DIR/pi-lesson" && mkdir -p "$dir/out" && '
            f'echo {code} | base64 -d > "$dir/pi_task.py"'
        ),
        user_identity=POOL_USER,
        wait_for_success=True,  # no task is scheduled on a node before its start task succeeded
    )


def wait_until(what: str, probe: Callable[[], T], timeout: float = TIMEOUT, every: float = 0.5) -> T:
    """Poll `probe` until it returns something truthy (and return that), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := probe()):
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)  # the interval between two polls of the state, not a guess at a duration
    return result


def parse(line: str) -> dict[str, float]:
    """'samples=200000 inside=157144 estimate=3.142880' -> {'samples': 200000.0, ...}"""
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split())}


def plot(estimates: dict[str, float], merged: float, path: Path) -> None:
    """Each task's estimate as a dot, the merged one as a diamond, pi and the tolerance as a band."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("  plot skipped: matplotlib is not installed (./run installs it; or `.venv/bin/pip install matplotlib`)")
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [*estimates, "merged"]
    ax.axhspan(math.pi - TOLERANCE, math.pi + TOLERANCE, color="tab:green", alpha=0.12, label=f"π ± {TOLERANCE}")
    ax.axhline(math.pi, color="black", linestyle="--", linewidth=1, label="π")
    ax.plot(list(estimates), list(estimates.values()), "o", color="tab:blue", label="one task (200,000 samples)")
    ax.plot(["merged"], [merged], "D", color="tab:orange", markersize=10, label="merge task (all samples)")
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_ylim(math.pi - 2.5 * TOLERANCE, math.pi + 2.5 * TOLERANCE)
    ax.set_ylabel("estimate of π")
    ax.set_title(f"{TASKS} tasks x {SAMPLES:,} samples, merged by a task that depends on them")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"  plot saved: {path}")


def main() -> None:
    client = BatchClient(endpoint=ENDPOINT, credential=AzureNamedKeyCredential(ACCOUNT, KEY))
    began = time.monotonic()
    print(f"endpoint {ENDPOINT}, account {ACCOUNT}")
    try:
        # 1. A pool of ONE node with 4 task slots: the shared directory is per node, so the merge
        #    task must run where the sample tasks wrote (see the page for several nodes).
        print(f"1. pool {POOL_ID}: 1 node, 4 task slots, a start task that ships pi_task.py")
        client.create_pool(
            models.BatchPoolCreateOptions(
                id=POOL_ID,
                vm_size="standard_d2s_v3",
                virtual_machine_configuration=models.VirtualMachineConfiguration(
                    image_reference=models.BatchVmImageReference(
                        publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts", version="latest"
                    ),
                    node_agent_sku_id="batch.node.ubuntu 22.04",
                ),
                target_dedicated_nodes=1,
                task_slots_per_node=4,
                start_task=start_task(),
            )
        )

        # 2. A job that allows dependencies (without uses_task_dependencies, depends_on is refused).
        print(f"2. job {JOB_ID}: uses_task_dependencies=True")
        client.create_job(
            models.BatchJobCreateOptions(
                id=JOB_ID, pool_info=models.BatchPoolInfo(pool_id=POOL_ID), uses_task_dependencies=True
            )
        )

        # 3. The split: eight independent tasks (seed i, so each throws different darts) ...
        run_py = 'python3 "$AZ_BATCH_NODE_SHARED_DIR/pi-lesson/pi_task.py"'
        tasks = [
            models.BatchTaskCreateOptions(
                id=task_id, command_line=shell(f"{run_py} sample {i} {SAMPLES}"), user_identity=POOL_USER
            )
            for i, task_id in enumerate(SAMPLE_IDS)
        ]
        # ... and the merge: one task that may only start once all eight have completed.
        tasks.append(
            models.BatchTaskCreateOptions(
                id=MERGE_ID,
                command_line=shell(f"{run_py} merge {' '.join(SAMPLE_IDS)}"),
                depends_on=models.BatchTaskDependencies(task_ids=SAMPLE_IDS),
                user_identity=POOL_USER,
            )
        )
        print(f"3. {TASKS} sample tasks and 1 merge task depending on all of them, in one request")
        result = client.create_task_collection(JOB_ID, models.BatchTaskGroup(task_values=tasks))
        if failed := [r.task_id for r in result.result_values or [] if r.status != "success"]:
            sys.exit(f"FAIL: tasks not added: {failed}")

        # Only now tell the job to end by itself once all its tasks are complete: set at creation,
        # an empty job would count as "all tasks complete" and terminate before the tasks arrive.
        client.update_job(
            JOB_ID, models.BatchJobUpdateOptions(all_tasks_complete_mode=models.BatchAllTasksCompleteMode.TERMINATE_JOB)
        )

        # 4. Wait: the job completes on its own (terminatejob) once every task has completed.
        print("4. waiting for the job to complete ...")

        #    A failed sample task would block the merge for ever, so stop at the first failure.
        def finished() -> bool:
            failed = [t.id for t in client.list_tasks(JOB_ID, filter="executionInfo/result eq 'failure'")]
            if failed:
                sys.exit(f"FAIL: task(s) {failed} failed; see their stderr.txt")
            return client.get_job(JOB_ID).state == "completed"

        wait_until(f"job {JOB_ID} to complete", finished)
        print(f"   done in {time.monotonic() - began:.1f} s since the pool was created")

        # 5. Check every task ran and exited 0, and that the merge started after the last sample ended.
        by_id = {t.id: t for t in client.list_tasks(JOB_ID)}
        runs: dict[str, tuple[dt.datetime, dt.datetime]] = {}  # task id -> (start, end)
        for task_id in [*SAMPLE_IDS, MERGE_ID]:
            info = by_id[task_id].execution_info
            if info is None or info.exit_code != 0 or info.start_time is None or info.end_time is None:
                sys.exit(f"FAIL: task {task_id} did not succeed: {info and info.failure_info}")
            runs[task_id] = (info.start_time, info.end_time)
        last_sample_end = max(runs[t][1] for t in SAMPLE_IDS)
        merge_start = runs[MERGE_ID][0]
        if merge_start < last_sample_end:
            sys.exit(f"FAIL: merge started at {merge_start}, before the last sample ended at {last_sample_end}")
        nodes = {t.node_info.node_id for t in by_id.values() if t.node_info}
        # How many ran side by side: at each task's start, count the tasks running then (4 slots at most).
        at_once = max(sum(start <= s < end for start, end in runs.values()) for s, _ in runs.values())
        if at_once > 4:
            sys.exit(f"FAIL: {at_once} tasks ran at once on a node with 4 slots")
        print(f"5. all {len(runs)} tasks exited 0 on {len(nodes)} node, up to {at_once} at once (4 slots);")
        print("   the merge started after the last sample task ended")

        # 6. Download each task's stdout.txt: the sample counts, and the merge task's result.
        def stdout(task_id: str) -> str:
            return b"".join(client.download_task_file(JOB_ID, task_id, "stdout.txt")).decode()

        print("6. the tasks' stdout.txt:")
        parts = {t: parse(stdout(t).strip()) for t in SAMPLE_IDS}
        for task_id, p in parts.items():
            print(f"   {task_id}: inside={int(p['inside'])} of {int(p['samples'])} -> {p['estimate']:.6f}")
        merge_lines = stdout(MERGE_ID).strip().splitlines()  # one line per part read, then the total
        print(f"   {MERGE_ID} (read {len(merge_lines) - 1} parts from the shared directory): {merge_lines[-1]}")
        merged = parse(merge_lines[-1].removeprefix("merged: "))

        # 7. Check: the merge task added exactly what the sample tasks printed, and the estimate is close.
        inside = sum(int(p["inside"]) for p in parts.values())
        samples = sum(int(p["samples"]) for p in parts.values())
        if (int(merged["inside"]), int(merged["samples"])) != (inside, samples):
            sys.exit(f"FAIL: merge says {merged}, the sample tasks add up to inside={inside} samples={samples}")
        error = abs(merged["estimate"] - math.pi)
        if error > TOLERANCE:
            sys.exit(f"FAIL: estimate {merged['estimate']:.6f} is {error:.4f} from pi (more than {TOLERANCE})")
        print(f"7. OK: {merged['estimate']:.6f} is {error:.5f} from pi (within {TOLERANCE}), sums agree")

        plot({t: p["estimate"] for t, p in parts.items()}, merged["estimate"], HERE / "result.png")
    finally:
        # 8. Clean up: the job (and its tasks), then the pool (and its node).
        for kind, delete, ident in (
            ("job", client.begin_delete_job, JOB_ID),
            ("pool", client.begin_delete_pool, POOL_ID),
        ):
            try:
                delete(ident)  # send the delete, do not wait for it: Azure takes minutes to release a node
                print(f"8. deleting {kind} {ident}")
            except Exception as e:  # cleanup must not hide the lesson's own failure
                print(f"8. could not delete {kind} {ident}: {e}")
    print(f"PASS in {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
