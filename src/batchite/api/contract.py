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


PAGED = (Query.MAX_RESULTS, Query.SKIP_TOKEN)
LISTED = (*PAGED, Query.FILTER, Query.SELECTION)
LISTED_EXPANDED = (*LISTED, Query.EXPAND)
SHOWN = (Query.SELECTION, Query.EXPAND)
FILE = "application/octet-stream"


@dataclass(frozen=True)
class Contract:
    """status: the answer when all goes well; body: the request body's model (body_required: an
    empty body is refused); returns: the response's model, a page of them (`{"value": [...],
    "odata.nextLink"}`) when `page`; content: the media type of a response that is not JSON."""

    status: int = 200
    body: type[msgspec.Struct] | None = None
    body_required: bool = True
    query: tuple[Query, ...] = ()
    returns: type[msgspec.Struct] | None = None
    page: bool = False
    content: str | None = None
