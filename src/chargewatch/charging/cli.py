"""``chargewatch charging limit|clear|schedule``: smart charging of a running server, through its API.

    chargewatch charging limit CP-1 --kw 11 [--connector 1]     # a connector (TxDefault) or the charger (0)
    chargewatch charging limit --site depot-north --kw 50        # split equally across the site's chargers
    chargewatch charging clear CP-1 [--connector 1] | --site S | CP-1 --profile ID
    chargewatch charging schedule CP-1 [--connector 1] [--duration 3600] [--unit W] [--stored]

Operator credentials come from $CHARGEWATCH_API_USER / $CHARGEWATCH_API_PASSWORD, as for the other API commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx


def _client(args: argparse.Namespace) -> httpx.Client:
    user, password = os.environ.get("CHARGEWATCH_API_USER"), os.environ.get("CHARGEWATCH_API_PASSWORD")
    auth = httpx.BasicAuth(user, password) if user and password else None
    return httpx.Client(base_url=args.api.rstrip("/"), auth=auth, timeout=args.timeout + 5)


def _print(response: httpx.Response) -> int:
    try:
        print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    except ValueError:
        print(response.text)
    return 0 if response.is_success else 1


def _target(args: argparse.Namespace) -> str | None:
    """The error for a missing or double target (a charger or --site), else None."""
    if bool(args.charger_id) == bool(args.site):
        return "name a charger or --site SITE (one of them)"
    return None


def cmd_limit(args: argparse.Namespace) -> int:
    if (problem := _target(args)) is not None:
        print(f"chargewatch charging limit: {problem}", file=sys.stderr)
        return 2
    with _client(args) as api:
        if args.site:
            return _print(api.put(f"/api/v1/sites/{args.site}/charging/limit",
                                  json={"kw": args.kw, "timeout": args.timeout}))
        body: dict[str, Any] = {"kw": args.kw, "connector_id": args.connector, "timeout": args.timeout}
        if args.phases is not None:
            body["phases"] = args.phases
        if args.voltage is not None:
            body["voltage"] = args.voltage
        return _print(api.put(f"/api/v1/chargers/{args.charger_id}/charging/limit", json=body))


def cmd_clear(args: argparse.Namespace) -> int:
    if (problem := _target(args)) is not None:
        print(f"chargewatch charging clear: {problem}", file=sys.stderr)
        return 2
    params = {"timeout": args.timeout}
    with _client(args) as api:
        if args.site:
            return _print(api.delete(f"/api/v1/sites/{args.site}/charging/limit", params=params))
        if args.profile is not None:
            return _print(api.delete(f"/api/v1/chargers/{args.charger_id}/charging/profiles/{args.profile}",
                                     params=params))
        return _print(api.delete(f"/api/v1/chargers/{args.charger_id}/charging/limit",
                                 params={**params, "connector_id": args.connector}))


def cmd_schedule(args: argparse.Namespace) -> int:
    path = f"/api/v1/chargers/{args.charger_id}/charging/composite-schedule"
    with _client(args) as api:
        if args.stored:
            return _print(api.get(path))
        body: dict[str, Any] = {"connector_id": args.connector, "duration": args.duration, "timeout": args.timeout}
        if args.unit:
            body["rate_unit"] = args.unit
        return _print(api.post(path, json=body))


def register(sub: Any) -> None:
    """Add ``charging`` to the ``chargewatch`` subcommands."""
    charging = sub.add_parser("charging", help="smart charging: limits, profiles, composite schedule (via the API)")
    actions = charging.add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
        p.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger (default 30)")

    p = actions.add_parser("limit", help="limit a connector, a charger (connector 0) or a site to N kW")
    p.add_argument("charger_id", nargs="?", help="the charger (none with --site)")
    p.add_argument("--site", help="limit the site's chargers together (equal shares)")
    p.add_argument("--kw", required=True, help="the limit in kW")
    p.add_argument("--connector", type=int, default=0, help="0: the whole charger")
    p.add_argument("--phases", type=int, choices=[1, 2, 3], help="for a charger taking only Current (default 3)")
    p.add_argument("--voltage", type=int, help="volts per phase for a Current limit (default 230)")
    common(p)
    p.set_defaults(func=cmd_limit)

    p = actions.add_parser("clear", help="remove a limit (or one profile by id)")
    p.add_argument("charger_id", nargs="?", help="the charger (none with --site)")
    p.add_argument("--site", help="clear the site's limit from its chargers")
    p.add_argument("--connector", type=int, default=0, help="0: the whole charger")
    p.add_argument("--profile", type=int, help="clear this profile id instead of the operator's limit")
    common(p)
    p.set_defaults(func=cmd_clear)

    p = actions.add_parser("schedule", help="ask the charger for its composite schedule (or show the kept one)")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("--connector", type=int, default=0, help="0: the whole charger")
    p.add_argument("--duration", type=int, default=86_400, help="seconds")
    p.add_argument("--unit", choices=["A", "W"], help="the schedule's unit (default: the charger's choice)")
    p.add_argument("--stored", action="store_true", help="show the schedules kept, without asking the charger")
    common(p)
    p.set_defaults(func=cmd_schedule)
