"""A light HTTP load generator, and the bare endpoint it is compared against (the reads row).

The load: `connections` keep-alive HTTP/1.1 connections in one process on an asyncio loop (uvloop
when installed), each sending GET requests one after the other for `seconds` after a warm-up,
every request SharedKey-signed as the official clients sign (the string to sign of each path is
built once, with its date put in per request, the date changing once a second). Requests and
answers are written and read raw: a request line and four headers, an answer read up to its
Content-Length. It reports requests per second, p50/p99 latency (from writing a request to
reading its answer's last byte), answers that were not 200, and the CPU seconds it used itself
(near `seconds`, it was the bottleneck, not the server).

The bare endpoint: a Starlette application answering a small JSON body on the data plane's task
paths (and the health probe), served by uvicorn as `batchite serve` serves its data plane: the
same http protocol class (LimitedHttpToolsProtocol), logging off, run by the same `serve_all` on
the same event loop (`run_event_loop`: uvloop). If src/batchite/cli/main.py changes its loop or
http options, change `serve_bare` to match.

    python bench/loadgen.py load < spec.json     (spec: see `load`; the result as JSON on stdout)
    python bench/loadgen.py bare --port PORT     (the bare endpoint, until terminated)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DATE_MARK = "\x00date\x00"


@dataclass
class Spec:
    """What to load: `paths` (path and query, as sent) are picked at random for each request."""

    endpoint: str
    paths: list[str]
    connections: int = 32
    seconds: float = 10.0
    warmup: float = 1.0
    account: str = ""  # SharedKey account and key (base64); no Authorization header when empty
    key: str = ""
    seed: int = 15


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    not_ok: int = 0  # answers other than 200, counted apart
    errors: list[str] = field(default_factory=list)  # transport errors, first few
    cpu_seconds: float = 0.0  # the load generator's own CPU time over the whole run
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")

    def summary(self) -> str:
        return (
            f"{self.rate:,.0f} req/s, p50 {self.p50:.2f} ms, p99 {self.p99:.2f} ms, {self.requests} requests, "
            f"{self.not_ok} not 200, {len(self.errors)} errors, load generator CPU {self.cpu_seconds:.1f} s"
        )


def _templates(spec: Spec, host: str) -> list[tuple[str, str]]:
    """Each path's request head with the date and signature left to fill, and its string to sign."""
    from batchite.api.auth import string_to_sign

    out = []
    for path in spec.paths:
        raw_path, _, raw_query = path.partition("?")
        text = string_to_sign("GET", raw_path, raw_query, {"ocp-date": DATE_MARK}, spec.account) if spec.key else ""
        head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nocp-date: {DATE_MARK}\r\n"
        out.append((head, text))
    return out


class _Signer:
    """The request bytes of a path at the current second (the date and signature change once a second)."""

    def __init__(self, spec: Spec, host: str) -> None:
        self.templates = _templates(spec, host)
        self.account = spec.account
        self.key = base64.b64decode(spec.key) if spec.key else b""
        self.second = -1
        self.date = ""

    def request(self, index: int) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second, self.date = now, formatdate(now, usegmt=True)
        head, text = self.templates[index]
        head = head.replace(DATE_MARK, self.date)
        if self.key:
            mac = hmac.new(self.key, text.replace(DATE_MARK, self.date).encode(), hashlib.sha256).digest()
            head += f"Authorization: SharedKey {self.account}:{base64.b64encode(mac).decode()}\r\n"
        return (head + "\r\n").encode()


async def _connection(
    spec: Spec, signer: _Signer, rng: random.Random, start_at: float, end_at: float, result: Result
) -> None:
    parts = urlsplit(spec.endpoint)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    count = len(signer.templates)
    try:
        while True:
            sent = time.perf_counter()
            if sent >= end_at:
                break
            writer.write(signer.request(rng.randrange(count)))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at < 0:
                raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
            length = int(lower[at + 15 : lower.find(b"\r\n", at)])
            if length:
                await reader.readexactly(length)
            done = time.perf_counter()
            if sent >= start_at and done <= end_at:
                result.requests += 1
                result.latencies_ms.append((done - sent) * 1000)
                if status != 200:
                    result.not_ok += 1
    except (OSError, asyncio.IncompleteReadError, RuntimeError) as exc:
        if len(result.errors) < 10:
            result.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _load(spec: Spec) -> Result:
    parts = urlsplit(spec.endpoint)
    signer = _Signer(spec, parts.netloc)
    result = Result()
    start_at = time.perf_counter() + spec.warmup
    end_at = start_at + spec.seconds
    rng = random.Random(spec.seed)
    await asyncio.gather(
        *(
            _connection(spec, signer, random.Random(rng.random()), start_at, end_at, result)
            for _ in range(spec.connections)
        )
    )
    result.seconds = spec.seconds
    return result


def run_load(spec: Spec) -> Result:
    """The load, in this process."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    cpu = time.process_time()
    result = runner(_load(spec))
    result.cpu_seconds = time.process_time() - cpu
    return result


def load(spec: Spec) -> Result:
    """The load, from a process of its own (so that nothing else in the caller competes with it)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), "load"],
        input=json.dumps(asdict(spec)),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}")
    values = json.loads(done.stdout)
    return Result(**values)


def bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def task(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["task"], "state": "completed"})

    async def tasks(request: Request) -> JSONResponse:
        return JSONResponse({"value": [{"id": "t0", "state": "completed"}]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/jobs/{job}/tasks/{task}", task),
            Route("/jobs/{job}/tasks", tasks),
            Route("/_batchite/health", health),
        ]
    )


def serve_bare(port: int) -> None:
    import uvicorn

    from batchite.agent.event_loop import run_event_loop
    from batchite.api.http_limits import LimitedHttpToolsProtocol
    from batchite.cli.management import serve_all

    config = uvicorn.Config(
        bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, http=LimitedHttpToolsProtocol
    )
    run_event_loop(serve_all(uvicorn.Server(config)))


class BareServer:
    """The bare endpoint as a child process on a free port."""

    def __init__(self) -> None:
        from batchite.cli.server import free_port, wait_healthy

        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "bare", "--port", str(port)], stdout=subprocess.DEVNULL
        )
        if not wait_healthy(self.endpoint, process=self.process):
            self.stop()
            raise RuntimeError("the bare endpoint did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def main(argv: list[str]) -> None:
    if argv[:1] == ["load"]:
        spec = Spec(**json.loads(sys.stdin.read()))
        print(json.dumps(asdict(run_load(spec))))
    elif argv[:2] == ["bare", "--port"] and len(argv) == 3:
        serve_bare(int(argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(sys.argv[1:])
