"""How `batchite serve` logs: the level of each logger and the format of a line."""

from __future__ import annotations

import logging

from batchite.settings import Settings


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # azure-storage-blob logs every request at INFO
    logging.getLogger("batchite.access").setLevel(logging.INFO if settings.access_log else logging.WARNING)
