"""The ARM error body, `{"error": {"code", "message", "target"?, "details"?}}`, and the 401 challenge."""

from __future__ import annotations

import msgspec
from starlette.responses import Response


class ArmErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    target: str | None = None


class ArmErrorInfo(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    target: str | None = None
    details: list[ArmErrorDetail] | None = None


class ArmErrorBody(msgspec.Struct):
    error: ArmErrorInfo


class ArmError(Exception):
    """Raised by a handler; answered as the ARM error body with its status."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers: dict[str, str] = {}


def error_response(error: ArmError) -> Response:
    body = ArmErrorBody(ArmErrorInfo(error.code, error.message, error.target))
    return Response(msgspec.json.encode(body), error.status, dict(error.headers), media_type="application/json")


def unauthorized(code: str, message: str, authority: str, tenant_id: str) -> ArmError:
    """401 with the challenge ARM sends: where to get a token, and why this one failed."""
    error = ArmError(401, code, message)
    description = message.replace('"', "'")
    error.headers["WWW-Authenticate"] = (
        f'Bearer authorization_uri="{authority}/{tenant_id}", error="invalid_token", error_description="{description}"'
    )
    return error


def not_found_path(path: str) -> ArmError:
    return ArmError(404, "NotFound", f"The resource path '{path}' is not supported by Batchite's management API.")


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )
