"""``chargewatch reservations add|list|cancel``: reservations of a running server, through its API (operator login
from ``CHARGEWATCH_API_USER`` / ``CHARGEWATCH_API_PASSWORD``, like ``command`` and ``incidents``)."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def _client(args: argparse.Namespace, timeout: float = 30) -> httpx.Client:
    user, password = os.environ.get("CHARGEWATCH_API_USER"), os.environ.get("CHARGEWATCH_API_PASSWORD")
    auth = httpx.BasicAuth(user, password) if user and password else None
    return httpx.Client(base_url=args.api.rstrip("/"), auth=auth, timeout=timeout)


def _print(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        print(response.text)
        return None
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return body


def cmd_add(args: argparse.Namespace) -> int:
    if args.expiry:
        expiry = args.expiry  # the API checks it (ISO 8601 with an offset, in the future)
    else:
        expiry = (datetime.now(UTC) + timedelta(minutes=args.minutes)).isoformat().replace("+00:00", "Z")
    body: dict[str, Any] = {"charger_id": args.charger_id, "connector_id": args.connector, "id_tag": args.id_tag,
                            "expiry": expiry, "timeout": args.timeout}
    if args.parent_id_tag:
        body["parent_id_tag"] = args.parent_id_tag
    with _client(args, timeout=args.timeout + 5) as api:
        response = api.post("/api/v1/reservations", json=body)
    made = _print(response)
    # 0 only for a reservation the charger accepted; 1 for one it refused (or never got), and for a bad request
    return 0 if response.status_code == 201 and (made or {}).get("status") == "accepted" else 1


def cmd_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in {"charger_id": args.charger, "status": args.status, "limit": args.limit,
                                "active": "true" if args.active else None}.items() if v is not None}
    with _client(args) as api:
        response = api.get("/api/v1/reservations", params=params)
    _print(response)
    return 0 if response.is_success else 1


def cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args, timeout=args.timeout + 5) as api:
        response = api.post(f"/api/v1/reservations/{args.reservation_id}/cancel", json={"timeout": args.timeout})
    _print(response)
    return 0 if response.is_success else 1


def register(sub: Any) -> None:
    """Add ``reservations`` to the ``chargewatch`` subcommands."""
    group = sub.add_parser("reservations", help="reserve connectors (ReserveNow) on a running server") \
        .add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")

    p = group.add_parser("add", help="reserve a connector of a charger for an id tag")
    p.add_argument("charger_id", help="the charger")
    p.add_argument("--connector", type=int, default=0, help="connector (2.0.1: EVSE) number; 0 (default): any")
    p.add_argument("--id-tag", required=True, help="the id tag the connector is held for")
    p.add_argument("--parent-id-tag", help="any tag of this group may use it (2.0.1 groupIdToken)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--expiry", help="ISO 8601 with an offset, e.g. 2026-12-02T18:00:00Z")
    when.add_argument("--minutes", type=float, default=30, help="from now (default 30)")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger's answer (default 30)")
    common(p)
    p.set_defaults(func=cmd_add)

    p = group.add_parser("list", help="reservations, newest first")
    p.add_argument("--charger", help="one charger's")
    p.add_argument("--status", choices=["requested", "accepted", "rejected", "cancelled", "expired", "used"],
                   help="only those in this state")
    p.add_argument("--active", action="store_true", help="only those still holding a connector")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    common(p)
    p.set_defaults(func=cmd_list)

    p = group.add_parser("cancel", help="CancelReservation")
    p.add_argument("reservation_id", type=int, help="the reservation's id (`reservations list` shows it)")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger's answer (default 30)")
    common(p)
    p.set_defaults(func=cmd_cancel)
