"""BatchError: the one exception the domain raises; the API renders it as the Batch error body."""

from __future__ import annotations

from collections.abc import Iterable


class BatchError(Exception):
    """An error with the real service's code, HTTP status and `values` (key/value details)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        values: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.values = list(values)


def not_found(kind: str) -> BatchError:
    names = {
        "pool": ("PoolNotFound", "The specified pool does not exist."),
        "job": ("JobNotFound", "The specified job does not exist."),
        "task": ("TaskNotFound", "The specified task does not exist."),
        "node": ("NodeNotFound", "The specified node does not exist."),
        "jobschedule": ("JobScheduleNotFound", "The specified job schedule does not exist."),
        "application": ("ApplicationNotFound", "The specified application does not exist."),
        "file": ("FileNotFound", "The specified file does not exist."),
    }
    code, msg = names[kind]
    return BatchError(404, code, msg)


def exists(kind: str) -> BatchError:
    names = {
        "pool": ("PoolExists", "The specified pool already exists."),
        "job": ("JobExists", "The specified job already exists."),
        "task": ("TaskExists", "The specified task already exists."),
        "jobschedule": ("JobScheduleExists", "The specified job schedule already exists."),
    }
    code, msg = names[kind]
    return BatchError(409, code, msg)


def invalid_property(name: str, value: object, reason: str | None = None) -> BatchError:
    values = [("PropertyName", name), ("PropertyValue", "" if value is None else str(value))]
    if reason:
        values.append(("Reason", reason))
    return BatchError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        values,
    )


def missing_property(name: str) -> BatchError:
    return BatchError(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        [("PropertyName", name)],
    )


def conflict(code: str, message: str, values: Iterable[tuple[str, str]] = ()) -> BatchError:
    return BatchError(409, code, message, values)


def no_such_route(status: int, method: str, path: str) -> BatchError:
    """What a request to no resource (404 InvalidUri) or with a verb it does not take (405) is answered."""
    if status == 405:
        return BatchError(405, "UnsupportedHttpVerb", f"The resource doesn't support the HTTP verb {method}.")
    return BatchError(
        404, "InvalidUri", "The requested URI does not represent any resource on the server.", [("UriPath", path)]
    )
