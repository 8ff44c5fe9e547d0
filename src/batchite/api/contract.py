"""What an operation takes and answers, declared beside its route (`@router.operation(..., Contract(...))`):
its body model, its query options, its status and its response model. `api/openapi.py` builds the
published OpenAPI document from these declarations and the wire models; nothing here changes how a
request is served."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec


class Query(enum.StrEnum):
    """The query options an operation may take besides `api-version` and `timeout` (every one takes those)."""

    FILTER = "$filter"
    SELECTION = "$select"
    EXPAND = "$expand"
    MAX_RESULTS = "maxresults"
    SKIP_TOKEN = "$skiptoken"  # written by the service into odata.nextLink
    RECURSIVE = "recursive"
    FORCE = "force"
    START_TIME = "starttime"
    END_TIME = "endtime"


class Header(enum.StrEnum):
    """The request headers an operation reads besides the signed ones every request has and
    `client-request-id` / `return-client-request-id` (every operation takes those)."""

    IF_MATCH = "If-Match"
    IF_NONE_MATCH = "If-None-Match"
    IF_MODIFIED_SINCE = "If-Modified-Since"
    IF_UNMODIFIED_SINCE = "If-Unmodified-Since"
    OCP_RANGE = "ocp-range"


PAGED = (Query.MAX_RESULTS, Query.SKIP_TOKEN)
LISTED = (*PAGED, Query.FILTER, Query.SELECTION)
LISTED_EXPANDED = (*LISTED, Query.EXPAND)
SHOWN = (Query.SELECTION, Query.EXPAND)
FILE = "application/octet-stream"
CONDITIONAL = (Header.IF_MATCH, Header.IF_NONE_MATCH, Header.IF_MODIFIED_SINCE, Header.IF_UNMODIFIED_SINCE)
FILE_CONDITIONAL = (Header.IF_MODIFIED_SINCE, Header.IF_UNMODIFIED_SINCE)


@dataclass(frozen=True)
class Contract:
    """status: the answer when all goes well; body: the request body's model (body_required: an
    empty body is refused); returns: the response's model, a page of them (`{"value": [...],
    "odata.nextLink"}`) when `page`; content: the media type of a response that is not JSON;
    headers: the request headers it reads (conditions, a byte range)."""

    status: int = 200
    body: type[msgspec.Struct] | None = None
    body_required: bool = True
    query: tuple[Query, ...] = ()
    returns: type[msgspec.Struct] | None = None
    page: bool = False
    content: str | None = None
    headers: tuple[Header, ...] = ()
