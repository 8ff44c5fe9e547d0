"""The pytest plugin's options: what reaches `batchite serve`, and a clear error for a bad value."""

from __future__ import annotations

import pytest

from batchite.pytest_plugin import QUOTA_FLAGS, PluginOptions, _quotas, _time_scale
from batchite.settings import settings_table


def test_every_quota_name_maps_to_a_serve_flag() -> None:
    flags = {info.flag for info in settings_table()}
    assert set(QUOTA_FLAGS.values()) <= flags
    assert "--time-scale" in flags and "--storage-connection-string" in flags


def test_the_options_become_serve_arguments() -> None:
    options = PluginOptions(time_scale=2.5, quotas=_quotas(["pool=3", " active-job = 0"]), serve_args=("--x", "1"))
    assert options.serve_arguments("UseDevelopmentStorage=true") == [
        "--time-scale", "2.5", "--pool-quota", "3", "--active-job-quota", "0",
        "--storage-connection-string", "UseDevelopmentStorage=true", "--x", "1",
    ]  # fmt: skip
    assert PluginOptions().serve_arguments(None) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "nodes=3",
            "--batchite-quota takes NAME=N with NAME one of pool, dedicated-core, low-priority-core, active-job",
        ),
        ("pool", "--batchite-quota takes NAME=N"),
        ("pool=-1", "--batchite-quota pool must be a whole number of 0 or more, not '-1'"),
        ("pool=2.5", "--batchite-quota pool must be a whole number of 0 or more, not '2.5'"),
    ],
)
def test_a_bad_quota_is_a_usage_error(entry: str, message: str) -> None:
    with pytest.raises(pytest.UsageError, match="^" + message.replace(".", r"\.")):
        _quotas([entry])


@pytest.mark.parametrize("text", ["0", "-2", "fast", "inf", "nan"])
def test_a_bad_time_scale_is_a_usage_error(text: str) -> None:
    with pytest.raises(pytest.UsageError, match=f"--batchite-time-scale must be a positive number, not '{text}'"):
        _time_scale(text)


def test_no_time_scale_leaves_the_default() -> None:
    assert _time_scale("") is None
    assert _time_scale("10") == 10.0
