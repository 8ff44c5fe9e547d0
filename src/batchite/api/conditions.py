"""Conditional headers: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.

Allowed alone, or as the pairs If-None-Match + If-Modified-Since (decided by If-None-Match) and
If-Match + If-Unmodified-Since (decided by If-Match); any other mix is a 400. An unmet condition
is 304 on a read for If-None-Match / If-Modified-Since, and 412 otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from batchite.clock import parse_http_date
from batchite.domain.errors import BatchError

CONDITIONAL = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
_PAIRS = ({"if-none-match", "if-modified-since"}, {"if-match", "if-unmodified-since"})


def _strip(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')


def _etag_matches(header: str, etag: str | None) -> bool:
    tags = [_strip(t) for t in header.split(",")]
    if "*" in tags:
        return etag is not None
    return etag is not None and _strip(etag) in tags


def _date(name: str, value: str) -> datetime:
    try:
        return parse_http_date(value)  # asctime and -0000 dates are GMT
    except ValueError as exc:
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The value provided for one of the HTTP headers was not in the correct format.",
            [("HeaderName", name), ("HeaderValue", value)],
        ) from exc


def not_met(status: int) -> BatchError:
    return BatchError(status, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")


def present(headers: Mapping[str, str], allowed: tuple[str, ...] = CONDITIONAL) -> dict[str, str]:
    return {n: headers[n] for n in allowed if headers.get(n)}


def check(
    headers: Mapping[str, str],
    etag: str | None,
    last_modified: datetime | None,
    *,
    read: bool,
    allowed: tuple[str, ...] = CONDITIONAL,
) -> None:
    """Raise the Batch error for an unmet or malformed condition; entity absent: etag None."""
    given = present(headers, allowed)
    if not given:
        return
    names = set(given)
    if len(names) > 1 and names not in _PAIRS:
        raise BatchError(
            400,
            "InvalidHeaderValue",
            "The combination of conditional headers in the request is not supported.",
            [("HeaderName", ", ".join(sorted(names)))],
        )
    stamp = last_modified.replace(microsecond=0) if last_modified else None
    if "if-match" in given:
        if not _etag_matches(given["if-match"], etag):
            raise not_met(412)
        return
    if "if-none-match" in given:
        if _etag_matches(given["if-none-match"], etag):
            raise not_met(304 if read else 412)
        return
    if "if-modified-since" in given:
        when = _date("If-Modified-Since", given["if-modified-since"])
        if stamp is not None and stamp <= when:
            raise not_met(304 if read else 412)
    if "if-unmodified-since" in given:
        when = _date("If-Unmodified-Since", given["if-unmodified-since"])
        if stamp is not None and stamp > when:
            raise not_met(412)
