"""EmailSender against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargewatch.faults.alerts import build_email
from chargewatch.faults.catalog import guidance_for
from chargewatch.faults.detection import AlertDue
from chargewatch.faults.incidents import Evidence, IncidentKind, Severity, open_incident
from chargewatch.notify import EmailDeliveryError, EmailSender, SmtpConfig


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        self.recipients.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def authenticate(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"s3cret")
    # handled=False lets aiosmtpd answer 535 itself on a refusal.
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1, so STARTTLS is tested for real."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def plain_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int]]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*tls_files)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def alert_mail() -> object:
    at = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    incident = open_incident(
        kind=IncidentKind.CHARGER_OFFLINE,
        severity=Severity.FAULT,
        charger_id="CP7",
        connector_id=None,
        code=None,
        first_seen=at,
        opened_at=at,
        evidence=Evidence(at, "Silence"),
        outage=True,
    )
    guidance = guidance_for("ChargerOffline", lang="de")
    return build_email(AlertDue(incident, at), guidance, "alerts@cpo.example", ["ops@cpo.example"])


async def test_alert_mail_arrives_over_plain_smtp(plain_server: tuple[Mailbox, int]) -> None:
    mailbox, port = plain_server
    await EmailSender(SmtpConfig(host="127.0.0.1", port=port, starttls=False)).send(alert_mail())  # type: ignore[arg-type]
    [received] = mailbox.messages
    assert received["Subject"] == "[chargewatch] FAULT alert: Ladestation offline at CP7"
    assert mailbox.recipients == [["ops@cpo.example"]]


async def test_alert_mail_arrives_over_starttls_with_login(
    tls_server: tuple[Mailbox, int], tls_files: tuple[Path, Path]
) -> None:
    mailbox, port = tls_server
    client_context = ssl.create_default_context(cafile=str(tls_files[0]))
    config = SmtpConfig(
        host="127.0.0.1", port=port, starttls=True, username="alerts", password="s3cret", ssl_context=client_context
    )
    await EmailSender(config).send(alert_mail())  # type: ignore[arg-type]
    assert len(mailbox.messages) == 1


async def test_wrong_password_raises_a_delivery_error(
    tls_server: tuple[Mailbox, int], tls_files: tuple[Path, Path]
) -> None:
    _, port = tls_server
    client_context = ssl.create_default_context(cafile=str(tls_files[0]))
    config = SmtpConfig(
        host="127.0.0.1", port=port, starttls=True, username="alerts", password="wrong", ssl_context=client_context
    )
    with pytest.raises(EmailDeliveryError, match=f"127.0.0.1:{port}"):
        await EmailSender(config).send(alert_mail())  # type: ignore[arg-type]


async def test_unreachable_server_raises_a_delivery_error() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), starttls=False, timeout_s=2)
    with pytest.raises(EmailDeliveryError):
        await EmailSender(config).send(alert_mail())  # type: ignore[arg-type]


def test_starttls_and_implicit_tls_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        SmtpConfig(host="mail.example", starttls=True, implicit_tls=True)


def test_the_operators_relay_comes_from_the_environment():
    from chargewatch.notify.email import SmtpConfig

    assert SmtpConfig.from_env({}) is None
    relay = SmtpConfig.from_env({"CHARGEWATCH_SMTP_HOST": "mail.example", "CHARGEWATCH_SMTP_USER": "u",
                                 "CHARGEWATCH_SMTP_PASSWORD": "p"})
    assert (relay.host, relay.port, relay.starttls, relay.username) == ("mail.example", 587, None, "u")
    smtps = SmtpConfig.from_env({"CHARGEWATCH_SMTP_HOST": "mail.example", "CHARGEWATCH_SMTP_IMPLICIT_TLS": "true"})
    assert (smtps.port, smtps.implicit_tls, smtps.starttls) == (465, True, False)
    with pytest.raises(ValueError, match="CHARGEWATCH_SMTP_STARTTLS"):
        SmtpConfig.from_env({"CHARGEWATCH_SMTP_HOST": "mail.example", "CHARGEWATCH_SMTP_STARTTLS": "maybe"})
