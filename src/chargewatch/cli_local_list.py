"""`chargewatch local-list push|show|version CHARGER`: a charger's local authorization list, through a running
server's API (``--api``; operator login from $CHARGEWATCH_API_USER / _PASSWORD, as the other API commands)."""

from __future__ import annotations

import argparse
import json
from typing import Any

_DONE = frozenset({"Accepted", "up_to_date"})


def cmd_push(args: argparse.Namespace) -> int:
    from .cli import _api

    with _api(args, timeout=120) as api:
        response = api.post(f"/api/v1/chargers/{args.charger_id}/local-list/push", json={"full": args.full})
    body = response.json()
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 0 if response.is_success and body.get("status") in _DONE else 1


def cmd_show(args: argparse.Namespace) -> int:
    from .cli import _answer, _api

    with _api(args) as api:
        response = api.get(f"/api/v1/chargers/{args.charger_id}/local-list")
    if not response.is_success or args.json:
        return _answer(response)
    ll: dict[str, Any] = response.json()
    conflict = f"open since {ll['conflict_at']}: {ll['conflict_reason']}" if ll["conflict_open"] else "none"
    print(f"charger {ll['charger_id']}: version sent {ll['version_sent']}, confirmed {ll['version_confirmed']}, "
          f"reported {ll['version_reported']}; {ll['entries_count'] or 0} cards held, {ll['wanted_count']} id tags, "
          f"{'in step' if ll['in_sync'] else 'NOT in step'}")
    print(f"last answer: {ll['last_status'] or '-'} ({ll['last_update_type'] or '-'}); conflict: {conflict}; "
          f"supported: {ll['supported']}")
    for entry in ll["entries"]:
        print(f"  {entry['id_tag']}\t{entry['status']}\t{entry['expiry'] or '-'}\t{entry['group'] or '-'}")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    from .cli import _answer, _api

    with _api(args, timeout=60) as api:
        return _answer(api.post(f"/api/v1/chargers/{args.charger_id}/local-list/version"))


def register(sub: Any) -> None:
    """Add the ``local-list`` command to the CLI's subparsers."""
    parser = sub.add_parser("local-list", help="a charger's local authorization list (via the API)")
    commands = parser.add_subparsers(dest="action", required=True)
    for name, func, text in (("push", cmd_push, "send the list the id tags make now (Differential unless --full)"),
                             ("show", cmd_show, "versions sent/confirmed, conflicts, the cards the charger holds"),
                             ("version", cmd_version, "ask the charger its list version (GetLocalListVersion)")):
        p = commands.add_parser(name, help=text)
        p.add_argument("charger_id", help="the charger")
        p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
        if name == "push":
            p.add_argument("--full", action="store_true", help="replace the charger's whole list")
        if name == "show":
            p.add_argument("--json", action="store_true", help="print the API's JSON answer")
        p.set_defaults(func=func)
