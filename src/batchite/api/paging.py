"""List options (maxresults, $skiptoken, $filter) and odata.nextLink; $select is render.py's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import msgspec
from starlette.responses import Response

from batchite.api import render
from batchite.api.request import RequestContext, invalid_query
from batchite.domain.errors import BatchError
from batchite.domain.filters import Filter, evaluate
from batchite.domain.odata import parse_list_filter
from batchite.wire.types import to_builtins

T = TypeVar("T", bound=msgspec.Struct)

MAX_RESULTS = 1000


@dataclass
class ListOptions:
    max_results: int
    after: int
    flt: Filter | None = None

    def matches(self, item: msgspec.Struct) -> bool:
        return self.flt is None or evaluate(self.flt, to_builtins(item))


def list_options(ctx: RequestContext, filterable: str | None = None) -> ListOptions:
    """maxresults, $skiptoken and, for operations that take one, $filter (parsed against FILTERABLE)."""
    raw = ctx.query.get("maxresults")
    max_results = MAX_RESULTS
    if raw is not None:
        try:
            max_results = int(raw)
        except ValueError as exc:
            raise invalid_query("maxresults", raw, "The value must be an integer.") from exc
        if not 1 <= max_results <= MAX_RESULTS:
            raise BatchError(
                400,
                "OutOfRangeQueryParameterValue",
                "One of the query parameters specified in the request URI is outside the permissible range.",
                [
                    ("QueryParameterName", "maxresults"),
                    ("QueryParameterValue", raw),
                    ("Reason", f"The value must be between 1 and {MAX_RESULTS}."),
                ],
            )
    token = ctx.query.get("$skiptoken", "")
    after = 0
    if token:
        if not (token.isascii() and token.isdigit() and len(token) <= 18):  # one the service wrote: an int64
            raise invalid_query("$skiptoken", token, "The continuation token is not valid.")
        after = int(token)
    text = ctx.query.get("$filter")
    flt = parse_list_filter(filterable, text) if text and filterable else None
    return ListOptions(max_results, after, flt)


def next_link(ctx: RequestContext, after: int) -> str:
    params: list[tuple[str, str]] = [("api-version", ctx.api_version)]
    for name in ("maxresults", "$filter", "$select", "$expand", "recursive", "starttime", "endtime"):
        value = ctx.query.get(name)
        if value:
            params.append((name, value))
    params.append(("$skiptoken", str(after)))
    query = "&".join(f"{n}={quote(v, safe='')}" for n, v in params)
    return f"{ctx.base_url}{ctx.request.url.path}?{query}"


def list_response(
    ctx: RequestContext, resource: str, items: Sequence[msgspec.Struct], next_after: int | None
) -> Response:
    return render.listing(ctx, resource, items, next_link(ctx, next_after) if next_after is not None else None)


def slice_items(items: list[T], opts: ListOptions) -> tuple[list[T], int | None]:
    """Filter and page a list that is not stored (images, files): the token is an offset."""
    items = [item for item in items if opts.matches(item)]
    window = items[opts.after : opts.after + opts.max_results]
    more = opts.after + opts.max_results < len(items)
    return window, (opts.after + opts.max_results if more else None)
