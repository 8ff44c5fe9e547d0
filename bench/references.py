"""What the rows start, and the references they are measured beside.

- `ray_available()`: whether Ray can be imported here (`bash bench/setup` installs it);
- `start_ray_backend(...)`: a Batchite server whose pools live on a Ray cluster (`--backend ray`);
- `first_answer(...)`: time from a process's launch to its first successful answer, polled tightly;
- the bare Starlette+uvicorn app that answers one route, the reference of the `start` row:
  `bare_command(port)` launches it (`python bench/references.py --port PORT`), served by uvicorn
  the way `batchite serve` serves its data plane (httptools, the default event loop).

Only the standard library is imported at the top, so that running this file as the bare app
costs what a bare app costs.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SETUP_HINT = "Ray is not installed here: run `bash bench/setup`"
BARE_ROUTE = "/ping"


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def start_ray_backend(cluster: Any, data_dir: Path, node_dir: Path, env: dict[str, str]) -> Any:
    """A Batchite server (its data in `data_dir`) serving every pool on the Ray cluster `cluster`
    (ray.cluster_utils.Cluster), node trees under `node_dir`; as bench/throughput.py starts it."""
    from batchite.cli.server import start_child_server

    extra = ["--backend", "ray", "--ray-address", cluster.address, "--ray-node-dir", str(node_dir)]
    return start_child_server(data_dir=data_dir, extra_args=extra, env=env)


def first_answer(
    launch: Callable[[], subprocess.Popen[bytes]],
    answers: Callable[[], bool],
    timeout: float = 30.0,
    pause: float = 0.005,
) -> tuple[float, subprocess.Popen[bytes]]:
    """Seconds from just before `launch()` (which starts the process) to the first `answers()`
    that returns True (an exception counts as no answer yet), polled every `pause` seconds; and
    the process, still running. Raises RuntimeError when the process ends or `timeout` passes."""
    start = time.perf_counter()
    process = launch()
    while True:
        try:
            if answers():
                return time.perf_counter() - start, process
        except Exception:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the process ended with {process.returncode} before answering")
        if time.perf_counter() - start > timeout:
            stop(process)
            raise RuntimeError(f"no answer within {timeout:.0f} s")
        time.sleep(pause)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bare_command(port: int) -> list[str]:
    """The command that serves the bare Starlette app on 127.0.0.1:`port`."""
    return [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]


def bare_answers(port: int) -> bool:
    """One GET of the bare app's route on a new connection: True when it answers 200."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", BARE_ROUTE)
        response = connection.getresponse()
        response.read()
        return response.status == 200
    finally:
        connection.close()


def python_start(repeat: int = 5) -> float:
    """Median seconds of `python -c pass` with this interpreter: the floor under any Python service."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - start)
    return sorted(samples)[len(samples) // 2]


def serve_bare(port: int) -> None:
    """A bare Starlette app answering one route with a small JSON body, served by uvicorn with the
    options `batchite serve` gives its data plane (httptools, no access log, log level warning)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route(BARE_ROUTE, ping)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="httptools")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve the bare Starlette app (the start row's reference).")
    parser.add_argument("--port", type=int, required=True)
    serve_bare(parser.parse_args().port)
