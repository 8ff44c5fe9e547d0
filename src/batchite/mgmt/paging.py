"""ARM list paging: `{"value": [...], "nextLink": ...}`, `maxresults` and an opaque `$skiptoken`.

A list answers at most `maxresults` items (default and ceiling PAGE_LIMIT); when more follow,
`nextLink` is the absolute URL of the next page: the same path and query with `$skiptoken` set to
where it starts. The generated clients follow `nextLink` as given (adding the api-version again).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from batchite.mgmt.errors import ArmError
from batchite.mgmt.routing import ArmRequest

PAGE_LIMIT = 1000
T = TypeVar("T")


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        offset = -1
        kind = ""
    if kind != "o" or offset < 0:
        raise ArmError(400, "InvalidSkipToken", f"The $skiptoken '{token}' is not valid.", target="$skiptoken")
    return offset


def max_results(req: ArmRequest, ceiling: int = PAGE_LIMIT) -> int:
    """The `maxresults` query parameter (1..ceiling), `ceiling` when absent."""
    raw = req.request.query_params.get("maxresults") or req.request.query_params.get("$top")
    if raw is None or raw == "":
        return ceiling
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ArmError(
            400, "InvalidParameter", f"The value '{raw}' of maxresults must be a positive integer.", target="maxresults"
        )
    return min(value, ceiling)


def paged(req: ArmRequest, items: Sequence[T], render: Callable[[T], Any], ceiling: int = PAGE_LIMIT) -> dict[str, Any]:
    """One page of `items` (in the order given) as ARM's list body, with `nextLink` when more follow."""
    token = req.request.query_params.get("$skiptoken")
    start = _offset(token) if token else 0
    limit = max_results(req, ceiling)
    page = items[start : start + limit]
    body: dict[str, Any] = {"value": [render(item) for item in page]}
    if start + limit < len(items):
        query = [(k, v) for k, v in req.request.query_params.multi_items() if k != "$skiptoken"]
        query.append(("$skiptoken", _token(start + limit)))
        body["nextLink"] = f"{req.base_url}{req.request.url.path}?{urlencode(query)}"
    return body
