"""A certificate for https://localhost, because Excel only loads add-ins over HTTPS.

The first `smbml serve` makes a small certificate authority of its own and a server
certificate for localhost, 127.0.0.1 and ::1 signed by it. The user trusts that
authority once, with the command `trust_command` prints for their system; what
trusting it risks is kept small: the authority is name-constrained (RFC 5280) to
localhost, 127.0.0.1 and ::1, so even its key could not mint a certificate a browser
accepts for any other site; it is valid for two years; its key file is readable by
the user alone (0600). An authority made before these rules is replaced. Certificates made by Microsoft's
`npx office-addin-dev-certs install` are used instead when they exist, since those
are already trusted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CertFiles",
    "ensure_certificate",
    "office_dev_certs",
    "trust_command",
    "untrust_command",
]

SERVER_DAYS = 397  # browsers refuse server certificates valid for longer
CA_DAYS = 730  # two years
LOCAL_NAMES: list[x509.GeneralName] = [
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
    x509.IPAddress(ipaddress.ip_network("::1/128")),
]
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    ca: Path


def office_dev_certs(home: Path | None = None) -> CertFiles | None:
    folder = (home or Path.home()) / ".office-addin-dev-certs"
    files = CertFiles(folder / "localhost.crt", folder / "localhost.key", folder / "ca.crt")
    return files if all(p.exists() for p in (files.cert, files.key, files.ca)) else None


def _write_private(path: Path, data: bytes) -> None:
    """Only the user may read a key: the mode given to os.open applies only to a new file,
    so a key file that already existed (readable by others) is narrowed before it is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if hasattr(os, "fchmod"):  # not on Windows, whose files have no such mode bits
        os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smbml_connect (this computer only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _make_ca(folder: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("smbml_connect local CA")
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
            x509.NameConstraints(permitted_subtrees=LOCAL_NAMES, excluded_subtrees=None),
            critical=True,
        )
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(folder / "ca-key.pem", _key_bytes(key))
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _load_ca(folder: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), None)
    except (OSError, ValueError):
        return _make_ca(folder, now)
    if (
        not isinstance(key, ec.EllipticCurvePrivateKey)
        or cert.not_valid_after_utc - now < RENEW_BEFORE
        or not _follows_the_rules(cert)
    ):
        return _make_ca(folder, now)
    return cert, key


def _follows_the_rules(ca: x509.Certificate) -> bool:
    """Made under the current rules: name-constrained and valid for two years at most."""
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    try:
        ca.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return False
    return lifetime <= dt.timedelta(days=CA_DAYS, minutes=10)


def _server_is_fresh(path: Path, ca: x509.Certificate, now: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)  # a renewed CA has the same name but a new key
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return cert.not_valid_after_utc - now > RENEW_BEFORE


def ensure_certificate(folder: Path) -> CertFiles:
    """The server certificate in `folder`, made (or renewed) when needed."""
    files = CertFiles(folder / "server.pem", folder / "server-key.pem", folder / "ca.pem")
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = _load_ca(folder, now)
    if _server_is_fresh(files.cert, ca, now) and files.key.exists():
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.key, _key_bytes(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def trust_command(ca: Path, platform: str | None = None) -> str:
    """The one command that makes this machine trust the local authority."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return f'certutil -user -addstore Root "{ca}"'
    if platform == "darwin":
        return (
            "security add-trusted-cert -r trustRoot -k "
            f'~/Library/Keychains/login.keychain-db "{ca}"'
        )
    return (
        f'sudo cp "{ca}" /usr/local/share/ca-certificates/smbml-local-ca.crt '
        "&& sudo update-ca-certificates"
    )


def untrust_command(platform: str | None = None) -> str:
    """The command that removes the trust `trust_command` gave (the README shows it)."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return 'certutil -user -delstore Root "smbml_connect local CA"'
    if platform == "darwin":
        return (
            'security delete-certificate -c "smbml_connect local CA" '
            "~/Library/Keychains/login.keychain-db"
        )
    return (
        "sudo rm /usr/local/share/ca-certificates/smbml-local-ca.crt "
        "&& sudo update-ca-certificates --fresh"
    )
