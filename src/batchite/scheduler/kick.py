"""A request for a dispatch pass at the end of the current callback: many events, one pass."""

from __future__ import annotations

from collections.abc import Callable

from batchite.clock import Clock


class Kick:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._pass: Callable[[], None] | None = None
        self._pending = False

    def bind(self, dispatch_pass: Callable[[], None]) -> None:
        """The pass to run (the dispatcher's); bound once, when the scheduler is put together."""
        self._pass = dispatch_pass

    def __call__(self) -> None:
        if self._pending or self._pass is None:
            return
        self._pending = True
        try:
            self.clock.call_soon(self._run)
        except RuntimeError:  # no event loop (the CLI): nothing runs anyway
            self._pending = False

    def _run(self) -> None:
        self._pending = False
        if self._pass is not None:
            self._pass()
