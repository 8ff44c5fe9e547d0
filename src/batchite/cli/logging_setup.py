"""How `batchite serve` logs: the level of each logger and the format of a line.

`--log-format console` writes `time LEVEL logger: message`; `json` one object per line (time,
level, logger, message, and for an access line the request's fields). One handler on stderr, on
the root logger, which uvicorn's loggers reach too. Whatever the format, a line never shows a
secret: a filter redacts SAS signatures (`sig=`), SharedKey and Bearer credentials and tokens in
every message, and the access line's path already has them redacted (`api/routing.py`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from batchite.settings import Settings

CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "REDACTED"
SECRETS = [
    # a query parameter holding a secret: a SAS signature, a token, a code
    (re.compile(r"(?i)\b(sig|signature|token|access_token|client_secret|code)=[^&\s\"']+"), rf"\1={REDACTED}"),
    # an Authorization header's credentials: SharedKey account:signature, Bearer token, Basic
    (re.compile(r"(?i)\b(SharedKey(?:Lite)?)\s+([^\s:\"']+):[^\s\"']+"), rf"\1 \2:{REDACTED}"),
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # a JSON Web Token anywhere
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
]


def redact(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with its secrets redacted (arguments merged in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update({key: redact(value) if isinstance(value, str) else value for key, value in access.items()})
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else ConsoleFormatter(CONSOLE_FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("azure").setLevel(logging.WARNING)  # azure-storage-blob logs every request at INFO
    access = logging.getLogger("batchite.access")
    access.setLevel(logging.INFO if settings.access_log else logging.WARNING)
    access.disabled = False  # a logging configuration applied later (uvicorn's) must not silence it
    access.propagate = True
