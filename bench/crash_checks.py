"""The figures of the crash bench (`bench/crash.py`) and the checks made at the end of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.batch import BatchClient

JOB = "crash-job"


@dataclass
class Report:
    tasks: int = 0
    kills: int = 0
    seconds: float = 0.0
    accepted: int = 0
    listed: int = 0
    lost: int = 0
    extra: int = 0
    succeeded_twice: int = 0
    not_success: int = 0
    retries: int = 0
    requeues: int = 0
    cut_off_collections: int = 0  # sent, response never received
    cut_off_present: int = 0  # of those, found all there on the check
    partial_collections: int = 0
    task_exists_on_resend: int = 0
    server_errors: int = 0  # 5xx answers seen by any client
    etag_regressions: int = 0
    state_regressions: int = 0
    samples: int = 0
    dependency_violations: int = 0
    counts_agree: bool = False
    integrity: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def verify(client: BatchClient, runs: Path, accepted: set[str], report: Report) -> None:
    listed = {t.id: t for t in client.list_tasks(JOB)}
    report.accepted, report.listed = len(accepted), len(listed)
    expected = {str(i) for i in range(1, report.tasks + 1)}
    report.lost = len(expected - listed.keys())
    report.extra = len(listed.keys() - expected)
    if accepted != expected:
        report.failures.append(f"accepted {len(accepted)} of {len(expected)} tasks")
    if report.lost or report.extra:
        report.failures.append(f"{report.lost} tasks lost, {report.extra} extra")
    for task_id, task in listed.items():
        info = task.execution_info
        lines = [ln.split()[0] for ln in (runs / task_id).read_text().splitlines()] if (runs / task_id).exists() else []
        oks, fails = lines.count("ok"), lines.count("fail")
        report.succeeded_twice += oks > 1
        report.retries += info.retry_count if info else 0
        report.requeues += info.requeue_count if info else 0
        if task.state != "completed" or info is None or info.result != "success" or oks != 1:
            report.not_success += 1
            report.failures.append(f"task {task_id}: {task.state}, {info and info.result}, {oks} ok runs")
        elif fails != info.retry_count:
            report.failures.append(f"task {task_id}: {fails} failed runs, retryCount {info.retry_count}")
        for dep in dependencies_of(task):
            before = listed.get(dep)
            if before is None or not ends_before(before, task):
                report.dependency_violations += 1
                report.failures.append(f"task {task_id} started before its dependency {dep} ended")
    counts = client.get_job_task_counts(JOB).task_counts
    states = [t.state for t in listed.values()]
    results = [t.execution_info.result if t.execution_info else None for t in listed.values()]
    report.counts_agree = (
        counts.completed == states.count("completed")
        and counts.active == states.count("active")
        and counts.running == states.count("running") + states.count("preparing")
        and counts.succeeded == results.count("success")
        and counts.failed == results.count("failure")
    )
    if not report.counts_agree:
        report.failures.append(f"task counts {counts} disagree with the listing")


def dependencies_of(task: Any) -> list[str]:
    dep = task.depends_on
    if dep is None:
        return []
    out = list(dep.task_ids or [])
    for r in dep.task_id_ranges or []:
        out.extend(str(i) for i in range(r.start, r.end + 1))
    return out


def ends_before(dependency: Any, task: Any) -> bool:
    a, b = dependency.execution_info, task.execution_info
    return bool(a and b and a.end_time and b.start_time and a.end_time <= b.start_time)


def print_report(r: Report) -> None:
    print(f"tasks {r.tasks}, kills survived {r.kills}, {r.seconds:.1f} s")
    print(f"accepted {r.accepted}, listed {r.listed}, lost {r.lost}, extra {r.extra}")
    print(f"succeeded twice {r.succeeded_twice}, not completed as success {r.not_success}")
    print(f"retries {r.retries}, requeues {r.requeues}, dependency violations {r.dependency_violations}")
    print(
        f"collections cut off {r.cut_off_collections} (found all there {r.cut_off_present}, "
        f"partial {r.partial_collections}), TaskExists on re-send {r.task_exists_on_resend}"
    )
    print(
        f"5xx seen {r.server_errors}, samples {r.samples}, ETag regressions {r.etag_regressions}, "
        f"state regressions {r.state_regressions}"
    )
    print(f"task counts agree with the listing: {r.counts_agree}")
    print(f"integrity_check: {sorted(set(r.integrity))} over {len(r.integrity)} checks")
    for failure in r.failures[:50]:
        print(f"FAIL {failure}")
    print("OK" if r.ok else f"{len(r.failures)} FAILURES")
