"""Server-sent events for live pages: named HTML fragments pushed when they change.

Each source is rendered every `interval` seconds; an event goes only when its fragment differs from
the last one sent, so an idle page costs one render per source per interval and no traffic. The
stream ends when the browser goes away or the server shuts down (the browser reconnects by itself).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import StreamingResponse

from batchite.portal.context import portal_of

Source = Callable[[], str | Awaitable[str]]
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing an idle stream


def event(name: str, html: str, event_id: str | None = None) -> str:
    """One event; every line of `html` kept (a trailing newline too: the browser joins the data
    lines with newlines). A bare CR, which would end an event's line, is written as `&#13;`."""
    text = html.replace("\r\n", "\n").replace("\r", "&#13;")
    data = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {name}\n{data}" + (f"id: {event_id}\n" if event_id is not None else "") + "\n"


async def _render(source: Source) -> str:
    value = source()
    if inspect.isawaitable(value):
        return await value
    return value


def stream(request: Request, sources: Mapping[str, Source], interval: float = 1.0) -> StreamingResponse:
    portal = portal_of(request)

    async def events() -> AsyncIterator[str]:
        last: dict[str, str] = {}
        quiet = 0.0
        yield "retry: 2000\n\n"
        while not portal.stopping():
            sent = False
            for name, source in sources.items():
                html = await _render(source)
                if last.get(name) != html:
                    last[name] = html
                    sent = True
                    yield event(name, html)
            quiet = 0.0 if sent else quiet + interval
            if quiet >= KEEPALIVE:
                quiet = 0.0
                yield ": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
