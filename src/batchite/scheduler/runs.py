"""Runs on nodes: the run ids the scheduler hands to a backend, and who waits for each to end."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable

from batchite.agent.process import ProcessOutcome

log = logging.getLogger("batchite.scheduler.runs")

OnFinished = Callable[[ProcessOutcome], None]


class RunTable:
    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._waiting: dict[str, OnFinished] = {}

    def new(self, on_finished: OnFinished) -> str:
        """A fresh run id; `on_finished(outcome)` is called once when the backend reports its end."""
        run_id = f"{self._prefix}-{next(self._counter)}"
        self._waiting[run_id] = on_finished
        return run_id

    def adopt(self, run_id: str, on_finished: OnFinished) -> None:
        """After a restart: wait for the end of a run an agent kept running (its id is the old one)."""
        self._waiting[run_id] = on_finished

    def finished(self, run_id: str, outcome: ProcessOutcome) -> None:
        handler = self._waiting.pop(run_id, None)
        if handler is None:
            log.debug("run %s ended, and nobody waits for it any more", run_id)
            return
        handler(outcome)

    def forget(self, run_id: str) -> None:
        self._waiting.pop(run_id, None)

    def __len__(self) -> int:
        return len(self._waiting)
