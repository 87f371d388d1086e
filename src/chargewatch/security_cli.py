"""`chargewatch security …` (a running server's API) and the TLS options of `serve`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from . import settings


def tls_args(p: argparse.ArgumentParser) -> None:
    """TLS on the OCPP port: profile 2 (TLS + Basic auth) and, with a client CA, profile 3 (client certificates)."""
    p.add_argument("--tls-cert", default=os.environ.get("CHARGEWATCH_TLS_CERT"),
                   help="the server certificate chain (PEM): OCPP on wss:// (default $CHARGEWATCH_TLS_CERT)")
    p.add_argument("--tls-key", default=os.environ.get("CHARGEWATCH_TLS_KEY"),
                   help="its private key (PEM), if not in --tls-cert ($CHARGEWATCH_TLS_KEY)")
    p.add_argument("--tls-client-ca", default=os.environ.get("CHARGEWATCH_TLS_CLIENT_CA"),
                   help="the operator CA of chargers' client certificates, for profile 3 ($CHARGEWATCH_TLS_CLIENT_CA)")
    p.add_argument("--min-security-profile", type=int, choices=[0, 1, 2, 3],
                   default=None,
                   help="refuse every charger below this profile ($CHARGEWATCH_MIN_SECURITY_PROFILE)")


def gateway_security(args: argparse.Namespace) -> dict[str, Any]:
    """GatewayConfig fields from the TLS options (none given: plain ws://)."""
    from .gateway.tls import TlsConfig

    cert = getattr(args, "tls_cert", None)
    if not cert and (getattr(args, "tls_key", None) or getattr(args, "tls_client_ca", None)):
        raise SystemExit("chargewatch: --tls-key and --tls-client-ca need --tls-cert")
    tls = TlsConfig(cert, args.tls_key or None, args.tls_client_ca or None) if cert else None
    floor = getattr(args, "min_security_profile", None)
    if floor is None:  # read here, not when the parser is built: a bad value is one line from `serve`, not a crash
        floor = settings.integer(os.environ, "CHARGEWATCH_MIN_SECURITY_PROFILE", 0)
        if floor > 3:
            raise settings.SettingError(f"CHARGEWATCH_MIN_SECURITY_PROFILE={floor}: must be 0, 1, 2 or 3")
    return {"tls": tls, "min_security_profile": floor}


def _answer(response: Any) -> int:
    from .cli import _answer as answer

    return int(answer(response))


def cmd_rotate(args: argparse.Namespace) -> int:
    from .cli import _api

    with _api(args, timeout=args.timeout + 5) as api:
        response = api.post(f"/api/v1/chargers/{args.charger_id}/security/rotate-password",
                            json={"timeout": args.timeout})
    code = _answer(response)
    return code if code or response.json().get("accepted") else 1


def cmd_show(args: argparse.Namespace) -> int:
    from .cli import _api

    with _api(args) as api:
        return _answer(api.get(f"/api/v1/chargers/{args.charger_id}/security"))


def cmd_min_profile(args: argparse.Namespace) -> int:
    from .cli import _api

    profile = None if args.profile == "none" else int(args.profile)
    with _api(args) as api:
        return _answer(api.put(f"/api/v1/chargers/{args.charger_id}/security", json={"min_profile": profile}))


def register(subparsers: Any) -> None:
    sub = subparsers.add_parser("security", help="chargers' security profiles and passwords (via the API)") \
        .add_subparsers(dest="action", required=True)
    p = sub.add_parser("rotate-password", help="send the charger a new random password; the old one works "
                                               "until it connects with the new one")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger's answer (default 30)")
    p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
    p.set_defaults(func=cmd_rotate)
    p = sub.add_parser("show", help="the charger's security profile, floor and password state")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("min-profile", help="refuse the charger on any lower security profile")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("profile", choices=["1", "2", "3", "none"], help="the lowest profile accepted (none: no floor)")
    p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
    p.set_defaults(func=cmd_min_profile)
