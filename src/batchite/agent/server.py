"""The node agent process: `python -m batchite.agent.server --dir DIR ...`, its token on stdin.

It listens on DIR/agent.sock (the directory and the socket are the agent's user's alone), or with
`--listen HOST:PORT` on TCP (a node on another machine, hosted by a Ray actor; every connection
still starts with the token, and port 0 picks a free port, printed on the ready line), runs
the NodeAgent, and outlives the service: a restarted service connects again and hears what
happened meanwhile. It ends when told to (Stop), on SIGTERM (ending its runs first), when the
last node it hosted leaves, or after ORPHAN_TIMEOUT without a service and without runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import logging
import os
import signal
import sys
from pathlib import Path

from batchite.agent.credentials import drop_supplementary_groups
from batchite.agent.event_loop import run_event_loop
from batchite.agent.identity import Isolation
from batchite.agent.node_agent import NodeAgent
from batchite.agent.protocol import (
    SUCCESSORS,
    VERSION,
    Ack,
    AddNode,
    FileAnswer,
    FileRequest,
    Heartbeat,
    Hello,
    Kill,
    Message,
    ProtocolError,
    RemoveDirectory,
    RemoveNode,
    Start,
    Stop,
    Welcome,
    decode_batch,
    decode_file_request,
    encode,
    encode_batch,
    frame,
    read_frame,
)
from batchite.agent.safe_files import BUSY, FileRefused, Tree

log = logging.getLogger("batchite.agent")
HEARTBEAT = 2.0  # seconds between heartbeats to the service
ORPHAN_TIMEOUT = 300.0  # seconds without a service and without runs before the agent ends
SOCKET = "agent.sock"


class AgentServer:
    def __init__(self, state_dir: Path, agent_id: str, token: str, isolation: Isolation, hide: list[str]) -> None:
        self.state_dir = state_dir
        self.agent_id = agent_id
        self.token = token
        self.agent = NodeAgent(state_dir, isolation, hide, self._report)
        self.control: asyncio.StreamWriter | None = None
        self.outbox: list[Message] = []
        self.done = asyncio.Event()
        self._flush_pending = False
        self._alone_since = asyncio.get_running_loop().time()

    # -- reporting ----------------------------------------------------------------------
    def _report(self, message: Message) -> None:
        self.outbox.append(message)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        batch, self.outbox = self.outbox, []
        if self.control is None or self.control.is_closing():
            return  # the ends of runs are replayed from agent.ended when a service connects
        self.control.write(encode_batch(batch))

    # -- connections --------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            body = await read_frame(reader)
            if body is None:
                return
            try:
                first = decode_batch(body)
            except ProtocolError:
                await self._file(decode_file_request(body), writer)
                return
            if not first or not isinstance(first[0], Hello) or not self._authentic(first[0].token):
                return
            await self._control(reader, writer)
        except (ProtocolError, ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("connection ended: %s", exc)
        finally:
            writer.close()

    def _authentic(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.token.encode())

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.control is not None:
            self.control.close()  # a restarted service takes over
        self.control = writer
        self.agent.drop_successors()  # a service that connects knows nothing of the ones queued before
        welcome = Welcome(
            VERSION, self.agent_id, os.getpid(), list(self.agent.nodes), self.agent.running(), [SUCCESSORS]
        )
        writer.write(encode_batch([welcome, *self.agent.unacknowledged()]))
        try:
            while True:
                body = await read_frame(reader)
                if body is None:
                    return
                for message in decode_batch(body):
                    self._command(message)
        finally:
            if self.control is writer:
                self.control = None
                self._alone_since = asyncio.get_running_loop().time()

    def _command(self, message: Message) -> None:
        agent = self.agent
        if isinstance(message, Start):
            agent.start(message.node_id, message.launch, message.after)
        elif isinstance(message, Kill):
            agent.kill(message.run_id)
        elif isinstance(message, Ack):
            agent.ack(message.run_ids)
        elif isinstance(message, AddNode):
            agent.add_node(message)
        elif isinstance(message, RemoveNode):
            agent.remove_node(message.node_id)
            if not agent.nodes:
                self.done.set()  # its last node left
        elif isinstance(message, RemoveDirectory):
            agent.remove_directory(message.node_id, message.relative_dir)
        elif isinstance(message, Stop):
            self.stop(message.kill_runs)
        else:
            log.warning("unexpected message %s", type(message).__name__)

    async def _file(self, request: FileRequest, writer: asyncio.StreamWriter) -> None:
        if not self._authentic(request.token):
            return
        try:
            tree = self.agent.node_tree(request.node_id)
            if request.op == "read":
                fd, info = await asyncio.to_thread(tree.open, request.base, request.path)
                writer.write(encode(FileAnswer(True, info=info)))
                await _stream(fd, info.size, request.start, request.end, writer)
                return
            answer = await asyncio.to_thread(_file_op, tree, request)
        except FileRefused as refused:
            answer = FileAnswer(False, refused.reason, refused.message)
        except BlockingIOError:  # a task holds a lease on it: opening would wait out the lease break
            answer = FileAnswer(False, BUSY, "the file is leased by a process on the node")
        except OSError as exc:
            answer = FileAnswer(False, "failed", str(exc))
        writer.write(encode(answer))
        await writer.drain()

    # -- life ---------------------------------------------------------------------------
    def stop(self, kill_runs: bool) -> None:
        if kill_runs:
            self.agent.stop()
        self.done.set()

    async def tick(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.done.is_set():
            await asyncio.sleep(HEARTBEAT)
            if self.control is not None and not self.control.is_closing():
                self.control.write(encode_batch([Heartbeat(len(self.agent.runs))]))
            elif not self.agent.runs and loop.time() - self._alone_since > ORPHAN_TIMEOUT:
                log.info("no service for %.0f s and nothing running: ending", ORPHAN_TIMEOUT)
                self.stop(kill_runs=True)


def _file_op(tree: Tree, request: FileRequest) -> FileAnswer:
    if request.op == "stat":
        return FileAnswer(True, info=tree.stat(request.base, request.path))
    if request.op == "list":
        return FileAnswer(True, infos=tree.list(request.base, request.recursive))
    if request.op == "delete":
        tree.delete(request.base, request.path, request.recursive)
        return FileAnswer(True)
    return FileAnswer(False, "failed", f"unknown file operation {request.op!r}")


async def _stream(fd: int, size: int, start: int | None, end: int | None, writer: asyncio.StreamWriter) -> None:
    """The bytes [start, end] of an open file, in frames, then an empty frame; flow-controlled."""
    chunk = 256 * 1024
    position = max(0, start or 0)
    last = size - 1 if end is None else min(end, size - 1)
    try:
        while position <= last:
            data = await asyncio.to_thread(os.pread, fd, min(chunk, last - position + 1), position)
            if not data:
                break
            position += len(data)
            writer.write(frame(data))
            await writer.drain()
        writer.write(frame(b""))
        await writer.drain()
    finally:
        os.close(fd)


async def serve(
    state_dir: Path, agent_id: str, token: str, isolation: Isolation, hide: list[str], listen: str = ""
) -> None:
    """Serve until told to end; on DIR/agent.sock, or on TCP at `listen` (HOST:PORT)."""
    server_state = AgentServer(state_dir, agent_id, token, isolation, hide)
    path = state_dir / SOCKET
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    port = 0
    if listen:
        host, _, wanted = listen.rpartition(":")
        server = await asyncio.start_server(server_state.handle, host=host, port=int(wanted))
        port = int(server.sockets[0].getsockname()[1])
    else:
        old = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(server_state.handle, path=str(path))
        finally:
            os.umask(old)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, server_state.stop, True)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # a terminal's Ctrl-C is the service's, not ours
    print(f"ready {os.getpid()} {port}", flush=True)
    with contextlib.suppress(OSError):
        os.close(1)
    ticker = asyncio.create_task(server_state.tick())
    await server_state.done.wait()
    ticker.cancel()
    server.close()
    if server_state.control is not None:
        server_state._flush()
        with contextlib.suppress(ConnectionError):
            await server_state.control.drain()
    server_state.agent.stop()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A Batchite node agent (started by the service).")
    parser.add_argument("--dir", type=Path, required=True, help="the agent's own directory (socket, run records)")
    parser.add_argument("--id", required=True, help="the agent's id")
    parser.add_argument("--isolation", default="none", choices=[i.value for i in Isolation])
    parser.add_argument("--hide", action="append", default=[], help="a directory a sandbox covers")
    parser.add_argument("--listen", default="", help="HOST:PORT to listen on TCP instead of DIR/agent.sock")
    args = parser.parse_args(argv)
    token = sys.stdin.readline().strip()
    sys.stdin.close()
    if not token:
        print("no token on stdin", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s agent %(message)s")
    os.umask(0o007)  # what it writes on nodes (packages, resource files) is for the pool's group too
    drop_supplementary_groups()  # the threads acting for tasks must not keep root's groups
    args.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(args.dir, 0o700)
    run_event_loop(serve(args.dir, args.id, token, Isolation(args.isolation), args.hide, args.listen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
