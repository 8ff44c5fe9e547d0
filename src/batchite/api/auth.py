"""SharedKey authentication, verified exactly as the official clients sign.

String to sign: the method, eleven standard header values (empty when absent), every header
whose name contains `ocp-` as `name:value` lines sorted by name, then `/{account}{raw path}`
and each query parameter sorted by its name as sent, `\\nname:value` with the value decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from batchite.clock import parse_http_date
from batchite.domain.errors import BatchError
from batchite.service.accounts import AccountRegistry

SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)
MAX_CLOCK_SKEW = timedelta(minutes=15)


def string_to_sign(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    account: str,
    content_length: str | None = None,
) -> str:
    values = []
    for name in SIGNED_HEADERS:
        value = headers.get(name, "")
        if name == "content-length" and content_length is not None:
            value = content_length
        values.append(value)
    text = "\n".join([method.upper(), *values]) + "\n"
    for name in sorted(n for n in headers if "ocp-" in n and headers[n]):
        text += f"{name}:{headers[name]}\n"
    text += f"/{account}{raw_path}"
    query = parse_qs(raw_query, keep_blank_values=False)
    for name in sorted(query):
        if query[name] and query[name][0]:
            text += f"\n{name}:{query[name][0]}"
    return text


def sign(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def auth_failed(detail: str) -> BatchError:
    return BatchError(
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
        "correctly including the signature.",
        [("AuthenticationErrorDetail", detail)],
    )


def request_time(headers: Mapping[str, str]) -> datetime:
    raw = headers.get("ocp-date") or headers.get("date")
    if not raw:
        raise auth_failed("The request has no ocp-date or Date header; one is required for SharedKey.")
    try:
        return parse_http_date(raw)
    except ValueError as exc:
        raise auth_failed(f"The date '{raw}' is not a valid RFC 1123 date.") from exc


def authenticate(
    accounts: AccountRegistry,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> str:
    """Return the account name a request is signed for, or raise 403 AuthenticationFailed."""
    header = headers.get("authorization", "")
    if not header:
        raise auth_failed("The Authorization header is missing; sign the request with SharedKey.")
    scheme, _, credential = header.partition(" ")
    if scheme != "SharedKey":
        raise auth_failed(f"The authorization scheme '{scheme}' is not supported here; use SharedKey.")
    name, sep, signature = credential.strip().partition(":")
    if not sep or not name or not signature:
        raise auth_failed("The Authorization header must be 'SharedKey account:signature'.")
    account = accounts.get(name)
    if account is None:
        raise auth_failed(f"The account '{name}' does not exist.")
    when = request_time(headers)
    now = now or datetime.now(tz=UTC)
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise auth_failed(
            f"Request date header too old or too far in the future: '{when:%a, %d %b %Y %H:%M:%S GMT}'; "
            "it must be within 15 minutes of the server time."
        )
    lengths: list[str | None] = [None]
    if "content-length" not in headers and method.upper() not in ("GET", "HEAD"):
        lengths.append("0")
    texts = [string_to_sign(method, raw_path, raw_query, headers, name, cl) for cl in lengths]
    for key in account.key_bytes():
        for text in texts:
            if hmac.compare_digest(sign(key, text), signature):
                return name
    raise auth_failed(
        f"The MAC signature found in the HTTP request '{signature}' is not the same as any computed signature. "
        f"Server used following string to sign: '{texts[0]!r}'."
    )
