"""The protocol layer: routes, SharedKey, api-version, OData, conditional headers, Batch errors."""

from batchite.api.app import create_app

__all__ = ["create_app"]
