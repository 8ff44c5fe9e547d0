"""Identifier rules: 1-64 of [A-Za-z0-9_-], nothing before or after (a final newline included)."""

from __future__ import annotations

import pytest

from batchite.domain import applications
from batchite.domain.errors import BatchError
from batchite.domain.ids import check_id


@pytest.mark.parametrize("value", ["p", "Pool_1-a", "x" * 64])
def test_valid_ids_pass(value: str) -> None:
    assert check_id(value) == value


@pytest.mark.parametrize("value", ["", "p1\n", "\np1", "p 1", "p.1", "x" * 65, "p1\r\n", "é"])
def test_invalid_ids_are_400_invalid_property_value(value: str) -> None:
    with pytest.raises(BatchError) as info:
        check_id(value, "jobId")
    assert (info.value.status, info.value.code) == (400, "InvalidPropertyValue")
    assert ("PropertyName", "jobId") in info.value.values


def test_application_ids_and_versions_refuse_a_final_newline() -> None:
    assert applications.APP_ID.match("app-1") and applications.VERSION.match("1.0.2")
    assert not applications.APP_ID.match("app-1\n")
    assert not applications.VERSION.match("1.0\n")
