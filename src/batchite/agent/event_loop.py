"""The event loop the service and its node agents run on: uvloop (libuv) when it is installed
(it comes with uvicorn[standard]), else asyncio's own.

uvloop's callbacks, timers and socket transports cost about half of asyncio's, which counts at a
thousand tasks a second, each a few messages and callbacks in both processes.
`BATCHITE_EVENT_LOOP=asyncio` picks asyncio's loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    if os.environ.get("BATCHITE_EVENT_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvicorn[standard] brings it
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
