"""`x-batchite-version: <batchite.__version__>` on every HTTP response of the plane it wraps (an
ASGI middleware the data plane and the management plane share; nothing of ours but the version)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from batchite import __version__

VERSION_HEADER = "x-batchite-version"
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class VersionHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (VERSION_HEADER.encode(), __version__.encode())

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_version)
