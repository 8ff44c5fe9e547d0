"""The management plane's TLS: a private certificate authority and a server certificate it signs.

azure-core sends bearer tokens only over HTTPS, so the management endpoint needs a certificate
that clients can trust. On first start a CA and a server certificate for 127.0.0.1/localhost are
written into `DATA_DIR/tls/` (`ca.pem` is what clients trust; private keys are 0600) and reused
afterwards; `--cert`/`--key` bring your own instead.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
VALIDITY = datetime.timedelta(days=825)  # the longest a server certificate may live for common clients


class TlsConfigError(ValueError):
    """--cert/--key given inconsistently, or a file that cannot be read."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server certificate chain
    key: Path  # its private key
    ca: Path | None  # the CA clients trust, when Batchite made it


def tls_dir(data_dir: Path) -> Path:
    return data_dir / "tls"


def write_private(path: Path, data: bytes) -> None:
    """Write a secret atomically with mode 0600 from the start."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate atomically, readable by every user (whatever the service's umask)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _make_ca(now: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Batchite development CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage("digital_signature", "key_cert_sign", "crl_sign"),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def key_usage(*granted: str) -> x509.KeyUsage:
    """A KeyUsage extension granting only the usages named (cryptography wants every flag given)."""
    return x509.KeyUsage(**{flag: flag in granted for flag in KEY_USAGES})


KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _make_server(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, names: tuple[str, ...], now: datetime.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage("digital_signature", "key_agreement"),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _covers(cert: x509.Certificate, names: tuple[str, ...], now: datetime.datetime) -> bool:
    """Whether a stored server certificate is still valid for a day and names every host asked for."""
    if cert.not_valid_after_utc < now + datetime.timedelta(days=1):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))
    return all(str(ipaddress.ip_address(n)) in have if _is_ip(n) else n in have for n in names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def ensure_tls(data_dir: Path, host: str = "127.0.0.1", cert: str = "", key: str = "") -> TlsFiles:
    """The certificate and key to serve with: the ones given, else those in DATA_DIR/tls (made on
    first start, and a new server certificate from the same CA when the host changes or it nears expiry)."""
    if cert or key:
        if not (cert and key):
            raise TlsConfigError("--cert and --key go together")
        for path in (cert, key):
            if not Path(path).is_file():
                raise TlsConfigError(f"{path} is not a readable file")
        return TlsFiles(Path(cert), Path(key), None)
    directory = tls_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    names = DEFAULT_NAMES if host in ("", "0.0.0.0", "::", *DEFAULT_NAMES) else (host, *DEFAULT_NAMES)
    now = datetime.datetime.now(datetime.UTC)
    ca_path, ca_key_path = directory / CA_FILE, directory / CA_KEY_FILE
    if ca_path.is_file() and ca_key_path.is_file():
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise TlsConfigError(f"{ca_key_path} is not an EC key")
        ca_key = loaded
    else:
        ca_key, ca = _make_ca(now)
        write_private(ca_key_path, _key_pem(ca_key))
        write_public(ca_path, ca.public_bytes(serialization.Encoding.PEM))
    server_path, server_key_path = directory / SERVER_FILE, directory / SERVER_KEY_FILE
    if server_path.is_file() and server_key_path.is_file():
        current = x509.load_pem_x509_certificate(server_path.read_bytes())
        if _covers(current, names, now) and current.issuer == ca.subject:
            return TlsFiles(server_path, server_key_path, ca_path)
    server_key, server = _make_server(ca_key, ca, names, now)
    write_private(server_key_path, _key_pem(server_key))
    write_public(server_path, server.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(server_path, server_key_path, ca_path)
