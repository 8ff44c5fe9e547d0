"""Autoscale through azure-batch 15.1.0, on a server of its own with `--time-scale 60` (a service minute
passes in a wall second): the service samples pool metrics every 30 s of service time (0.5 s here) and
evaluates a formula at enable and then every autoScaleEvaluationInterval (PT5M: 5 s here)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError

from batchite.cli.server import ChildServer, start_child_server
from tests.conftest import make_client, wait_for
from tests.e2e.helpers import POLL, Cleanup
from tests.sdk import job_options, pool_options, task_options

pytestmark = pytest.mark.e2e

# max(0, ...) because the first evaluation (at create) runs before any sample exists, and GetSample(1)
# over an empty history is an empty vector here: min(3, []) would be 3.
PENDING = "$TargetDedicatedNodes = min(3, max(0, $PendingTasks.GetSample(1)));"


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-autoscale"), extra_args=["--time-scale", "60"])
    yield child
    child.stop()


@pytest.fixture(scope="module")
def fclient(fast: ChildServer) -> Iterator[Any]:
    c = make_client(fast.endpoint)
    yield c
    c.close()


@pytest.fixture
def cleanup(fclient: Any) -> Iterator[Cleanup]:
    c = Cleanup(fclient)
    yield c
    c.run()


def autoscale_pool(client: Any, pool_id: str, cleanup: Cleanup, formula: str = PENDING) -> Any:
    options = pool_options(
        pool_id, auto_scale_formula=formula, auto_scale_evaluation_interval=_minutes(5), enable_auto_scale=True
    )
    options.target_dedicated_nodes = None
    client.create_pool(options)
    cleanup("pool", pool_id)
    return client.get_pool(pool_id)


def _minutes(n: int) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def http_error(call: Any) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        call()
    return info.value


def test_pool_grows_with_pending_tasks(fclient: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = uid("grow")
    pool = autoscale_pool(fclient, pool_id, cleanup)
    assert pool.enable_auto_scale is True
    assert pool.auto_scale_formula == PENDING
    # Nothing pending yet: the first evaluation (at create) leaves the pool empty.
    time.sleep(0.3)
    pool = fclient.get_pool(pool_id)
    assert pool.target_dedicated_nodes == 0
    assert pool.current_dedicated_nodes == 0

    job_id = uid("growjob")
    fclient.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    fclient.create_task_collection(
        job_id, m.BatchTaskGroup(task_values=[task_options(f"t{i}", "sleep 2") for i in range(5)])
    )
    # A sample (every 0.5 s) sees 5 pending tasks; the next evaluation (5 s after create) asks for 3 nodes.
    pool = wait_for(lambda: (p := fclient.get_pool(pool_id)).target_dedicated_nodes == 3 and p, timeout=12)
    assert pool.auto_scale_run is not None
    assert "$TargetDedicatedNodes=3" in pool.auto_scale_run.results
    assert pool.auto_scale_run.error is None
    nodes = wait_for(lambda: len(ns := list(fclient.list_nodes(pool_id))) == 3 and ns, timeout=10)
    assert len({n.id for n in nodes}) == 3
    # The new nodes take the pending work.
    wait_for(lambda: len({t.node_info.node_id for t in fclient.list_tasks(job_id) if t.node_info}) >= 2, timeout=10)


def test_evaluate_pool_auto_scale_returns_results_without_applying_them(
    fclient: Any, uid: Any, cleanup: Cleanup
) -> None:
    pool_id = uid("eval")
    autoscale_pool(fclient, pool_id, cleanup, "$TargetDedicatedNodes = 0;")
    run = fclient.evaluate_pool_auto_scale(
        pool_id, m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$x = 2 + 3; $TargetDedicatedNodes = $x;")
    )
    assert run.timestamp is not None
    assert run.error is None
    results = run.results.split(";")
    assert "$TargetDedicatedNodes=5" in results
    assert "$x=5" in results
    pool = fclient.get_pool(pool_id)
    assert pool.target_dedicated_nodes == 0
    assert pool.auto_scale_formula == "$TargetDedicatedNodes = 0;"


def test_evaluate_a_malformed_formula_is_autoscaling_formula_syntax_error(
    fclient: Any, uid: Any, cleanup: Cleanup
) -> None:
    pool_id = uid("bad")
    autoscale_pool(fclient, pool_id, cleanup, "$TargetDedicatedNodes = 0;")
    err = http_error(
        lambda: fclient.evaluate_pool_auto_scale(
            pool_id, m.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = (1 + ;")
        )
    )
    assert err.status_code == 400
    assert err.error.code == "AutoScalingFormulaSyntaxError"


def test_a_formula_over_8192_characters_is_autoscale_formula_too_long(fclient: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = uid("long")
    fclient.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)

    def padded(length: int) -> str:
        head, tail = "$TargetDedicatedNodes =", " 0;"
        return head + " " * (length - len(head) - len(tail)) + tail

    err = http_error(
        lambda: fclient.enable_pool_auto_scale(
            pool_id, m.BatchPoolEnableAutoScaleOptions(auto_scale_formula=padded(8193))
        )
    )
    assert err.status_code == 400
    assert err.error.code == "AutoScaleFormulaTooLong"
    assert fclient.get_pool(pool_id).enable_auto_scale is False
    # The same formula at exactly 8192 characters is fine.
    fclient.enable_pool_auto_scale(pool_id, m.BatchPoolEnableAutoScaleOptions(auto_scale_formula=padded(8192)))
    assert fclient.get_pool(pool_id).enable_auto_scale is True


def test_enable_twice_within_30_service_seconds_is_too_many_requests(fclient: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = uid("twice")
    fclient.create_pool(pool_options(pool_id, dedicated=0))
    cleanup("pool", pool_id)
    enable = m.BatchPoolEnableAutoScaleOptions(
        auto_scale_formula="$TargetDedicatedNodes = 0;", auto_scale_evaluation_interval=_minutes(5)
    )
    started = time.monotonic()
    fclient.enable_pool_auto_scale(pool_id, enable)
    with pytest.raises(HttpResponseError) as info:
        fclient.enable_pool_auto_scale(pool_id, enable)
    assert time.monotonic() - started < 0.5, "the two requests were not within 30 s of service time"
    assert info.value.status_code == 503
    assert info.value.error.code == "TooManyEnableAutoScaleRequests"
    # 0.6 s of wall time is 36 s of service time: enabling again is allowed.
    time.sleep(0.6)
    fclient.enable_pool_auto_scale(
        pool_id, m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 1;")
    )
    pool = wait_for(lambda: (p := fclient.get_pool(pool_id)).target_dedicated_nodes == 1 and p)
    assert pool.auto_scale_formula == "$TargetDedicatedNodes = 1;"


def test_disable_pool_auto_scale_clears_the_formula_and_allows_resize(fclient: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = uid("off")
    autoscale_pool(fclient, pool_id, cleanup, "$TargetDedicatedNodes = 1;")
    wait_for(lambda: (p := fclient.get_pool(pool_id)).current_dedicated_nodes == 1 and p.allocation_state == "steady")
    fclient.disable_pool_auto_scale(pool_id)
    pool = fclient.get_pool(pool_id)
    assert pool.enable_auto_scale is False
    assert pool.auto_scale_formula is None
    assert pool.auto_scale_evaluation_interval is None
    assert pool.target_dedicated_nodes == 1  # the pool keeps its size
    fclient.begin_resize_pool(
        pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=2), polling_interval=POLL
    ).result()
    assert wait_for(lambda: (p := fclient.get_pool(pool_id)).current_dedicated_nodes == 2 and p)


def test_resize_of_an_autoscale_pool_is_a_conflict(fclient: Any, uid: Any, cleanup: Cleanup) -> None:
    pool_id = uid("nores")
    autoscale_pool(fclient, pool_id, cleanup, "$TargetDedicatedNodes = 0;")
    with pytest.raises(ResourceExistsError) as info:
        fclient.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=2), polling_interval=POLL)
    assert info.value.status_code == 409
    pool = fclient.get_pool(pool_id)
    assert pool.target_dedicated_nodes == 0
    assert pool.enable_auto_scale is True
