"""The storage account linked to Batch accounts (auto-storage): resource files by container name,
application packages. Configured by a connection string (`batchite serve
--storage-connection-string`, or BATCHITE_STORAGE_CONNECTION_STRING); Azurite's well-known
development account in the local set-up."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from batchite.storage.blobs import CLIENT_OPTIONS

ENV_VAR = "BATCHITE_STORAGE_CONNECTION_STRING"
# Azurite's published development account; not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_BLOB_PORT = 10000


def azurite_connection_string(host: str = "127.0.0.1", port: int = AZURITE_BLOB_PORT) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT};"
    )


class StorageConfigError(ValueError):
    pass


@dataclass(frozen=True)
class LinkedStorage:
    account_name: str
    account_key: str
    blob_endpoint: str  # e.g. http://127.0.0.1:10000/devstoreaccount1 or https://acc.blob.core.windows.net

    @classmethod
    def parse(cls, connection_string: str) -> LinkedStorage:
        parts: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in connection_string.split(";"))):
            name, sep, value = item.partition("=")
            if not sep:
                raise StorageConfigError(f"expected Name=Value in the connection string, got {item!r}")
            parts[name.strip().lower()] = value.strip()
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            return cls.parse(azurite_connection_string())
        account, key = parts.get("accountname", ""), parts.get("accountkey", "")
        if not account or not key:
            raise StorageConfigError("the connection string needs AccountName and AccountKey")
        endpoint = parts.get("blobendpoint", "")
        if not endpoint:
            protocol = parts.get("defaultendpointsprotocol", "https")
            suffix = parts.get("endpointsuffix", "core.windows.net")
            endpoint = f"{protocol}://{account}.blob.{suffix}"
        return cls(account, key, endpoint.rstrip("/"))

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> LinkedStorage | None:
        value = (env if env is not None else dict(os.environ)).get(ENV_VAR, "").strip()
        return cls.parse(value) if value else None

    @property
    def connection_string(self) -> str:
        return f"AccountName={self.account_name};AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};"

    # -- URLs -----------------------------------------------------------------------------
    def container_url(self, container: str) -> str:
        return f"{self.blob_endpoint}/{container}"

    def blob_url(self, container: str, blob: str) -> str:
        return f"{self.blob_endpoint}/{container}/{quote(blob, safe='/~')}"

    @staticmethod
    def _expiry(hours: float) -> datetime:
        return datetime.now(tz=UTC) + timedelta(hours=hours)

    def container_sas_url(self, container: str, permission: str = "rl", hours: float = 24) -> str:
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        sas = generate_container_sas(
            self.account_name,
            container,
            account_key=self.account_key,
            permission=ContainerSasPermissions.from_string(permission),
            expiry=self._expiry(hours),
            start=datetime.now(tz=UTC) - timedelta(minutes=5),
        )
        return f"{self.container_url(container)}?{sas}"

    def blob_sas_url(self, container: str, blob: str, permission: str = "r", hours: float = 24) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        sas = generate_blob_sas(
            self.account_name,
            container,
            blob,
            account_key=self.account_key,
            permission=BlobSasPermissions.from_string(permission),
            expiry=self._expiry(hours),
            start=datetime.now(tz=UTC) - timedelta(minutes=5),
        )
        return f"{self.blob_url(container, blob)}?{sas}"

    # -- management -------------------------------------------------------------------------
    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(
            account_url=self.blob_endpoint,
            credential={"account_name": self.account_name, "account_key": self.account_key},
            **CLIENT_OPTIONS,
        )

    def create_container(self, container: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        with self.service() as svc, contextlib.suppress(ResourceExistsError):
            svc.create_container(container)

    def delete_container(self, container: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with self.service() as svc, contextlib.suppress(ResourceNotFoundError):
            svc.delete_container(container)

    def blob_size(self, container: str, blob: str) -> int | None:
        """The blob's size in bytes, or None when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        with self.service() as svc:
            try:
                props = svc.get_blob_client(container, blob).get_blob_properties()
            except ResourceNotFoundError:
                return None
            return int(props.size)

    def read_blob_head(self, container: str, blob: str, length: int) -> bytes:
        with self.service() as svc:
            return bytes(svc.get_blob_client(container, blob).download_blob(offset=0, length=length).readall())
