"""A development token issuer: Entra-shaped RS256 access tokens for a well-known tenant and client.

The tenant id, client id and client secret below are published (README, `batchite serve`'s
banner) like the development account's key: they are not secrets. The signing key is an RSA key
made on first start in `DATA_DIR/tls/token-signing-key.pem` (0600) and reused, so that tokens
outlive a restart and `batchite token` can sign one without the server.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from batchite.mgmt.tls import tls_dir, write_private

DEV_TENANT_ID = "ba7c1e00-0000-4000-8000-000000000001"
DEV_CLIENT_ID = "ba7c1e00-0000-4000-8000-000000000002"
DEV_CLIENT_SECRET = "batchite-development-client-secret"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
MANAGEMENT_AUDIENCES = (
    "https://management.azure.com/",
    "https://management.azure.com",
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
)
TOKEN_LIFETIME = 3599  # seconds, as Entra's client-credentials tokens
SIGNING_KEY_FILE = "token-signing-key.pem"
_NAMESPACE = uuid.UUID("ba7c1e00-0000-4000-8000-0000000000ff")


class TokenError(Exception):
    """Why a bearer token is refused; `code` is the ARM error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def audience_of(scope: str) -> str:
    """`https://management.azure.com/.default` -> `https://management.azure.com/`; the Azure CLI's
    `https://management.core.windows.net//.default` (its resource id, which ends in `/`, then
    `/.default`) -> `https://management.core.windows.net/`, as Entra reads it."""
    first = scope.split()[0] if scope.split() else ""
    if first.endswith("//.default"):
        return first.removesuffix("/.default")
    return first.removesuffix(".default") if first.endswith("/.default") else first


def object_id_of(client_id: str) -> str:
    """The service principal's object id: stable per client id."""
    return str(uuid.uuid5(_NAMESPACE, client_id.lower()))


def load_or_create_signing_key(data_dir: Path) -> rsa.RSAPrivateKey:
    directory = tls_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SIGNING_KEY_FILE
    if path.is_file():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(path, pem)
    return key


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str


class ClientConfigError(ValueError):
    pass


def parse_clients(spec: str) -> tuple[Client, ...]:
    """The development client and those of "client-id:secret;client-id2:secret2" (as BATCHITE_ACCOUNTS)."""
    clients = {DEV_CLIENT_ID: Client(DEV_CLIENT_ID, DEV_CLIENT_SECRET)}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        client_id, sep, secret = part.partition(":")
        if not sep or not client_id.strip() or not secret:
            raise ClientConfigError(f"expected client-id:secret, got {client_id.strip() or part[:8]!r}...")
        clients[client_id.strip()] = Client(client_id.strip(), secret)
    return tuple(clients.values())


@dataclass
class TokenIssuer:
    """Issues and verifies tokens for one authority (`https://HOST:PORT`)."""

    key: rsa.RSAPrivateKey
    authority: str  # https://127.0.0.1:8443, no trailing slash
    tenant_id: str = DEV_TENANT_ID
    clients: tuple[Client, ...] = (Client(DEV_CLIENT_ID, DEV_CLIENT_SECRET),)

    @property
    def issuer(self) -> str:
        return f"{self.authority}/{self.tenant_id}/v2.0"

    @property
    def key_id(self) -> str:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:15]).decode()

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "kid": self.key_id, "n": _b64(numbers.n), "e": _b64(numbers.e)}
        return {"keys": [jwk]}

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id.lower() == client_id.lower()), None)

    def issue(self, client_id: str, audience: str, *, now: float | None = None, lifetime: int = TOKEN_LIFETIME) -> str:
        issued = int(time.time() if now is None else now)
        oid = object_id_of(client_id)
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "tid": self.tenant_id,
            "oid": oid,
            "sub": oid,
            "azp": client_id,
            "appid": client_id,
            "idtyp": "app",
            "ver": "2.0",
            "uti": uuid.uuid4().hex[:22],
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.key_id})

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """The token's claims, or TokenError with the code ARM answers."""
        options = {"require": ["exp", "nbf", "iat", "aud", "iss"], "verify_exp": False, "verify_aud": False}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.InvalidIssuerError as exc:
            raise TokenError(
                "InvalidAuthenticationTokenTenant", f"The access token is from the wrong issuer: {exc}."
            ) from exc
        except jwt.PyJWTError as exc:
            raise TokenError("InvalidAuthenticationToken", "The access token is invalid.") from exc
        current = time.time() if now is None else now
        if claims["exp"] <= current:
            raise TokenError(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_utc(claims['exp'])}' is earlier than current UTC time "
                f"'{_utc(current)}'.",
            )
        if claims["nbf"] > current + 300:
            raise TokenError("InvalidAuthenticationToken", "The access token is not yet valid.")
        if claims["aud"] not in MANAGEMENT_AUDIENCES:
            allowed = ",".join(f"'{a}'" for a in MANAGEMENT_AUDIENCES)
            raise TokenError(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{claims['aud']}'. It should "
                f"exactly match with one of the allowed audiences {allowed}.",
            )
        return claims


def _utc(epoch: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))
