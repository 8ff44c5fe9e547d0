"""The node protocol on the wire: what the service and a node agent say to each other.

Frames are a 4-byte big-endian length and a msgpack body. On the control connection each frame
holds a batch of messages (a list), so thousands of starts and exits a second pass in a few
frames. File operations each take a connection of their own: one request, one answer, then for a
read the bytes as frames of their own, ended by an empty frame.

The first message of every connection is `Hello` with the agent's token; anything else, or a
wrong token, and the agent closes the connection. Bump VERSION on any change a peer would misread.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgspec

from batchite.agent.container_specs import ContainerSetup
from batchite.agent.identity import NodeUsers
from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.agent.safe_files import FileInfo

VERSION = 1
SUCCESSORS = "successors"  # a feature: Start.after
MAX_FRAME = 16 * 1024 * 1024
_LENGTH = struct.Struct(">I")


class Hello(msgspec.Struct, tag=True):
    version: int
    token: str
    agent_id: str = ""


class Welcome(msgspec.Struct, tag=True):
    """The agent's answer: who it is, its nodes, which runs are still running, and what it can do
    beyond version 1 (`features`: "successors", a Start that waits for another run's end)."""

    version: int
    agent_id: str
    pid: int
    nodes: list[str]
    running: list[str]
    features: list[str] = []


class AddNode(msgspec.Struct, tag=True):
    """Host a node: make its tree (`fresh`: an empty one), then report NodeReady."""

    node_id: str
    account: str
    account_url: str
    pool_id: str
    is_dedicated: bool
    root: str
    users: NodeUsers | None = None
    fresh: bool = False
    containers: ContainerSetup | None = None  # a container-enabled pool: its images are pulled first


class RemoveNode(msgspec.Struct, tag=True):
    """The node leaves: its runs are killed and its tree removed."""

    node_id: str


class Start(msgspec.Struct, tag=True):
    """Run a process; with `after` (a run id), once that run has ended, at once, on its slots
    (if it has already ended, now). Sent only to an agent whose Welcome lists "successors"."""

    node_id: str
    launch: TaskLaunch
    after: str = ""


class Kill(msgspec.Struct, tag=True):
    node_id: str
    run_id: str


class RemoveDirectory(msgspec.Struct, tag=True):
    node_id: str
    relative_dir: str


class Ack(msgspec.Struct, tag=True):
    """These runs' ends are stored: the agent may forget them."""

    run_ids: list[str]


class Stop(msgspec.Struct, tag=True):
    """End the agent; with `kill_runs`, its runs first (otherwise it refuses while runs are on)."""

    kill_runs: bool = True


class NodeReady(msgspec.Struct, tag=True):
    node_id: str


class NodeFailed(msgspec.Struct, tag=True):
    """The node cannot run tasks. With `code` (a node error: a container image that cannot be
    pulled), it stays as it is, unusable; without, its agent is as good as lost."""

    node_id: str
    message: str
    code: str = ""
    details: list[tuple[str, str]] = []


class RunEnded(msgspec.Struct, tag=True):
    run_id: str
    outcome: ProcessOutcome


class Heartbeat(msgspec.Struct, tag=True):
    running: int


Message = (
    Hello
    | Welcome
    | AddNode
    | RemoveNode
    | Start
    | Kill
    | RemoveDirectory
    | Ack
    | Stop
    | NodeReady
    | NodeFailed
    | RunEnded
    | Heartbeat
)


class FileRequest(msgspec.Struct, tag=True):
    """One file operation: stat, list, read, delete (of `path` under `base` of a node's tree)."""

    token: str
    node_id: str
    op: str
    base: str = ""
    path: str = ""
    recursive: bool = False
    start: int | None = None
    end: int | None = None


class FileAnswer(msgspec.Struct, tag=True):
    ok: bool
    reason: str = ""
    message: str = ""
    info: FileInfo | None = None
    infos: list[FileInfo] | None = None


_ENCODER = msgspec.msgpack.Encoder()
_BATCH = msgspec.msgpack.Decoder(list[Message])
_FILE_REQUEST = msgspec.msgpack.Decoder(FileRequest)
_FILE_ANSWER = msgspec.msgpack.Decoder(FileAnswer)


class ProtocolError(Exception):
    pass


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def encode_batch(messages: list[Any]) -> bytes:
    return frame(_ENCODER.encode(messages))


def encode(message: Any) -> bytes:
    return frame(_ENCODER.encode(message))


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body; None at a clean end of the stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("the connection ended inside a frame") from None
        return None
    (size,) = _LENGTH.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"a frame of {size} bytes is over the limit")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError("the connection ended inside a frame") from None


def decode_batch(body: bytes) -> list[Message]:
    try:
        return _BATCH.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not a batch of messages: {exc}") from None


def decode_file_request(body: bytes) -> FileRequest:
    try:
        return _FILE_REQUEST.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not a file request: {exc}") from None


def decode_file_answer(body: bytes) -> FileAnswer:
    try:
        return _FILE_ANSWER.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not a file answer: {exc}") from None
