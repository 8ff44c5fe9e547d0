"""kill -9 of the service during a job with dependencies, retries and task collections in flight.

The fast variant of `bench/crash.py` (500 tasks, 4 kills; the bench runs 5,000 and 20): the
service is killed at seeded random moments, the first while a collection is on its way, and
restarted on the same data directory and port; the clients re-send what was cut off. Every task
completes once as success (counted by what ran, not by what the service says), none is lost,
the task counts agree with the listing, no ETag or state goes back, dependencies hold, a
collection cut off is all there or absent, and the SQLite file passes `integrity_check` after
every kill.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_every_task_completes_once_across_kills_of_the_service(tmp_path: Path) -> None:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the bench's scripts import each other as scripts do
    import crash

    lines: list[str] = []
    report = crash.run(
        tasks=500, kills=4, seed=7, uptime=(0.3, 1.0), data_dir=tmp_path / "data", finish_timeout=60, log=lines.append
    )
    assert report.failures == [], (report.failures[:20], lines)
    assert report.kills == 4
    assert (report.accepted, report.listed, report.lost, report.extra) == (500, 500, 0, 0)
    assert report.succeeded_twice == 0 and report.not_success == 0
    assert report.retries == 50  # every 10th task failed its first try, and only that
    assert report.cut_off_collections >= 1 and report.partial_collections == 0
    assert report.server_errors == 0
    assert report.samples >= 1 and report.etag_regressions == 0 and report.state_regressions == 0
    assert report.dependency_violations == 0
    assert report.counts_agree
    assert report.integrity == ["ok"] * 5
