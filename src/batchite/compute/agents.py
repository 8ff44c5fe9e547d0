"""The service's side of node agent processes: starting them, their control connections, their
file operations.

An `AgentLink` is one agent process: commands are batched per loop tick into one frame, written
only once what the scheduler stored before them is on disk (so a crash of the service never
leaves an agent running what the store does not know), reports come back as batches, and every
run end is acknowledged once the service has stored it (the durability barrier the backend is
given). A link that goes quiet (no heartbeat for
SILENCE_LIMIT) or whose connection ends is lost: its `on_lost` tells the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from batchite.agent.protocol import (
    VERSION,
    Ack,
    FileAnswer,
    FileRequest,
    Hello,
    Message,
    ProtocolError,
    RunEnded,
    Welcome,
    decode_batch,
    decode_file_answer,
    encode,
    encode_batch,
    read_frame,
)
from batchite.agent.server import SOCKET

log = logging.getLogger("batchite.compute.agents")
SILENCE_LIMIT = 30.0  # seconds without a heartbeat (or anything) before an agent counts as lost
START_TIMEOUT = 30.0  # seconds for a new agent process to listen


def agent_token(directory: Path) -> str:
    """The secret every connection to an agent starts with, kept in the agents' directory (0600)."""
    path = directory / "token"
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    return token


# What an agent inherits from the service: the locale, where Python finds Batchite, and coverage's
# settings when the tests measure it. Nothing else (no accounts, keys or connection strings).
AGENT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")


def agent_command(
    directory: Path, agent_id: str, isolation: str, hide: list[str], listen: str = ""
) -> tuple[list[str], dict[str, str]]:
    """The command line and the clean environment of a node agent process."""
    env = {k: v for k, v in os.environ.items() if k in AGENT_ENVIRONMENT}
    args = [sys.executable, "-m", "batchite.agent.server", "--dir", str(directory), "--id", agent_id]
    args += ["--isolation", isolation, *(a for h in hide for a in ("--hide", h))]
    if listen:
        args += ["--listen", listen]
    return args, env


async def start_agent_process(directory: Path, agent_id: str, token: str, isolation: str, hide: list[str]) -> int:
    """Start an agent in its own session (it outlives the service) with a clean environment;
    return its pid once it listens."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    args, env = agent_command(directory, agent_id, isolation, hide)
    with open(directory / "agent.log", "ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            env=env,
            start_new_session=True,
            cwd="/",
        )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(token.encode() + b"\n")
    await process.stdin.drain()
    process.stdin.close()
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
    except TimeoutError:
        line = b""
    if not line.startswith(b"ready"):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        tail = (directory / "agent.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the node agent {agent_id} did not start: {tail}")
    return process.pid


class AgentLink:
    def __init__(
        self,
        agent_id: str,
        directory: Path,
        token: str,
        on_message: Callable[[AgentLink, Message], None],
        on_lost: Callable[[AgentLink, str], None],
        durable: Callable[[], Awaitable[None]],
        tcp: tuple[str, int] | None = None,
    ) -> None:
        """directory: the agent's own (its socket DIR/agent.sock); tcp: (host, port) of an agent on
        another machine instead (hosted by a Ray actor)."""
        self.agent_id = agent_id
        self.directory = directory
        self.tcp = tcp
        self.host: Any = None  # what hosts the agent elsewhere (the Ray backend: its actor)
        self.token = token
        self.on_message = on_message
        self.on_lost = on_lost
        self.durable = durable
        self.writer: asyncio.StreamWriter | None = None
        self.welcome: Welcome | None = None
        self.nodes: set[str] = set()  # the node ids it hosts (as the service knows them)
        self._outbox: list[Message] = []
        self._flush_pending = False
        self._sealed: list[list[Message]] = []  # batches waiting until what led to them is stored
        self._sender: asyncio.Task[None] | None = None
        self._to_ack: list[str] = []
        self._ack_pending = False
        self._reader_task: asyncio.Task[None] | None = None
        self._closing = False
        self.lost = False

    @property
    def socket(self) -> str:
        return str(self.directory / SOCKET)

    async def _open(self, limit: int = 2**16) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.tcp is not None:
            return await asyncio.open_connection(*self.tcp, limit=limit)
        return await asyncio.open_unix_connection(self.socket, limit=limit)

    # -- connecting ---------------------------------------------------------------------
    async def connect(self) -> Welcome:
        """Open the control connection; the agent answers with what it hosts and runs, then
        replays the ends of runs not yet acknowledged."""
        reader, writer = await self._open(limit=2**20)
        writer.write(encode_batch([Hello(VERSION, self.token, self.agent_id)]))
        body = await asyncio.wait_for(read_frame(reader), START_TIMEOUT)
        if body is None:
            raise ConnectionError(f"the agent {self.agent_id} closed the connection (a wrong token?)")
        first = decode_batch(body)
        if not first or not isinstance(first[0], Welcome):
            raise ProtocolError("the agent did not answer with Welcome")
        self.welcome = first[0]
        if self.welcome.version != VERSION:
            writer.close()
            raise ProtocolError(f"the agent speaks version {self.welcome.version}, not {VERSION}")
        self.writer = writer
        for message in first[1:]:
            self._dispatch(message)
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
        self._seal()
        return self.welcome

    async def _read(self, reader: asyncio.StreamReader) -> None:
        reason = "its connection ended"
        try:
            while True:
                body = await asyncio.wait_for(read_frame(reader), SILENCE_LIMIT)
                if body is None:
                    break
                for message in decode_batch(body):
                    self._dispatch(message)
        except TimeoutError:
            reason = f"it sent nothing for {SILENCE_LIMIT:.0f} s"
        except (ProtocolError, ConnectionError, OSError) as exc:
            reason = f"its connection failed: {exc}"
        if not self._closing:
            self.lost = True
            self.on_lost(self, reason)

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, RunEnded):
            self._to_ack.append(message.run_id)
            if not self._ack_pending:
                self._ack_pending = True
                asyncio.get_running_loop().create_task(self._ack())
        self.on_message(self, message)

    async def _ack(self) -> None:
        """Once what the scheduler made of these ends is on disk, the agent may forget them.
        Only the ends handled before the wait are acknowledged: one that arrives while the commit
        is awaited may be written after it, and waits for a commit of its own."""
        await asyncio.sleep(0)
        run_ids, self._to_ack = self._to_ack, []
        self._ack_pending = False
        await self.durable()
        if run_ids:
            self.send(Ack(run_ids))

    # -- commands -----------------------------------------------------------------------
    def send(self, message: Message) -> None:
        self._outbox.append(message)
        if not self._flush_pending and self.writer is not None:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._seal)

    def _seal(self) -> None:
        """What this tick queued becomes one batch, written once what the scheduler stored before
        it is on disk: an agent never acts on a command (a start above all) that a crash of the
        service could make it forget, which would run a task twice."""
        self._flush_pending = False
        if not self._outbox:
            return
        batch, self._outbox = self._outbox, []
        self._sealed.append(batch)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_sealed())

    async def _send_sealed(self) -> None:
        while self._sealed:
            count = len(self._sealed)  # a batch sealed during the wait waits for a commit of its own
            await self.durable()
            batches, self._sealed = self._sealed[:count], self._sealed[count:]
            if self.writer is None or self.writer.is_closing():
                return
            for batch in batches:
                self.writer.write(encode_batch(batch))

    def _flush(self) -> None:
        """Everything queued, at once (the link is closing: the service stops)."""
        self._flush_pending = False
        batches, self._sealed = [*self._sealed, self._outbox], []
        self._outbox = []
        if self.writer is None or self.writer.is_closing():
            return
        for batch in batches:
            if batch:
                self.writer.write(encode_batch(batch))

    async def close(self) -> None:
        """Leave the agent running (it serves the next service); stop listening to it."""
        self._closing = True
        self._flush()
        if self.writer is not None:
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.drain()
            self.writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()

    # -- files --------------------------------------------------------------------------
    async def file(self, request: FileRequest) -> FileAnswer:
        reader, writer = await self._open()
        try:
            writer.write(encode(request))
            body = await read_frame(reader)
            if body is None:
                raise ConnectionError("the agent closed the file connection")
            return decode_file_answer(body)
        finally:
            writer.close()

    async def read(self, request: FileRequest) -> tuple[FileAnswer, AsyncIterator[bytes]]:
        """A read: the answer (with the file's info), then its bytes as they come."""
        reader, writer = await self._open()
        writer.write(encode(request))
        body = await read_frame(reader)
        if body is None:
            writer.close()
            raise ConnectionError("the agent closed the file connection")
        answer = decode_file_answer(body)
        if not answer.ok:
            writer.close()

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    data = await read_frame(reader)
                    if not data:
                        return
                    yield data
            finally:
                writer.close()

        return answer, chunks()
