"""The portal's pure parts: sessions, server-sent event framing, value formatting, safe redirects."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from batchite.portal import sessions as sessions_module
from batchite.portal.context import is_loopback
from batchite.portal.formatting import duration, size, state, when
from batchite.portal.live import event
from batchite.portal.sessions import SessionStore
from batchite.wire.enums import BatchNodeState


def test_sessions_have_random_ids_and_tokens_and_hold_several_accounts() -> None:
    store = SessionStore()
    one, two = store.new(), store.new()
    assert one.id != two.id and one.csrf != two.csrf and len(one.id) >= 40
    one.accounts["a1"] = "k1"
    one.accounts["a2"] = "k2"
    assert store.get(one.id) is one and one.key_of("a2") == "k2"
    assert store.get("not-a-session") is None and store.get(None) is None
    store.end(one.id)
    assert store.get(one.id) is None


def test_the_csrf_token_must_match_exactly() -> None:
    session = SessionStore().new()
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(session.csrf[:-1])
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")


def test_an_idle_session_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SessionStore(idle=60)
    session = store.new()
    now = time.monotonic()
    monkeypatch.setattr(sessions_module.time, "monotonic", lambda: now + 61)
    assert store.get(session.id) is None


def test_the_oldest_sessions_go_when_there_are_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions_module, "MAX_SESSIONS", 3)
    store = SessionStore()
    first = store.new()
    for _ in range(3):
        store.new()
    assert store.get(first.id) is None


def test_an_event_frames_every_line_of_its_fragment() -> None:
    assert event("counts", "<p>1</p>\n<p>2</p>") == "event: counts\ndata: <p>1</p>\ndata: <p>2</p>\n\n"
    assert event("empty", "") == "event: empty\ndata: \n\n"


def test_values_are_written_for_people() -> None:
    assert when(datetime(2026, 12, 1, 15, 4, 5, 123, tzinfo=UTC)) == "2026-12-01 15:04:05Z"
    assert when(None) == "—"
    assert duration(2.54) == "2.5 s"
    assert duration(timedelta(minutes=4, seconds=10)) == "4 m 10 s"
    assert duration(timedelta(hours=3, minutes=5)) == "3 h 05 m"
    assert duration(timedelta(days=3, hours=1)) == "3 d 01 h"
    assert size(512) == "512 B" and size(1536) == "1.5 KiB" and size(5 * 1024**3) == "5.0 GiB"
    assert state(BatchNodeState.IDLE) == "idle" and state(None) == ""


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.4.5.6", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
