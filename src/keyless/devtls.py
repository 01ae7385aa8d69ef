"""Development TLS: a local CA and a certificate for localhost, made once and kept in ``<data_dir>/tls``.

The official Scalekit Python SDK speaks gRPC only over TLS (with ALPN h2), so trying it against a local
keyless needs a certificate the SDK trusts. The CA is created here, never installed system-wide: the
developer points the SDKs at it with the environment variables ``trust_instructions`` prints.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)
HOSTS = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")

# The environment variables that make each client trust the dev CA (see docs/guides/coming-from-scalekit.md).
CA_ENV_VARS = ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


@dataclass(frozen=True, slots=True)
class DevTls:
    ca_file: Path
    certfile: Path
    keyfile: Path


def ensure_dev_tls(data_dir: Path, now: dt.datetime | None = None) -> DevTls:
    """The CA and localhost certificate in ``data_dir/tls``: reused while valid, otherwise (re)made.

    The CA survives leaf renewals, so a developer trusts it once.
    """
    now = now or dt.datetime.now(dt.UTC)
    folder = data_dir / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    paths = DevTls(folder / "ca.pem", folder / "localhost.pem", folder / "localhost-key.pem")
    ca_key_file = folder / "ca-key.pem"
    if _valid(paths.ca_file, now) and ca_key_file.exists():
        ca_cert = x509.load_pem_x509_certificate(paths.ca_file.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca_key, ca_cert = _make_ca(now)
        _write_private(ca_key_file, _pem_key(ca_key))
        paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        paths.certfile.unlink(missing_ok=True)  # a new CA invalidates the old leaf
    if not (_valid(paths.certfile, now) and _issued_by(paths.certfile, ca_cert) and paths.keyfile.exists()):
        leaf_key, leaf = _make_leaf(ca_key, ca_cert, now)
        _write_private(paths.keyfile, _pem_key(leaf_key))
        paths.certfile.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return paths


def trust_instructions(tls: DevTls, public_url: str) -> str:
    ca = tls.ca_file.resolve()
    lines = [
        f"development TLS: {public_url} uses a certificate from the local CA {ca}",
        "trust it in the shell that runs your SDK client:",
        *(f"  export {name}={ca}" for name in CA_ENV_VARS),
    ]
    return "\n".join(lines)


def _make_ca(now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyless development CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, now: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in HOSTS]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _valid(path: Path, now: dt.datetime) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - RENEW_BEFORE > now


def _issued_by(path: Path, ca: x509.Certificate) -> bool:
    return x509.load_pem_x509_certificate(path.read_bytes()).issuer == ca.subject


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    # Owner-only from creation: a private key must never be readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
