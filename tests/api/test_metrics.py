"""/metrics: Prometheus text, unauthenticated, no account names or keys; the numbers move with a
job run through the official SDK."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from batchite import __version__
from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(endpoint: str) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"{endpoint}/metrics", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.headers["x-batchite-version"] == __version__
        text = resp.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def test_metrics_move_with_a_job_run(client: Any, endpoint: str, uid: Any, cleanup: Any) -> None:
    pool_id, job_id = uid("pool"), uid("job")
    _, before = scrape(endpoint)
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_tasks(job_id, [task_options(f"t{i}", f"echo metrics {i}") for i in range(3)])
    wait_for(lambda: all(t.state == "completed" for t in client.list_tasks(job_id)))
    text, after = scrape(endpoint)

    created = value(after, "batchite_requests_total", operation="Tasks_CreateTaskCollection", status="200")
    assert created == value(before, "batchite_requests_total", operation="Tasks_CreateTaskCollection", status="200") + 1
    pools = ("batchite_requests_total", (("operation", "Pools_CreatePool"), ("status", "201")))
    assert after[pools] == before.get(pools, 0.0) + 1
    duration = "batchite_request_duration_seconds_count"
    assert (
        value(after, duration, operation="Pools_CreatePool")
        == value(before, duration, operation="Pools_CreatePool") + 1
    )
    assert value(after, "batchite_tasks_completed_total", result="success") >= (
        value(before, "batchite_tasks_completed_total", result="success") + 3
    )
    assert value(after, "batchite_tasks", state="completed") >= 3
    assert total(after, "batchite_store_commit_duration_seconds_count") > total(
        before, "batchite_store_commit_duration_seconds_count"
    )
    assert total(after, "batchite_store_commit_writes_sum") > total(before, "batchite_store_commit_writes_sum")
    assert total(after, "batchite_task_scheduling_latency_seconds_count") >= (
        total(before, "batchite_task_scheduling_latency_seconds_count") + 3
    )
    # one node, one slot: the first task is spawned on a Start; the others follow it on the agent
    assert total(after, "batchite_agent_spawn_latency_seconds_count") >= (
        total(before, "batchite_agent_spawn_latency_seconds_count") + 1
    )
    nodes = {
        labels: v for (name, labels), v in after.items() if name == "batchite_nodes" and ("pool", pool_id) in labels
    }
    assert sum(nodes.values()) == 1
    assert DEV_ACCOUNT_NAME not in text and DEV_ACCOUNT_KEY not in text


def test_metrics_need_no_signature_and_are_not_in_the_batch_api(endpoint: str) -> None:
    text, samples = scrape(endpoint)  # no Authorization header at all
    assert "# TYPE batchite_requests_total counter" in text
    assert "# TYPE batchite_tasks gauge" in text
    assert not any(name.startswith("python_") or name.startswith("process_") for name, _ in samples)


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    server = start_child_server(tmp_path, env={"BATCHITE_METRICS": "false"})
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server.endpoint}/metrics", timeout=5)
        assert err.value.code == 404
        assert err.value.headers["x-batchite-version"] == __version__
    finally:
        server.stop()
