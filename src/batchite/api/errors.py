"""Rendering BatchError as the Batch error body, with the request id and time in the message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from starlette.responses import Response

from batchite.domain.errors import BatchError

JSON_TYPE = "application/json;odata=minimalmetadata"


def error_response(err: BatchError, request_id: str, base_url: str, head: bool = False) -> Response:
    now = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    body: dict[str, object] = {
        "odata.metadata": f"{base_url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
        "code": err.code,
        "message": {"lang": "en-US", "value": f"{err.message}\nRequestId:{request_id}\nTime:{now}"},
    }
    if err.values:
        body["values"] = [{"key": k, "value": v} for k, v in err.values]
    headers = {"request-id": request_id}
    if head or err.status == 304:
        return Response(status_code=err.status, headers=headers)
    return Response(json.dumps(body), status_code=err.status, media_type=JSON_TYPE, headers=headers)
