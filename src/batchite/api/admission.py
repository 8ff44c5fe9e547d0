"""Admission control: beyond a number of requests in flight, `503 ServerBusy` with `Retry-After`.

An ASGI middleware in front of every route. At most `limit` requests are handled at once; up to
`queue` more wait (at most `wait` seconds) for one of them to finish, in arrival order; any other
request is answered at once, without being read, with the Batch error `ServerBusy` and a
`Retry-After` header, which the official clients honour before they retry. A request holds its
place until its response is fully sent (a download included). The health probe and the portal's
pages (`/portal/`, whose live streams stay open as long as a browser shows them) are never held.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from batchite.api.errors import error_response
from batchite.domain.errors import BatchError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BUSY_MESSAGE = "The server is currently unable to receive requests. Please retry your request."
RETRY_AFTER_SECONDS = 1
EXEMPT_PATHS = frozenset({"/_batchite/health", "/metrics"})
EXEMPT_PREFIXES = ("/portal/",)


class Admission:
    """Counts requests in flight and turns away what exceeds the limit and the wait queue."""

    def __init__(self, app: ASGIApp, limit: int, queue: int | None = None, wait: float = 0.5) -> None:
        if limit < 1:
            raise ValueError("the limit of requests in flight is at least 1")
        self.app = app
        self.limit = limit
        self.queue = limit if queue is None else queue
        self.wait = wait
        self.in_flight = 0
        self.waiting = 0
        self.turned_away = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if not await self._acquire():
            self.turned_away += 1
            await self._busy(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _acquire(self) -> bool:
        if self.in_flight < self.limit and not self.waiting:
            self.in_flight += 1
            return True
        if self.waiting >= self.queue or self.wait <= 0:
            return False
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        self.waiting += 1
        try:
            await asyncio.wait_for(asyncio.shield(slot), self.wait)
            return True
        except TimeoutError:
            if slot.done():  # handed over as the wait ran out: keep it
                return True
            slot.cancel()
            return False
        except BaseException:
            if slot.done() and not slot.cancelled():
                self._release()  # a slot was handed to a request that is going away
            slot.cancel()
            raise
        finally:
            self.waiting -= 1

    def _release(self) -> None:
        """The slot goes to the oldest waiter still waiting, or back to the pool."""
        while self._waiters:
            slot = self._waiters.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        self.in_flight -= 1

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        base = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        err = BatchError(503, "ServerBusy", BUSY_MESSAGE)
        response = error_response(err, str(uuid.uuid4()), base, head=scope.get("method") == "HEAD")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if headers.get("client-request-id") and headers.get("return-client-request-id", "").lower() == "true":
            response.headers["client-request-id"] = headers["client-request-id"]
        await response(scope, receive, send)
