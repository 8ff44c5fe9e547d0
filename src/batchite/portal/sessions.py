"""Portal sessions: who is signed in, kept server-side.

The browser holds only a random session id in an HttpOnly, SameSite=Strict cookie; the account keys
live here, in memory, and never reach a URL, a log or the browser's storage. A session may hold
several accounts side by side. Every change a page asks for (a POST) must carry the session's CSRF
token; a session ends after `IDLE` without use, and with the server.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

COOKIE = "batchite-portal"
CSRF_HEADER = "x-batchite-csrf"
CSRF_FIELD = "csrf"
IDLE = 8 * 3600.0  # seconds
MAX_SESSIONS = 10_000


@dataclass
class PortalSession:
    id: str
    csrf: str
    accounts: dict[str, str] = field(default_factory=dict)  # account name -> the key it signed in with
    used: float = field(default_factory=time.monotonic)

    def key_of(self, account: str) -> str | None:
        return self.accounts.get(account)

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionStore:
    """Sessions by id; the oldest go when there are too many."""

    def __init__(self, idle: float = IDLE) -> None:
        self.idle = idle
        self._sessions: dict[str, PortalSession] = {}

    def new(self) -> PortalSession:
        self._expire()
        session = PortalSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> PortalSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.used > self.idle:
            del self._sessions[session_id]
            return None
        session.used = now
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self._sessions.values() if now - s.used > self.idle]:
            del self._sessions[sid]
        while len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.used)
            del self._sessions[oldest.id]
