"""`chargewatch firmware campaign|status` and `chargewatch diagnostics get|list`: firmware campaigns and log
uploads of a running server, through its API (``--api``; operator login from $CHARGEWATCH_API_USER/_PASSWORD)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

API_DEFAULT = "http://127.0.0.1:8080"


def _client(args: argparse.Namespace, timeout: float = 60) -> Any:
    from .cli import _api

    return _api(args, timeout=timeout)


def _answer(response: Any) -> int:
    from .cli import _answer as answer

    return int(answer(response))


def cmd_campaign(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"location": args.location, "retrieve_at": args.retrieve_at,
                            "timeout_seconds": args.timeout}
    if args.charger:
        body["charger_ids"] = args.charger
    if args.site:
        body["site_id"] = args.site
    optional = {"name": args.name, "install_at": args.install_at, "retries": args.retries,
                "retry_interval": args.retry_interval, "expected_version": args.expected_version,
                "signature": args.signature}
    body.update({k: v for k, v in optional.items() if v is not None})
    if args.signing_certificate:
        body["signing_certificate"] = Path(args.signing_certificate).read_text()
    with _client(args) as api:
        return _answer(api.post("/api/v1/firmware/campaigns", json=body))


def _print_summary(campaign: dict[str, Any]) -> None:
    s = campaign["summary"]
    print(f"#{campaign['id']}\t{campaign['name']}\t{s['total']} chargers: {s['pending']} pending, "
          f"{s['sent'] + s['downloading'] + s['downloaded']} downloading, {s['installing']} installing, "
          f"{s['installed']} installed ({s['confirmed']} confirmed), {s['failed']} failed"
          f"{'' if s['finished'] else ' — running'}")


def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as api:
        if args.campaign is None:
            response = api.get("/api/v1/firmware/campaigns")
            if not response.is_success:
                return _answer(response)
            for campaign in response.json():
                _print_summary(campaign)
            return 0
        response = api.get(f"/api/v1/firmware/campaigns/{args.campaign}")
    if not response.is_success or args.json:
        return _answer(response)
    campaign = response.json()
    _print_summary(campaign)
    for target in campaign["targets"]:
        print(f"  {target['charger_id']}\t{target['phase']}\t{target['last_status'] or '-'}\t"
              f"{target['reason'] or ''}")
    return 0


def cmd_diagnostics_get(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"log_type": args.log_type, "use_get_log": args.get_log}
    body.update({k: v for k, v in {"oldest": args.since, "latest": args.until}.items() if v is not None})
    with _client(args) as api:
        return _answer(api.post(f"/api/v1/chargers/{args.charger_id}/logs", json=body))


def cmd_diagnostics_list(args: argparse.Namespace) -> int:
    with _client(args) as api:
        response = api.get(f"/api/v1/chargers/{args.charger_id}/logs")
    if not response.is_success:
        return _answer(response)
    for request in response.json():
        files = ", ".join(f"{u['file_name']} ({u['size']} B, sha256 {u['sha256']}, /api/v1/logs/uploads/{u['id']})"
                          for u in request["uploads"])
        print(f"#{request['id']}\t{request['log_type']}\t{request['state']}\t{request['requested_at']}\t"
              f"{files or '-'}")
    return 0


def register(sub: Any) -> None:
    """Add the ``firmware`` and ``diagnostics`` commands to the CLI's subparsers."""
    firmware = sub.add_parser("firmware", help="firmware campaigns of a running server (via its API)") \
        .add_subparsers(dest="action", required=True)
    p = firmware.add_parser("campaign", help="start a firmware campaign over chargers or a site")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--charger", action="append", help="a charger to update (repeat for several)")
    where.add_argument("--site", help="every charger of this site")
    p.add_argument("--location", required=True, help="URL the chargers download the firmware from")
    p.add_argument("--retrieve-at", required=True, help="ISO 8601 with offset, e.g. 2026-12-03T02:00:00Z")
    p.add_argument("--install-at", help="when to install (ISO 8601 with offset; default: once downloaded)")
    p.add_argument("--name", help="the campaign's name, as the console shows it")
    p.add_argument("--signing-certificate", help="PEM file of the certificate the firmware was signed with")
    p.add_argument("--signature", help="the firmware's signature (base64)")
    p.add_argument("--expected-version", help="the firmware version a boot must report to confirm the install")
    p.add_argument("--retries", type=int, help="download attempts a charger makes (OCPP retries)")
    p.add_argument("--retry-interval", type=int, help="seconds between those attempts")
    p.add_argument("--timeout", type=int, default=3600, help="seconds without progress before a charger has failed")
    p.add_argument("--api", default=API_DEFAULT, help="the server's HTTP address")
    p.set_defaults(func=cmd_campaign)
    p = firmware.add_parser("status", help="campaigns and their progress (one campaign: per charger)")
    p.add_argument("campaign", type=int, nargs="?",
                   help="a campaign's id: its chargers one by one (default: every campaign)")
    p.add_argument("--json", action="store_true", help="print the API's JSON answer")
    p.add_argument("--api", default=API_DEFAULT, help="the server's HTTP address")
    p.set_defaults(func=cmd_status)

    diagnostics = sub.add_parser("diagnostics", help="diagnostics and log uploads (via the API)") \
        .add_subparsers(dest="action", required=True)
    p = diagnostics.add_parser("get", help="ask a connected charger to upload a log to this server")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("--log-type", choices=["DiagnosticsLog", "SecurityLog"], default="DiagnosticsLog",
                   help="which log (default DiagnosticsLog)")
    p.add_argument("--get-log", action="store_true", help="OCPP 1.6: GetLog instead of GetDiagnostics")
    p.add_argument("--since", help="oldest entries (ISO 8601 with offset)")
    p.add_argument("--until", help="latest entries (ISO 8601 with offset)")
    p.add_argument("--api", default=API_DEFAULT, help="the server's HTTP address")
    p.set_defaults(func=cmd_diagnostics_get)
    p = diagnostics.add_parser("list", help="a charger's log requests and the files received")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("--api", default=API_DEFAULT, help="the server's HTTP address")
    p.set_defaults(func=cmd_diagnostics_list)
