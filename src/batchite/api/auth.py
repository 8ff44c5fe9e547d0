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
from urllib.parse import parse_qs, parse_qsl

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


def _unambiguous(raw_query: str, headers: Mapping[str, str], repeated_headers: set[str]) -> None:
    """What a signature covers must have one meaning: a parameter given twice (the signature
    covers the first value, a handler might read the last), a signed header given twice, or a
    chunked body (its length is not what was signed) is refused."""
    seen: set[str] = set()
    for name, _value in parse_qsl(raw_query, keep_blank_values=True):
        key = name.lower()
        if key in seen:
            raise auth_failed(f"The query parameter '{name}' is given more than once.")
        seen.add(key)
    for name in sorted(repeated_headers):
        if name == "authorization" or name in SIGNED_HEADERS or "ocp-" in name:
            raise auth_failed(f"The header '{name}' is given more than once.")
    if "transfer-encoding" in headers:
        raise auth_failed("A request body must be sent with Content-Length: a chunked body is not signed.")


def authenticate(
    accounts: AccountRegistry,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    now: datetime | None = None,
    repeated_headers: set[str] | None = None,
) -> str:
    """Return the account name a request is signed for, or raise 403 AuthenticationFailed.

    An unknown account is answered as a wrong signature is: the answer never tells whether an
    account exists."""
    header = headers.get("authorization", "")
    if not header:
        raise auth_failed("The Authorization header is missing; sign the request with SharedKey.")
    scheme, _, credential = header.partition(" ")
    if scheme != "SharedKey":
        raise auth_failed(f"The authorization scheme '{scheme}' is not supported here; use SharedKey.")
    name, sep, signature = credential.partition(":")
    if not sep or not name or not signature or credential != credential.strip() or " " in credential:
        raise auth_failed("The Authorization header must be 'SharedKey account:signature'.")
    _unambiguous(raw_query, headers, repeated_headers or set())
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
    account = accounts.get(name)
    for key in account.key_bytes() if account is not None else ():
        for text in texts:
            if hmac.compare_digest(sign(key, text), signature):
                return name
    raise auth_failed(
        f"The MAC signature found in the HTTP request '{signature}' is not the same as any computed signature. "
        f"Server used following string to sign: '{texts[0]}'."
    )
