"""TLS for the OCPP port: security profiles 2 (TLS + Basic auth) and 3 (TLS with client certificates).

One listening context serves both: with an operator CA configured, a charger *may* present a client certificate
(``CERT_OPTIONAL``); one that does must chain to that CA (else the TLS handshake fails), and its subject's CN must
be the charge point id of the URL (checked at the WebSocket handshake: OCPP 1.6 security whitepaper, OCPP 2.0.1
A00.FR.3xx). One that does not is profile 2 and authenticates with its Basic auth password. :meth:`TlsServer.reload`
(SIGHUP) loads the certificate files again into the same context: connections opened afterwards get the new
certificate, open ones keep theirs.
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsConfig:
    certfile: str  # the server's certificate chain (PEM)
    keyfile: str | None = None  # its private key (PEM); None: in certfile
    client_ca: str | None = None  # the operator CA chargers' client certificates chain to (profile 3)

    @classmethod
    def from_env(cls, env: Any = os.environ) -> TlsConfig | None:
        certfile = env.get("CHARGEWATCH_TLS_CERT")
        if not certfile:
            return None
        return cls(certfile, env.get("CHARGEWATCH_TLS_KEY") or None, env.get("CHARGEWATCH_TLS_CLIENT_CA") or None)


def _load(context: ssl.SSLContext, config: TlsConfig) -> None:
    context.load_cert_chain(config.certfile, config.keyfile)
    if config.client_ca:
        context.load_verify_locations(cafile=config.client_ca)


class TlsServer:
    """The listening SSL context and how to refresh it."""

    def __init__(self, config: TlsConfig):
        self.config = config
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2  # both OCPP security documents: TLS 1.2 or above
        _load(self.context, config)
        if config.client_ca:
            self.context.verify_mode = ssl.CERT_OPTIONAL

    def reload(self) -> bool:
        """Load the files again (for new connections). Broken files are refused and the old certificate kept:
        they are tried on a scratch context first, so a half-loaded pair never serves."""
        try:
            _load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), self.config)
            _load(self.context, self.config)
        except (OSError, ssl.SSLError) as exc:
            log.error("TLS reload failed, the previous certificate stays in use: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.config.certfile)
        return True


def peer_common_name(ssl_object: Any) -> str | None:
    """The CN of a verified client certificate, or None when the client presented none."""
    if ssl_object is None:
        return None
    certificate = ssl_object.getpeercert()
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""
