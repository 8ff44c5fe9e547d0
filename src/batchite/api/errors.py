"""Rendering BatchError as the Batch error body, with the request id and time in the message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from starlette.responses import Response

from batchite.domain.errors import BatchError

JSON_TYPE = "application/json;odata=minimalmetadata"


def error_body(err: BatchError, request_id: str, base_url: str) -> bytes:
    """The Batch error JSON: `code`, `message{lang,value}` (with the request id and time), `values`."""
    now = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    body: dict[str, object] = {
        "odata.metadata": f"{base_url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
        "code": err.code,
        "message": {"lang": "en-US", "value": f"{err.message}\nRequestId:{request_id}\nTime:{now}"},
    }
    if err.values:
        body["values"] = [{"key": k, "value": v} for k, v in err.values]
    return json.dumps(body).encode()


def error_response(err: BatchError, request_id: str, base_url: str, head: bool = False) -> Response:
    headers = {"request-id": request_id}
    if head or err.status == 304:
        return Response(status_code=err.status, headers=headers)
    return Response(
        error_body(err, request_id, base_url), status_code=err.status, media_type=JSON_TYPE, headers=headers
    )
