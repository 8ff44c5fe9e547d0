"""Bounds on what the HTTP server reads before a request reaches the application.

uvicorn's httptools protocol keeps a request line and headers of any size in memory. This
subclass counts them as they arrive: the request target may be at most `MAX_URL` bytes (414
`RequestUrlTooLong`), the request line and headers together at most `MAX_HEAD` bytes (431
`RequestHeaderTooLarge`). A request the parser cannot read at all is 400 `InvalidHttpRequest`.
Each is answered with the Batch error JSON and the connection is closed: the server stops
sending, reads and drops what the client still sends for a short while (at most `LINGER_BYTES`
or `LINGER_SECONDS`, so that the client reads the answer instead of a reset), then closes. What is
past the limit is never kept in memory.

No official client request comes near these limits: a list with an 8 KB `$filter` has a target
of about 25 KB once percent-encoded, the SDK's headers a few hundred bytes.
"""

from __future__ import annotations

import logging
import re
import uuid

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from batchite import __version__
from batchite.api.errors import JSON_TYPE, error_body
from batchite.domain.errors import BatchError
from batchite.version_header import VERSION_HEADER

log = logging.getLogger("batchite.api")

MAX_URL = 32 * 1024
MAX_HEAD = 64 * 1024
LINGER_BYTES = 4 * 1024 * 1024
LINGER_SECONDS = 2.0
_HOST = re.compile(rb"^[A-Za-z0-9.\-\[\]:]{1,255}$")


def url_too_long(limit: int = MAX_URL) -> BatchError:
    return BatchError(
        414,
        "RequestUrlTooLong",
        "The request URL is longer than the server accepts.",
        [("MaxLimit", str(limit))],
    )


def headers_too_large(limit: int = MAX_HEAD) -> BatchError:
    return BatchError(
        431,
        "RequestHeaderTooLarge",
        "The request line and headers are larger than the server accepts.",
        [("MaxLimit", str(limit))],
    )


def not_http() -> BatchError:
    return BatchError(400, "InvalidHttpRequest", "The request is not a well-formed HTTP/1.1 request.")


class _Refused(Exception):
    """Raised from a parser callback to stop reading a request that is refused."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the request line and headers bounded while they are read."""

    max_url = MAX_URL
    max_head = MAX_HEAD

    _head_open = True  # reading a request line or headers (not a body)
    _head_seen = 0  # bytes of the current head fed to the parser
    _url_seen = 0
    _refusal: BatchError | None = None
    _refused = False
    _dropped = 0

    def data_received(self, data: bytes) -> None:
        if self._refused:  # lingering after a refusal: drop what comes, up to a bound
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        while data and not self._refused:
            if not self._head_open:
                super().data_received(data)
                return
            room = self.max_head - self._head_seen
            piece, data = data[: max(room, 0)], data[max(room, 0) :]
            self._head_seen += len(piece)
            if piece:
                super().data_received(piece)
            if self._refused or self.transport.is_closing():
                return
            if data and self._head_open:  # the head goes on past its limit
                self._refuse(headers_too_large(self.max_head))
                return

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_seen = 0

    def on_url(self, url: bytes) -> None:
        self._url_seen += len(url)
        if self._url_seen > self.max_url:
            self._refusal = url_too_long(self.max_url)
            raise _Refused
        super().on_url(url)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_seen = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open = True

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what the parser refuses (ours included), as the Batch error."""
        refusal, self._refusal = self._refusal, None
        self._refuse(refusal or not_http())

    def _refuse(self, err: BatchError) -> None:
        """Answer `err`, stop sending, drop what still comes for a while, then close."""
        self._refused = True
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:  # a response is under way
            self.transport.close()
            return
        request_id = str(uuid.uuid4())
        body = error_body(err, request_id, self._base_url())
        log.warning("refused a request (%s %s, request %s)", err.status, err.code, request_id)
        lines = [STATUS_LINE[err.status]]
        lines += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: " + JSON_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"request-id: " + request_id.encode() + b"\r\n",
            VERSION_HEADER.encode() + b": " + __version__.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(lines))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _base_url(self) -> str:
        host = next((v for n, v in self.headers or [] if n == b"host"), None)
        if host is not None and _HOST.match(host):
            return f"{self.scheme}://{host.decode('latin-1')}"
        address = self.server or ("localhost", None)
        return f"{self.scheme}://{address[0]}" + (f":{address[1]}" if address[1] else "")
