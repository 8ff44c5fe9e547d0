"""stdout.txt and stderr.txt of a task, tailed: the end of each on the page, then what is appended,
pushed as server-sent events while the task runs.

Each log is followed by its byte offset. A push carries the bytes written since the last one,
decoded as UTF-8 (a character cut by the push waits for its last bytes) and escaped as HTML, with
the offsets in the event's id, so a browser that reconnects (Last-Event-ID) goes on where it was.
When more than `TAIL_BYTES` are waiting (a big file, a fast writer), the earlier bytes are skipped
and the log's note says how many. The stream ends with an `end` event once the task has completed
and everything it wrote was sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import StreamingResponse

from batchite.domain.errors import BatchError
from batchite.portal.context import Signed
from batchite.portal.live import KEEPALIVE, event
from batchite.service import BatchService
from batchite.service.files import FileLocation
from batchite.wire.enums import BatchTaskState

TAIL_BYTES = 64 * 1024  # what a page starts with, and the most one push carries
LOGS = ("stdout.txt", "stderr.txt")
INTERVAL = 0.4  # seconds between looks at a running task's logs


def complete_length(data: bytes) -> int:
    """How many leading bytes of `data` end on a UTF-8 character boundary (a cut character's first
    bytes are held back; invalid bytes count as complete, they decode as U+FFFD)."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for its lead
        if byte < 0x80:
            return n
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return n if back >= need else n - back
    return n


def first_boundary(data: bytes) -> int:
    """Where the first whole character starts in bytes that may begin inside one (at most 3 skipped)."""
    skip = 0
    while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
        skip += 1
    return skip


def as_html(data: bytes) -> str:
    """Log bytes as HTML text: UTF-8 with replacement, escaped, carriage returns as entities (an SSE
    line ends at a bare CR)."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return html.escape(text, quote=False).replace("\r", "&#13;")


@dataclass
class Log:
    """One log file being followed."""

    name: str  # stdout.txt
    offset: int = 0  # bytes sent (or skipped) so far
    skipped: int = 0  # bytes never shown (the start of a big file)
    exists: bool = False
    reason: str = ""  # why there is nothing yet (the file is not there)

    @property
    def key(self) -> str:
        return self.name.removesuffix(".txt")


async def read_new(batch: BatchService, account: str, job_id: str, task_id: str, log: Log, final: bool) -> str:
    """What was appended to `log` since its offset (its last TAIL_BYTES at most), as HTML; `final`:
    the task has completed, nothing more comes (a cut character is shown as it is)."""
    try:
        loc = batch.files.task_location(account, job_id, task_id, log.name)
        info = await batch.files.stat(loc)
    except BatchError as err:
        log.exists, log.reason = False, err.code
        return ""
    log.exists, log.reason = True, ""
    if info.size < log.offset:  # truncated or written anew: follow it from its start
        log.offset = 0
    if info.size <= log.offset:
        return ""
    start = max(log.offset, info.size - TAIL_BYTES)
    data = await read_bytes(batch, loc, start, info.size - 1)
    lead = first_boundary(data) if start > log.offset else 0  # skipped to a byte inside a character
    log.skipped += start + lead - log.offset
    body = data[lead:]
    usable = len(body) if final else complete_length(body)
    log.offset = start + lead + usable
    return as_html(body[:usable])


async def read_bytes(batch: BatchService, loc: FileLocation, start: int, end: int) -> bytes:
    """The bytes [start, end] of a file (a bounded range: at most TAIL_BYTES here)."""
    chunks = await batch.files.read(loc, start, end)
    parts: list[bytes] = []
    async for part in chunks:
        parts.append(part)
    return b"".join(parts)


def digest(html_text: str) -> str:
    """A short digest of a fragment (the page tells the stream which summary it shows)."""
    return hashlib.sha256(html_text.encode()).hexdigest()[:16]


def offsets_id(logs: list[Log]) -> str:
    return ",".join(str(log.offset) for log in logs)


def parse_offsets(text: str | None, count: int) -> list[int] | None:
    """Offsets from an event id or query ("123,45"), None if it is not one."""
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != count or not all(p.isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def stream(
    signed: Signed,
    job_id: str,
    task_id: str,
    logs: list[Log],
    summary: Callable[[], Awaitable[str]],
    note: Callable[[Log, str], str],
    shown: str = "",
) -> StreamingResponse:
    """The task's live part: `summary` (its state and execution, when it changes from what the page
    shows, whose digest is `shown`: an unchanged summary is not swapped, so an opened disclosure in
    it stays open), each log's new bytes (`stdout`, `stderr`) and note (`stdout-note`, ...); `end`
    once all is sent after completion."""
    request: Request = signed.request
    batch, account = signed.batch, signed.account
    stopping = signed.portal.stopping

    async def events() -> AsyncIterator[str]:
        sent: dict[str, str] = {}
        quiet = 0.0
        yield "retry: 2000\n\n"
        while not stopping():
            try:
                state = batch.tasks.get(account, job_id, task_id).wire.state
            except BatchError:
                yield event("end", "")
                return
            final = state == BatchTaskState.COMPLETED
            pushed = False
            html_summary = await summary()
            if sent.get("summary", shown) != digest(html_summary):
                sent["summary"] = digest(html_summary)
                pushed = True
                yield event("summary", html_summary)
            for log in logs:
                text = await read_new(batch, account, job_id, task_id, log, final)
                if text:
                    pushed = True
                    yield event(log.key, text, offsets_id(logs))
                said = note(log, state.value)
                if sent.get(log.key + "-note") != said:
                    sent[log.key + "-note"] = said
                    pushed = True
                    yield event(log.key + "-note", said)
            if final:
                yield event("end", "")
                return
            quiet = 0.0 if pushed else quiet + INTERVAL
            if quiet >= KEEPALIVE:
                quiet = 0.0
                yield ": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(INTERVAL)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
