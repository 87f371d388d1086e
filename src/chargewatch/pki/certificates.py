"""Certificate signing requests, signing, and OCPP's CertificateHashData — pure functions over ``cryptography``.

A charger's CSR is accepted for signing only if it parses as a PEM PKCS#10 request, its self-signature verifies,
its subject's commonName is the charger's identity (what a security profile 3 server checks against the
connection), its key is RSA of at least 2048 bits or EC on P-256/P-384/P-521 (the whitepaper's and 2.0.1 part 2
A00's key requirements), and it is signed with SHA-256 or stronger. Anything else is refused with a reason.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MIN_RSA_BITS = 2048
ACCEPTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
ACCEPTED_HASHES = frozenset({"sha256", "sha384", "sha512"})
MAX_CSR_CHARS = 5500  # SignCertificate.csr (1.6 and 2.0.1)

# The certificate types, in neutral words (the OCPP 2.0.1 names; 1.6 says CentralSystemRootCertificate and has
# one charger certificate, ChargePointCertificate).
CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
ROOT_TYPES = frozenset({"CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate",
                        "MORootCertificate", "V2GCertificateChain"})
_HASHES = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}


class CertificateError(ValueError):
    """A certificate or request that cannot be used; the message says why."""


@dataclass(frozen=True)
class CsrVerdict:
    """Whether a CSR may be signed; ``reason`` says why not (short, for the operator and the charger)."""

    accepted: bool
    reason: str | None = None
    subject: str | None = None  # the request's subject as RFC 4514 text, where it parsed
    key: str | None = None  # e.g. "EC secp256r1", "RSA 2048"


@dataclass(frozen=True)
class CertificateHash:
    """OCPP CertificateHashDataType: how a charger names one of its certificates."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def to_ocpp(self) -> dict[str, str]:
        return {"hashAlgorithm": self.hash_algorithm, "issuerNameHash": self.issuer_name_hash,
                "issuerKeyHash": self.issuer_key_hash, "serialNumber": self.serial_number}

    @classmethod
    def from_ocpp(cls, data: dict[str, object]) -> CertificateHash:
        """From a charger's CertificateHashData (hex compared without case; serial without leading zeros)."""
        try:
            return cls(str(data["hashAlgorithm"]), str(data["issuerNameHash"]).lower(),
                       str(data["issuerKeyHash"]).lower(), _serial(str(data["serialNumber"])))
        except KeyError as exc:
            raise CertificateError(f"certificateHashData: {exc.args[0]} missing") from None


def _serial(text: str) -> str:
    return text.lower().removeprefix("0x").lstrip("0") or "0"


def describe_key(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return type(key).__name__.removesuffix("PublicKey")
    return type(key).__name__


def key_refusal(key: object) -> str | None:
    """Why this public key is too weak or of a kind chargers do not use, or None."""
    if isinstance(key, rsa.RSAPublicKey):
        return None if key.key_size >= MIN_RSA_BITS else f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in ACCEPTED_CURVES:
            return None
        return f"EC curve {key.curve.name} (accepted: {', '.join(sorted(ACCEPTED_CURVES))})"
    return f"{describe_key(key)} key (RSA ≥ {MIN_RSA_BITS} bits or EC P-256/P-384/P-521 expected)"


def check_csr(pem: str, charger_id: str) -> CsrVerdict:
    """Whether the CSR ``pem`` a charger sent may be signed for ``charger_id``."""
    if len(pem) > MAX_CSR_CHARS:
        return CsrVerdict(False, f"csr longer than {MAX_CSR_CHARS} characters")
    try:
        csr = x509.load_pem_x509_csr(pem.strip().encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        return CsrVerdict(False, "not a PEM-encoded PKCS#10 certificate signing request")
    try:
        subject = csr.subject.rfc4514_string()
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return CsrVerdict(False, "the request's subject or key cannot be read")
    described = describe_key(key)
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        return CsrVerdict(False, "the request's signature does not verify", subject, described)
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if algorithm is None or algorithm.name not in ACCEPTED_HASHES:
        name = algorithm.name if algorithm is not None else "an unknown hash"
        return CsrVerdict(False, f"signed with {name} (SHA-256 or stronger expected)", subject, described)
    names = [attribute.value for attribute in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [charger_id]:
        shown = ", ".join(repr(str(n)) for n in names) or "none"
        return CsrVerdict(False, f"commonName {shown} is not the charger's identity {charger_id!r}", subject,
                          described)
    refusal = key_refusal(key)
    if refusal is not None:
        return CsrVerdict(False, refusal, subject, described)
    return CsrVerdict(True, None, subject, described)


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text, in order; CertificateError if there is none or one does not parse."""
    try:
        found = x509.load_pem_x509_certificates(pem.strip().encode("utf-8"))
    except (ValueError, UnicodeEncodeError):
        raise CertificateError("not PEM-encoded X.509 certificates") from None
    if not found:
        raise CertificateError("no certificate in the PEM text")
    return found


def _key_bits(key: object) -> bytes:
    """The subjectPublicKey BIT STRING's contents (what OCSP CertID and OCPP's issuerKeyHash hash)."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise CertificateError(f"unsupported issuer key {describe_key(key)}")


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None = None,
              algorithm: str = "SHA256") -> CertificateHash:
    """The certificate's CertificateHashData: hashes of its issuer's DER name and public key, its serial in hex.

    ``issuer`` is the certificate that signed it; a self-issued certificate (a root) is its own issuer. Without
    the issuer of a certificate that is not self-issued, the issuer key hash cannot be known (CertificateError).
    """
    digest = _HASHES[algorithm]
    if issuer is None:
        if certificate.issuer != certificate.subject:
            raise CertificateError("the issuer's certificate is needed to name this certificate")
        issuer = certificate
    return CertificateHash(
        algorithm,
        digest(certificate.issuer.public_bytes()).hexdigest(),
        digest(_key_bits(issuer.public_key())).hexdigest(),
        format(certificate.serial_number, "x"),
    )


def chain_hash_data(pem: str, algorithm: str = "SHA256") -> tuple[CertificateHash, x509.Certificate]:
    """The first certificate of a PEM text and its hash data (its issuer taken from the rest of the text)."""
    certificates = load_certificates(pem)
    leaf = certificates[0]
    issuer = next((c for c in certificates[1:] if c.subject == leaf.issuer), None)
    return hash_data(leaf, issuer, algorithm), leaf


def sign_csr(csr_pem: str, ca_certificate: x509.Certificate, ca_key: object, now: datetime,
             days: int = 365, serial: int | None = None) -> x509.Certificate:
    """A client certificate for the CSR's subject and key, issued by the CA, valid from ``now`` for ``days``
    (never beyond the CA's own end of validity)."""
    csr = x509.load_pem_x509_csr(csr_pem.strip().encode("utf-8"))
    key = csr.public_key()
    not_after = min(now + timedelta(days=days), ca_certificate.not_valid_after_utc)
    is_ec = isinstance(key, ec.EllipticCurvePublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_certificate.subject)
        .public_key(key)
        .serial_number(serial if serial is not None else secrets.randbits(127) | 1 << 126)
        .not_valid_before(now - timedelta(minutes=5))  # a charger's clock a little behind still accepts it
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not is_ec,
                                     data_encipherment=False, key_agreement=is_ec, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_certificate.public_key()), critical=False)  # type: ignore[arg-type]
    )
    return builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)


def common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None
