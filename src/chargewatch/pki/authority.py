"""The operator's certificate authority: a CA certificate and its private key kept in two files.

``chargewatch ca init DIR`` creates them (an EC P-256 key, written with mode 0600, and a self-signed CA
certificate); an existing CA is configured by path. The server finds it through the environment:

- ``CHARGEWATCH_CA_DIR``: a directory holding ``ca.pem`` and ``ca.key`` (what ``ca init`` writes), or
- ``CHARGEWATCH_CA_CERT`` and ``CHARGEWATCH_CA_KEY``: the two files' paths (they win over the directory);
- ``CHARGEWATCH_CA_KEY_PASSWORD``: the key file's password, if it is encrypted;
- ``CHARGEWATCH_CERT_DAYS``: validity of the certificates it signs (365).

The files are read at each signing (a renewed CA is used without a restart). The key never leaves this
module: nothing logs it, no API returns it; errors name the file, never its content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .certificates import CertificateError, load_certificates, pem, sign_csr

CERT_FILE, KEY_FILE = "ca.pem", "ca.key"
DEFAULT_DAYS = 365


class AuthorityError(RuntimeError):
    """The CA cannot be used (missing, unreadable, key and certificate do not match); the message says which."""


@dataclass(frozen=True)
class AuthorityConfig:
    cert_path: Path | None
    key_path: Path | None
    key_password: bytes | None = None
    days: int = DEFAULT_DAYS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthorityConfig:
        directory = env.get("CHARGEWATCH_CA_DIR")
        cert = env.get("CHARGEWATCH_CA_CERT") or (str(Path(directory) / CERT_FILE) if directory else None)
        key = env.get("CHARGEWATCH_CA_KEY") or (str(Path(directory) / KEY_FILE) if directory else None)
        password = env.get("CHARGEWATCH_CA_KEY_PASSWORD")
        try:
            days = int(env.get("CHARGEWATCH_CERT_DAYS") or DEFAULT_DAYS)
        except ValueError:
            days = DEFAULT_DAYS
        return cls(Path(cert) if cert else None, Path(key) if key else None,
                   password.encode() if password else None, max(1, days))

    @property
    def configured(self) -> bool:
        return self.cert_path is not None and self.key_path is not None


@dataclass(frozen=True)
class LoadedAuthority:
    certificates: list[x509.Certificate]  # the CA certificate first, then any parents in its file
    key: object

    @property
    def certificate(self) -> x509.Certificate:
        return self.certificates[0]

    def sign(self, csr_pem: str, now: datetime, days: int) -> tuple[x509.Certificate, str]:
        """The signed certificate and the chain CertificateSigned carries (leaf first, then the CA's file)."""
        leaf = sign_csr(csr_pem, self.certificate, self.key, now, days)
        return leaf, pem(leaf, *self.certificates)


class Authority:
    """The CA as configured; ``available()`` is cheap (files exist), ``load()`` reads and checks them."""

    def __init__(self, config: AuthorityConfig):
        self.config = config

    def available(self) -> bool:
        c = self.config
        return c.cert_path is not None and c.key_path is not None and c.cert_path.is_file() and c.key_path.is_file()

    def load(self) -> LoadedAuthority:
        c = self.config
        if c.cert_path is None or c.key_path is None:
            raise AuthorityError("no CA configured (CHARGEWATCH_CA_DIR, or CHARGEWATCH_CA_CERT and _KEY)")
        try:
            certificates = load_certificates(c.cert_path.read_text(encoding="utf-8"))
        except (OSError, CertificateError, UnicodeDecodeError) as exc:
            raise AuthorityError(f"CA certificate {c.cert_path}: {exc}") from None
        try:
            key = serialization.load_pem_private_key(c.key_path.read_bytes(), password=c.key_password)
        except (OSError, ValueError, TypeError):
            raise AuthorityError(f"CA key {c.key_path}: unreadable, or wrong password") from None
        ours = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        theirs = certificates[0].public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        if ours != theirs:
            raise AuthorityError(f"CA key {c.key_path} does not belong to the certificate {c.cert_path}")
        return LoadedAuthority(certificates, key)


def init_authority(directory: Path, name: str, now: datetime, days: int = 3650) -> tuple[Path, Path]:
    """Create a CA in ``directory`` (``ca.pem``, ``ca.key`` with mode 0600); refuses to replace one."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    for path in (cert_path, key_path):
        if path.exists():
            raise AuthorityError(f"{path} exists: not replacing an existing CA")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_text(pem(certificate), encoding="ascii")
    return cert_path, key_path
