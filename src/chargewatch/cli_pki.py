"""``chargewatch ca …`` (the operator's CA that signs chargers' certificates) and ``chargewatch certificates …``
(a charger's certificates, through a running server's API)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes

DEFAULT_CA_DIR = "chargewatch-ca"
ROOT_TYPES = ["CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate"]


def _ca_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir or os.environ.get("CHARGEWATCH_CA_DIR") or DEFAULT_CA_DIR)


def cmd_ca_init(args: argparse.Namespace) -> int:
    from .pki.authority import AuthorityError, init_authority

    try:
        cert_path, key_path = init_authority(_ca_dir(args), args.name, datetime.now(UTC), args.days)
    except (AuthorityError, OSError) as exc:
        print(f"chargewatch: {exc}", file=sys.stderr)
        return 2
    print(f"CA certificate: {cert_path}\nCA key (mode 0600, keep it secret): {key_path}\n"
          f"serve with CHARGEWATCH_CA_DIR={cert_path.parent} to sign chargers' certificate requests")
    return 0


def cmd_ca_show(args: argparse.Namespace) -> int:
    from .pki.authority import Authority, AuthorityConfig, AuthorityError

    env = dict(os.environ)
    if args.dir:
        env = {**env, "CHARGEWATCH_CA_DIR": args.dir, "CHARGEWATCH_CA_CERT": "", "CHARGEWATCH_CA_KEY": ""}
    elif not (env.get("CHARGEWATCH_CA_CERT") or env.get("CHARGEWATCH_CA_DIR")):
        env["CHARGEWATCH_CA_DIR"] = DEFAULT_CA_DIR
    try:
        loaded = Authority(AuthorityConfig.from_env(env)).load()
    except AuthorityError as exc:
        print(f"chargewatch: {exc}", file=sys.stderr)
        return 2
    certificate = loaded.certificate
    print(json.dumps({"subject": certificate.subject.rfc4514_string(),
                      "not_after": certificate.not_valid_after_utc.isoformat(),
                      "sha256_fingerprint": certificate.fingerprint(hashes.SHA256()).hex()}, indent=2))
    return 0


def _call(args: argparse.Namespace, method: str, path: str, body: dict[str, object] | None = None) -> int:
    from .cli import _answer, _api

    with _api(args, timeout=float(getattr(args, "timeout", 30)) + 5) as api:
        response = api.request(method, f"/api/v1/chargers/{args.charger_id}/certificates{path}", json=body)
    return _answer(response)


def cmd_list(args: argparse.Namespace) -> int:
    from .cli import _answer, _api

    with _api(args) as api:
        response = api.get(f"/api/v1/chargers/{args.charger_id}/certificates",
                           params={"include_deleted": str(args.all).lower()})
    return _answer(response)


def cmd_install(args: argparse.Namespace) -> int:
    return _call(args, "POST", "", {"certificate_type": args.type, "certificate": Path(args.file).read_text(),
                                    "timeout": args.timeout})


def cmd_refresh(args: argparse.Namespace) -> int:
    body: dict[str, object] = {"timeout": args.timeout}
    if args.type:
        body["certificate_types"] = args.type
    return _call(args, "POST", "/refresh", body)


def cmd_delete(args: argparse.Namespace) -> int:
    return _call(args, "DELETE", f"/{args.certificate_id}?timeout={args.timeout}")


def cmd_renew(args: argparse.Namespace) -> int:
    return _call(args, "POST", "/renew", {"certificate_type": args.type, "timeout": args.timeout})


def register(sub: argparse._SubParsersAction) -> None:
    ca = sub.add_parser("ca", help="the operator's CA that signs chargers' certificates").add_subparsers(
        dest="action", required=True)
    p = ca.add_parser("init", help="create a CA (ca.pem, ca.key with mode 0600) in DIR")
    p.add_argument("--dir", help=f"where (default $CHARGEWATCH_CA_DIR or ./{DEFAULT_CA_DIR})")
    p.add_argument("--name", default="chargewatch CPO CA", help="the CA's common and organization name")
    p.add_argument("--days", type=int, default=3650, help="how long the CA is valid (default 3650 days)")
    p.set_defaults(func=cmd_ca_init)
    p = ca.add_parser("show", help="the CA's subject, validity and fingerprint (never the key)")
    p.add_argument("--dir", help=f"where it is (default $CHARGEWATCH_CA_DIR or ./{DEFAULT_CA_DIR})")
    p.set_defaults(func=cmd_ca_show)

    certificates = sub.add_parser("certificates", help="a charger's certificates (via the API)").add_subparsers(
        dest="action", required=True)

    def common(p: argparse.ArgumentParser, timeout: bool = True) -> None:
        p.add_argument("charger_id", help="the charger")
        p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
        if timeout:
            p.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger (default 30)")

    p = certificates.add_parser("list", help="the certificates it holds and its signing requests")
    common(p, timeout=False)
    p.add_argument("--all", action="store_true", help="also those removed")
    p.set_defaults(func=cmd_list)
    p = certificates.add_parser("install", help="InstallCertificate: a root certificate for it to trust")
    common(p)
    p.add_argument("file", help="PEM file")
    p.add_argument("--type", choices=ROOT_TYPES, default="CSMSRootCertificate",
                   help="what the root certifies (default CSMSRootCertificate)")
    p.set_defaults(func=cmd_install)
    p = certificates.add_parser("refresh", help="GetInstalledCertificateIds (per type)")
    common(p)
    p.add_argument("--type", action="append", choices=[*ROOT_TYPES, "V2GCertificateChain"],
                   help="a certificate type to ask for (repeatable; default all)")
    p.set_defaults(func=cmd_refresh)
    p = certificates.add_parser("delete", help="DeleteCertificate (by the id `list` shows)")
    common(p)
    p.add_argument("certificate_id", type=int, help="the id `certificates list` shows")
    p.set_defaults(func=cmd_delete)
    p = certificates.add_parser("renew", help="ask it for a new key and CSR; our CA signs it")
    common(p)
    p.add_argument("--type", choices=["ChargingStationCertificate", "V2GCertificate"],
                   default="ChargingStationCertificate", help="which certificate (default ChargingStationCertificate)")
    p.set_defaults(func=cmd_renew)
