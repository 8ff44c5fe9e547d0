"""The node protocol: every message through a length-prefixed msgpack frame and back, batching, partial
reads, and what is refused."""

from __future__ import annotations

import asyncio
import struct
import typing
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from batchite.agent import protocol
from batchite.agent.files import FILE_UPLOAD, OutputFileSpec, PackageSpec, ResourceFileSpec, TaskFailure, TaskStaging
from batchite.agent.identity import NodeUsers, RunAs, UserKind
from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.agent.protocol import (
    MAX_FRAME,
    VERSION,
    Ack,
    AddNode,
    FileAnswer,
    FileRequest,
    Heartbeat,
    Hello,
    Kill,
    NodeFailed,
    NodeReady,
    ProtocolError,
    RemoveDirectory,
    RemoveNode,
    RunEnded,
    Start,
    Stop,
    Welcome,
)
from batchite.agent.safe_files import FileInfo

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
T1 = datetime(2024, 5, 6, 7, 9, 0, tzinfo=UTC)

LAUNCH = TaskLaunch(
    run_id="run-1",
    command_line="/bin/sh -c 'echo hi'",
    job_id="job1",
    task_id="task1",
    relative_dir="workitems/job1/job-1/task1",
    user_environment={"A": "1", "EMPTY": ""},
    extra_environment={"AZ_BATCH_HOST_LIST": "10.0.0.4,10.0.0.5"},
    job_prep_relative_dir="workitems/job1/job-1/jobpreparation",
    staging=TaskStaging(
        resource_files=[ResourceFileSpec(http_url="https://example.test/a.txt", file_path="a.txt", file_mode="0644")],
        output_files=[
            OutputFileSpec("*.txt", "https://acct.blob.test/out?sig=x", "logs", (("x-ms-blob-type", "BlockBlob"),))
        ],
        packages=[PackageSpec("app", "1.0", "https://example.test/app.zip", tag="t1", default_version=True)],
        pre_failure=TaskFailure("preprocessing", "Code", "Message", (("Name", "Value"),)),
    ),
    run_as=RunAs(UserKind.NAMED, True, "Alice"),
)
OUTCOME = ProcessOutcome(
    T0,
    T1,
    0,
    failure=TaskFailure(FILE_UPLOAD, "FileUploadMiscError", "failed", (("FilePattern", "*.txt"),)),
)
INFO = FileInfo("wd/stdout.txt", False, 12, T0, T1, "644")

MESSAGES: list[Any] = [
    Hello(VERSION, "token", "agent-1"),
    Welcome(VERSION, "agent-1", 4242, ["node-1", "node-2"], ["run-1"]),
    AddNode(
        "node-1",
        "acct",
        "https://acct.test",
        "pool1",
        True,
        "/data/nodes/node-1",
        NodeUsers.of_block(2, [("Alice", True), ("bob", False)]),
        fresh=True,
    ),
    AddNode("node-2", "acct", "https://acct.test", "pool1", False, "/data/nodes/node-2"),
    RemoveNode("node-1"),
    Start("node-1", LAUNCH),
    Start("node-1", TaskLaunch("run-2", "/bin/true", "job1", "task2", "workitems/job1/job-1/task2")),
    Kill("node-1", "run-1"),
    RemoveDirectory("node-1", "workitems/job1"),
    Ack(["run-1", "run-2"]),
    Stop(),
    Stop(kill_runs=False),
    NodeReady("node-1"),
    NodeFailed("node-1", "no space left"),
    RunEnded("run-1", OUTCOME),
    RunEnded("run-2", ProcessOutcome(T0, T1, None, "CommandProgramNotFound", "no such file", killed=True)),
    Heartbeat(3),
]


def read_frames(*chunks: bytes) -> list[bytes | None]:
    """Every frame body read_frame returns from a stream fed these chunks, then its None at the end."""

    async def main() -> list[bytes | None]:
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        bodies: list[bytes | None] = []
        while True:
            body = await protocol.read_frame(reader)
            bodies.append(body)
            if body is None:
                return bodies

    return asyncio.run(main())


def one_frame(data: bytes) -> bytes:
    bodies = read_frames(data)
    assert len(bodies) == 2 and bodies[1] is None
    body = bodies[0]
    assert body is not None
    return body


# -- round trips -------------------------------------------------------------------------------------


def test_the_samples_cover_every_message_type() -> None:
    assert {type(message) for message in MESSAGES} == set(typing.get_args(protocol.Message))


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: Any) -> None:
    assert protocol.decode_batch(one_frame(protocol.encode_batch([message]))) == [message]


def test_many_messages_in_one_frame() -> None:
    data = protocol.encode_batch(MESSAGES)
    (size,) = struct.unpack(">I", data[:4])
    assert size == len(data) - 4
    assert protocol.decode_batch(one_frame(data)) == MESSAGES


def test_an_empty_batch() -> None:
    assert protocol.decode_batch(one_frame(protocol.encode_batch([]))) == []


def test_frames_back_to_back() -> None:
    data = b"".join(protocol.encode_batch([message]) for message in MESSAGES)
    bodies = read_frames(data)
    assert bodies[-1] is None
    assert [protocol.decode_batch(body) for body in bodies[:-1] if body is not None] == [[m] for m in MESSAGES]


def test_details_survive_the_wire() -> None:
    [start, ended] = protocol.decode_batch(
        one_frame(protocol.encode_batch([Start("n", LAUNCH), RunEnded("r", OUTCOME)]))
    )
    assert isinstance(start, Start) and isinstance(ended, RunEnded)
    assert start.launch.run_as.kind is UserKind.NAMED
    assert start.launch.staging is not None
    assert start.launch.staging.output_files[0].upload_headers == (("x-ms-blob-type", "BlockBlob"),)
    assert ended.outcome.start_time == T0 and ended.outcome.start_time.tzinfo is not None
    assert ended.outcome.failed_stage == FILE_UPLOAD


@pytest.mark.parametrize(
    "request_",
    [
        FileRequest("token", "node-1", "stat"),
        FileRequest("token", "node-1", "read", "wd", "out/stdout.txt", start=10, end=20),
        FileRequest("token", "node-1", "list", "task", "", recursive=True),
    ],
)
def test_file_request_round_trips(request_: FileRequest) -> None:
    assert protocol.decode_file_request(one_frame(protocol.encode(request_))) == request_


@pytest.mark.parametrize(
    "answer",
    [
        FileAnswer(True, info=INFO),
        FileAnswer(True, infos=[INFO, FileInfo("wd", True, 0, T0, T1, "2770")]),
        FileAnswer(False, "not-found", "no such file"),
    ],
)
def test_file_answer_round_trips(answer: FileAnswer) -> None:
    assert protocol.decode_file_answer(one_frame(protocol.encode(answer))) == answer


# -- framing -----------------------------------------------------------------------------------------


def test_frame_is_a_big_endian_length_then_the_body() -> None:
    assert protocol.frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert protocol.frame(b"") == b"\x00\x00\x00\x00"


def test_an_empty_frame_reads_as_empty_bytes_not_the_end() -> None:
    assert read_frames(protocol.frame(b""), protocol.frame(b"x")) == [b"", b"x", None]


@pytest.mark.parametrize("size", [1, 3, 7])
def test_a_frame_split_across_reads(size: int) -> None:
    data = protocol.encode_batch(MESSAGES[:3])
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert protocol.decode_batch(one_frame(b"".join(chunks))) == MESSAGES[:3]
    bodies = read_frames(*chunks)
    assert bodies[0] is not None and protocol.decode_batch(bodies[0]) == MESSAGES[:3]


def test_read_frame_waits_for_the_rest_of_a_frame() -> None:
    data = protocol.encode_batch([Heartbeat(7)])

    async def main() -> bytes | None:
        reader = asyncio.StreamReader()
        pending = asyncio.ensure_future(protocol.read_frame(reader))
        for i in range(len(data) - 1):
            reader.feed_data(data[i : i + 1])
            await asyncio.sleep(0)  # let the reader run: it must still be waiting
            assert not pending.done()
        reader.feed_data(data[-1:])
        return await pending

    body = asyncio.run(main())
    assert body is not None and protocol.decode_batch(body) == [Heartbeat(7)]


def test_a_clean_end_is_none() -> None:
    assert read_frames() == [None]


@pytest.mark.parametrize("data", [b"\x00\x00", b"\x00\x00\x00\x05abc"], ids=["in-header", "in-body"])
def test_an_end_inside_a_frame_is_an_error(data: bytes) -> None:
    with pytest.raises(ProtocolError, match="inside a frame"):
        read_frames(data)


def test_a_frame_over_the_limit_is_refused_before_its_body() -> None:
    with pytest.raises(ProtocolError, match="over the limit"):
        read_frames(struct.pack(">I", MAX_FRAME + 1))


def test_a_frame_at_the_limit_is_read() -> None:
    assert read_frames(protocol.frame(bytes(MAX_FRAME)))[0] == bytes(MAX_FRAME)


# -- what is refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",  # never valid msgpack
        b"",
        msgspec.msgpack.encode([{"type": "Bogus", "node_id": "n"}]),  # unknown message type
        msgspec.msgpack.encode([{"node_id": "n"}]),  # no type tag
        msgspec.msgpack.encode(Heartbeat(1)),  # a message that is not in a batch
        msgspec.msgpack.encode([{"type": "Heartbeat", "running": "many"}]),  # a field of the wrong type
        msgspec.msgpack.encode([{"type": "Hello", "token": "t"}]),  # no version
        msgspec.msgpack.encode([Heartbeat(1)]) + b"\x00",  # trailing bytes
    ],
)
def test_malformed_batches_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="not a batch of messages"):
        protocol.decode_batch(body)


@pytest.mark.parametrize(
    "body", [b"\xc1", protocol.encode_batch([Heartbeat(1)])[4:], msgspec.msgpack.encode({"type": "FileRequest"})]
)
def test_malformed_file_requests_and_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="not a file request"):
        protocol.decode_file_request(body)
    with pytest.raises(ProtocolError, match="not a file answer"):
        protocol.decode_file_answer(body)


# -- version -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", [Hello(VERSION, "t"), Welcome(VERSION, "a", 1, [], [])], ids=["hello", "welcome"])
def test_the_handshake_carries_the_version(message: Any) -> None:
    raw = msgspec.msgpack.decode(one_frame(protocol.encode_batch([message])))
    assert raw[0]["type"] == type(message).__name__
    assert raw[0]["version"] == VERSION
    assert isinstance(VERSION, int) and VERSION >= 1


def test_a_peer_of_another_version_is_decoded_so_that_it_can_be_told_apart() -> None:
    [hello] = protocol.decode_batch(msgspec.msgpack.encode([{"type": "Hello", "version": VERSION + 1, "token": "t"}]))
    assert hello == Hello(VERSION + 1, "t")
