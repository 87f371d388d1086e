"""The `chargewatch` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

import httpx

from . import cli_args, cli_raw_log, cli_reservations, security_cli
from .charging import cli as charging_cli
from .cli_errors import UserError, report_errors


def _serve_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .gateway.transport import GatewayConfig
    from .runtime import ServerOptions
    from .security_cli import gateway_security

    return ServerOptions(
        db=args.db, host=args.host, ocpp_port=args.ocpp_port, http_port=args.http_port,
        gateway=GatewayConfig(accept_unknown=args.accept_unknown, heartbeat_interval=args.heartbeat_interval,
                              node_id=args.node_id, **gateway_security(args)),
    )


async def _run_until_signal(main: Any) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(main)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _refused(run: Any) -> int:
    """Run the server; a start refused for safety (listening beyond loopback with no login) exits 2."""
    from .runtime import UnsafeBind

    try:
        asyncio.run(_run_until_signal(run))
    except UnsafeBind as refusal:
        print(f"chargewatch: {refusal}", file=sys.stderr)
        return 2
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .runtime import Chargewatch

    app = Chargewatch(_serve_options(args))

    async def main() -> None:
        await app.start()
        if app.gateway.tls is not None:  # SIGHUP: new connections get the renewed certificate, no restart
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, app.gateway.reload_tls)
        scheme = "wss" if app.gateway.tls else "ws"
        print(f"chargewatch: OCPP {scheme}://{args.host}:{app.ocpp_port}/ocpp/{{charge_point_id}}  "
              f"dashboard http://{args.host}:{app.http_port}/  API http://{args.host}:{app.http_port}/docs",
              flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await app.stop()

    return _refused(main())


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded SQLite, unknown chargers accepted, and a simulated fleet driving it."""
    from . import demo
    from .api.auth import demo_password, is_loopback_only
    from .runtime import Chargewatch
    from .sim.drivers import SimulatedDrivers
    from .sim.fleet import run_fleet

    args.accept_unknown = True
    args.db = args.db or os.environ.get("CHARGEWATCH_DB") or "sqlite:///demo-data/chargewatch.db"
    loopback = is_loopback_only(args.host)
    if loopback:
        # A demo on loopback keeps the operator JSON API open so a newcomer can curl it; pages still need login.
        # Beyond loopback the API needs the login too, and the admin's password is a new random one.
        os.environ.setdefault("CHARGEWATCH_API_LOGIN", "off")
    app = Chargewatch(_serve_options(args))
    username, password = demo.prepare(app.engine, datetime.now(UTC), args.chargers,
                                      operator_password=demo_password(args.host))

    async def main() -> None:
        await app.start()
        SimulatedDrivers(app.http_base, app.services.secret).attach(app.bus)
        print(f"chargewatch demo: dashboard http://{args.host}:{app.http_port}/  "
              f"sessions http://{args.host}:{app.http_port}/api/v1/sessions  "
              f"OCPP ws://{args.host}:{app.ocpp_port}/ocpp/{{id}}  ({args.chargers} simulated chargers)\n"
              f"database {args.db}: the other commands use it with --db {args.db}\n"
              f"dashboard login: {username} / {password}"
              + ("" if loopback else "  (new on every start; the API needs it too, e.g. curl -u)"), flush=True)
        try:
            await run_fleet(f"ws://{_local(args.host)}:{app.ocpp_port}/ocpp", args.chargers, "demo", prefix="DEMO",
                            signers=demo.eichrecht_signers(args.chargers, "DEMO"), ocpp=demo.DEMO_OCPP)
        finally:
            await app.stop()

    return _refused(main())


def _local(host: str) -> str:
    """Where this machine reaches its own server (the wildcard addresses are not destinations)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def cmd_simulate(args: argparse.Namespace) -> int:
    from .sim.fleet import run_fleet
    from .sim.scenarios import SCRIPTED, run_scripted

    if args.scenario in SCRIPTED:
        asyncio.run(run_scripted(args.scenario, args.url, args.chargers, prefix=args.prefix, password=args.password,
                                 ocpp=args.ocpp))
        print(f"scenario {args.scenario} finished on {args.chargers} charger(s)")
        return 0

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        report = await run_fleet(args.url, args.chargers, args.scenario, duration=args.duration, prefix=args.prefix,
                                 password=args.password, stop=stop, ocpp=args.ocpp)
        print(report)

    asyncio.run(main())
    return 0


def _engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The database of ``--db``, else $CHARGEWATCH_DB, else the default file; says which on stderr."""
    from sqlalchemy.engine import make_url

    from .store.database import create_single_use_engine, database_url, migrate

    url = database_url(args.db)
    source = "--db" if args.db else "$CHARGEWATCH_DB" if os.environ.get("CHARGEWATCH_DB") else "the default"
    print(f"chargewatch: database {make_url(url).render_as_string(hide_password=True)} ({source})", file=sys.stderr)
    migrate(url)
    return create_single_use_engine(url)


_ASK = object()  # `--password` given without a value: ask for it


def _charger_password(args: argparse.Namespace) -> str | None:
    """The charger's password from a prompt (``--password``) or the first line of stdin (``--password-stdin``),
    never from the command line, where every user of the machine sees it in the process list."""

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.password is _ASK:
        password = _ask_password(f"password for charger {args.id}: ")
    elif args.password is not None:
        raise ValueError("--password takes no value (it would show in the process list): use --password to be "
                         "asked for it, or --password-stdin to read it from standard input")
    else:
        return None
    if not password:
        raise ValueError("password: empty")
    return password


def _ask_password(prompt: str) -> str:
    """Ask on the terminal; without one (a script, a pipe) say how to give it instead of failing in getpass."""
    import getpass

    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password on: pipe it in with --password-stdin")
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise UserError("no password given") from None


def cmd_chargers_add(args: argparse.Namespace) -> int:
    from .store import schema
    from .store.registry import RegistryError, register_charger

    try:
        password = _charger_password(args)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    engine = _engine(args)
    try:
        with engine.begin() as connection:
            c = schema.chargers
            existing = connection.execute(c.select().where(c.c.id == args.id)).first()
            register_charger(connection, args.id, password=password, timezone=args.timezone,
                             tariff_id=args.tariff, now=datetime.now(UTC))
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    verb = "registered" if existing is None else "updated" if existing.registered else "registered (seen before)"
    print(f"{verb} {args.id} (timezone {args.timezone}{', password set' if password else ''}"
          f"{', tariff ' + args.tariff if args.tariff else ''})")
    return 0


def cmd_chargers_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from .store import schema

    with _engine(args).connect() as connection:
        for row in connection.execute(select(schema.chargers).order_by(schema.chargers.c.id)):
            print(f"{row.id}\t{'registered' if row.registered else 'auto'}\t{row.timezone}\t"
                  f"{'online' if row.connected else 'offline'}\t{row.last_seen_at or '-'}")
    return 0


def cmd_chargers_site(args: argparse.Namespace) -> int:
    """Which site a charger stands at: chargers of one site offline together are one site incident."""
    from .store.faults import set_charger_site

    site = None if args.none else args.site
    if site is not None and not 1 <= len(site) <= 64:
        print("chargewatch: site: 1 to 64 characters", file=sys.stderr)
        return 2
    with _engine(args).begin() as connection:
        if not set_charger_site(connection, args.id, site):
            print(f"chargewatch: charger {args.id} not found", file=sys.stderr)
            return 2
    print(f"{args.id}: site {site or '(none)'}")
    return 0


def cmd_sites_support(args: argparse.Namespace) -> int:
    """Set a site's helpline, support hours and languages (shown on the driver page and with every guidance)."""
    from .feedback.errors import FieldValidationError
    from .feedback.support import parse_site_support
    from .store.support import put_site

    raw = {"helpline": args.helpline, "hours": args.hours,
           "languages": [code.strip() for code in args.languages.split(",") if code.strip()],
           "chat": not args.no_chat}
    try:
        site = parse_site_support(args.site, raw)
    except FieldValidationError as error:
        for problem in error.errors:
            print(f"chargewatch: {problem.field}: {problem.reason}", file=sys.stderr)
        return 2
    with _engine(args).begin() as connection:
        created = put_site(connection, site, datetime.now(UTC))
    print(f"site {site.site_id}: helpline {site.helpline}, {site.hours} ({', '.join(site.languages)})"
          f"{' created' if created else ' updated'}")
    return 0


def cmd_sites_list(args: argparse.Namespace) -> int:
    from .store.support import sites

    with _engine(args).connect() as connection:
        for site in sites(connection):
            print(f"{site.site_id}\t{site.helpline}\t{site.hours}\t{','.join(site.languages)}\t"
                  f"{'chat' if site.chat else 'phone only'}")
    return 0


def cmd_id_tags_add(args: argparse.Namespace) -> int:
    from .store.registry import RegistryError, put_id_tag

    try:
        with _engine(args).begin() as connection:
            put_id_tag(connection, {"id_tag": args.id_tag, "status": args.status, "expiry_date": args.expiry,
                                    "parent_id_tag": args.parent, "description": None})
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    print(f"id tag {args.id_tag}: {args.status}" + (f", expires {args.expiry.isoformat()}" if args.expiry else ""))
    return 0


def cmd_operators_add(args: argparse.Namespace) -> int:
    """Create a dashboard account, or set its password and role (which ends its open sessions)."""
    from .api.auth import AccountError, put_operator

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = _ask_password(f"password for {args.username}: ")
    try:
        with _engine(args).begin() as connection:
            put_operator(connection, args.username, password, args.role, datetime.now(UTC))
    except AccountError as exc:
        print(f"chargewatch: {exc}", file=sys.stderr)
        return 2
    print(f"operator {args.username}: {args.role}")
    return 0


def _api(args: argparse.Namespace, timeout: float = 30) -> httpx.Client:
    """A client of a running server's API; operator credentials from $CHARGEWATCH_API_USER/_PASSWORD."""
    user, password = os.environ.get("CHARGEWATCH_API_USER"), os.environ.get("CHARGEWATCH_API_PASSWORD")
    auth = httpx.BasicAuth(user, password) if user and password else None
    return httpx.Client(base_url=args.api.rstrip("/"), auth=auth, timeout=timeout)


def _answer(response: httpx.Response) -> int:
    """Print the API's JSON answer; exit 0 for success, 1 for a refusal, whose problem detail goes to stderr."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        print(json.dumps(body, indent=2, ensure_ascii=False) if body is not None else response.text)
        return 0
    detail = body.get("detail") if isinstance(body, dict) else None
    if response.status_code == 401:
        detail = "the API needs an operator login: set $CHARGEWATCH_API_USER and $CHARGEWATCH_API_PASSWORD"
    print(f"chargewatch: the API answered {response.status_code}: {detail or response.text.strip()[:300]}",
          file=sys.stderr)
    return 1


def command_actions() -> list[str]:
    """The actions `POST /api/v1/chargers/{charger_id}/commands` takes (its request model says which)."""
    from typing import get_args

    from .api.models import CommandIn

    return list(get_args(CommandIn.model_fields["action"].annotation))


def cmd_command(args: argparse.Namespace) -> int:
    with _api(args, timeout=args.timeout + 5) as api:
        response = api.post(f"/api/v1/chargers/{args.charger_id}/commands",
                            json={"action": args.action, "payload": args.payload or {}, "timeout": args.timeout})
    if not response.is_success:
        return _answer(response)
    body = response.json()
    print(json.dumps(body, indent=2, ensure_ascii=False))
    if body.get("status") != "answered":
        print(f"chargewatch: {args.charger_id} did not answer: {body.get('status')}", file=sys.stderr)
        return 1
    return 0


def cmd_incidents_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in {"status": args.status, "charger_id": args.charger, "severity": args.severity,
                                "limit": args.limit}.items() if v is not None}
    with _api(args) as api:
        response = api.get("/api/v1/incidents", params=params)
    if not response.is_success:
        return _answer(response)
    items = response.json()["items"]
    if not items:
        print("no incidents" + (f" ({args.status})" if args.status else ""))
    for item in items:
        where = item["charger_id"] + (f"/{item['connector_id']}" if item.get("connector_id") else "")
        print(f"#{item['number']}\t{item['status']}\t{item['severity']}\t{item['kind']}\t{where}\t"
              f"{item.get('code') or '-'}\t{item['first_seen']}")
    return 0


def cmd_incidents_show(args: argparse.Namespace) -> int:
    with _api(args) as api:
        return _answer(api.get(f"/api/v1/incidents/{args.number}"))


def cmd_incidents_ack(args: argparse.Namespace) -> int:
    with _api(args) as api:
        return _answer(api.post(f"/api/v1/incidents/{args.number}/acknowledge", json={"by": args.by}))


def cmd_incidents_resolve(args: argparse.Namespace) -> int:
    with _api(args) as api:
        return _answer(api.post(f"/api/v1/incidents/{args.number}/resolve", json={"by": args.by, "note": args.note}))


def cmd_incidents_action(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"action": args.action, "by": args.by}
    if args.connector is not None:
        body["connector_id"] = args.connector
    with _api(args, timeout=60) as api:
        return _answer(api.post(f"/api/v1/incidents/{args.number}/actions", json=body))


def cmd_uptime(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"year": args.year, "month": args.month}
    if args.charger:
        params["charger_id"] = args.charger
    with _api(args) as api:
        response = api.get("/api/v1/uptime.csv" if args.csv else "/api/v1/uptime", params=params)
    if not response.is_success or args.json:
        return _answer(response)
    if args.csv:
        print(response.text, end="")
        return 0
    report = response.json()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"NEVI uptime {report['year']:04d}-{report['month']:02d} (as of {report['as_of']})",
                  caption=report["formula"])
    for name, right in (("charger", False), ("connector", True), ("month %", True), ("outage min", True),
                        ("excluded min", True), ("12 months %", True)):
        table.add_column(name, justify="right" if right else "left")
    for port in report["ports"]:
        month, year = port["month"], port["trailing_12_months"]
        table.add_row(port["charger_id"], str(port["connector_id"]), f"{float(month['uptime_percent']):.2f}",
                      f"{float(month['outage_minutes']):.0f}", f"{float(month['excluded_minutes']):.0f}",
                      f"{float(year['uptime_percent']):.2f}")
    if not report["ports"]:
        print("no connectors" + (f" for charger {args.charger}" if args.charger else ""))
        return 0
    Console(width=max(100, Console().width)).print(table)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy import func, select

    from .gateway.replay import replay
    from .store import schema
    from .store.retention import pruned_before

    engine = _engine(args)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(schema.ocpp_messages)).scalar_one()
        pruned = pruned_before(connection)
    if pruned is not None and not args.allow_loss:
        raise UserError(f"the raw OCPP log was pruned (retention) before {pruned.isoformat(timespec='seconds')}: a "
                        "replay would delete the sessions and readings older than that; --allow-loss replays anyway")
    columns = (TextColumn("replaying the raw OCPP log"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # On stderr, so stdout keeps only the result line; rich draws nothing when stderr is no terminal.
    with Progress(*columns, transient=True, disable=args.quiet) as progress:
        task = progress.add_task("replay", total=total)
        report = replay(engine, progress=lambda done: progress.update(task, completed=done))
    print(f"replayed {report.messages} messages, {report.calls_applied} calls applied, {report.sessions} sessions")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _engine(args)
    print("database schema is up to date")
    return 0


def cmd_price(args: argparse.Namespace) -> int:
    from .billing.cli_price import price_command

    if len(args.files) > 2:
        print("chargewatch price: give at most two files: [TARIFF.json] CDR.json", file=sys.stderr)
        return 2
    tariff, cdr = (None, args.files[0]) if len(args.files) == 1 else args.files
    return price_command(tariff, cdr, args.timezone)


def cmd_tariffs_add(args: argparse.Namespace) -> int:
    """Store an OCPI tariff file as a new tariff, or as the next version of an existing one."""
    from pathlib import Path

    from .billing.tariff import TariffValidationError, tariff_from_json
    from .store.billing import store_tariff_version

    try:
        tariff = tariff_from_json(Path(args.file).read_bytes())
    except OSError as exc:
        print(f"chargewatch: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except TariffValidationError as exc:
        print(f"chargewatch: {args.file}: {exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    with _engine(args).begin() as connection:
        version = store_tariff_version(connection, tariff, datetime.now(UTC), create_only=False)
    print(f"tariff {tariff.id} version {version}")
    return 0


def cmd_tariffs_list(args: argparse.Namespace) -> int:
    from .store.billing import list_assignments, list_tariffs

    with _engine(args).connect() as connection:
        found = list_tariffs(connection)
        assignments = list_assignments(connection)
    for row, current in found:
        print(f"{row['id']}\tversion {row['current_version']}\t{current.tariff.currency}\t"
              f"{len(current.tariff.elements)} elements\tvalid from {current.valid_from.isoformat()}")
    for assignment in assignments:
        scope = ("default" if not assignment["charger_id"] else
                 f"charger {assignment['charger_id']}" + (f" connector {assignment['connector_id']}"
                                                          if assignment["connector_id"] else ""))
        print(f"assigned\t{scope}\t{assignment['tariff_id']}")
    return 0


def cmd_tariffs_assign(args: argparse.Namespace) -> int:
    from .store.billing import BillingConflict, assign_tariff

    if args.default == bool(args.charger):
        print("chargewatch: give either --charger ID or --default", file=sys.stderr)
        return 2
    if args.connector is not None and (not args.charger or args.connector < 1):
        print("chargewatch: --connector needs --charger and a connector id from 1", file=sys.stderr)
        return 2
    from sqlalchemy import select

    from .store import schema

    try:
        with _engine(args).begin() as connection:
            c = schema.chargers
            if args.charger and connection.execute(select(c.c.id).where(c.c.id == args.charger)).first() is None:
                raise UserError(f"charger {args.charger!r} does not exist (chargewatch chargers add {args.charger})")
            assign_tariff(connection, args.tariff_id, args.charger, args.connector, datetime.now(UTC))
    except BillingConflict as exc:
        print(f"chargewatch: {exc}", file=sys.stderr)
        return 2
    where = "as the default" if args.default else f"to {args.charger}" + (
        f" connector {args.connector}" if args.connector else "")
    print(f"tariff {args.tariff_id} assigned {where}")
    return 0


def cmd_invoices_reissue(args: argparse.Namespace) -> int:
    """Credit the invoice in force for a session and issue a corrected one (new numbers, nothing edited)."""
    from .sessions.links import session_token
    from .store.billing import BillingConflict, bill_of
    from .store.secrets import instance_secret
    from .workers.billing import Biller, config_from_env

    engine = _engine(args)
    config = config_from_env(os.environ)
    secret = instance_secret(engine)
    base = (config.public_url or "http://127.0.0.1:8080").rstrip("/")
    biller = Biller(engine, config, lambda tx: f"{base}/s/{session_token(secret, tx)}")
    with engine.connect() as connection:
        bill = bill_of(connection, args.transaction_id)
    if bill is None or not bill["invoice_number"]:
        print(f"chargewatch: session {args.transaction_id} has no invoice to re-issue", file=sys.stderr)
        return 2
    try:
        credit, invoice = biller.credit(bill["invoice_number"], args.reason, energy_wh=args.energy_wh,
                                        tariff_id=args.tariff)
    except BillingConflict as exc:
        print(f"chargewatch: {exc}", file=sys.stderr)
        return 2
    print(f"credit note {credit} cancels {bill['invoice_number']}; new invoice {invoice}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargewatch", description="Monitor EV charging sessions end to end.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, and the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True)

    def db_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="database URL (sqlite:///path or postgresql://…); default $CHARGEWATCH_DB, else "
                                    "sqlite:///chargewatch.db")

    def server_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="database URL (sqlite:///path or postgresql://…); default $CHARGEWATCH_DB")
        p.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; beyond loopback an operator login is required)")
        p.add_argument("--ocpp-port", type=cli_args.port, default=9000,
                       help="port chargers connect to: ws://HOST:PORT/ocpp/{charger_id} (default 9000)")
        p.add_argument("--http-port", type=cli_args.port, default=8080,
                       help="port of the dashboard and the API (default 8080)")
        p.add_argument("--heartbeat-interval", type=cli_args.positive, default=300,
                       help="seconds between heartbeats, told to chargers at boot (default 300)")
        p.add_argument("--node-id", default=os.environ.get("CHARGEWATCH_NODE_ID", "node-1"),
                       help="this node's name when several gateways share one database (default $CHARGEWATCH_NODE_ID "
                            "or node-1)")

    p = sub.add_parser("serve", help="run the OCPP gateway and the HTTP API")
    server_args(p)
    p.add_argument("--accept-unknown", action="store_true", help="admit chargers that are not registered")
    security_cli.tls_args(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="serve on embedded SQLite with a simulated fleet")
    server_args(p)
    p.add_argument("--chargers", type=cli_args.positive, default=20, help="simulated chargers (default 20)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", help="drive a fleet of simulated chargers against a server")
    p.add_argument("--url", default="ws://127.0.0.1:9000/ocpp",
                   help="the server's OCPP address, without the charger id (default ws://127.0.0.1:9000/ocpp)")
    p.add_argument("--chargers", type=cli_args.positive, default=10, help="how many chargers (default 10)")
    p.add_argument("--scenario", default="normal",
                   choices=["normal", "demo", "faults", "load", "ground-failure", "silent", "stalled", "boot-loop",
                            "flapping"],
                   help="a random fleet (normal, demo, faults, load) or one scripted fault per charger")
    p.add_argument("--duration", type=float, help="seconds to run (default: until interrupted)")
    p.add_argument("--prefix", default="SIM", help="charger ids are PREFIX-0001, PREFIX-0002, … (default SIM)")
    p.add_argument("--password", help="the chargers' security profile 1 password (registered chargers)")
    p.add_argument("--ocpp", default="1.6", choices=["1.6", "2.0.1", "mixed"],
                   help="the OCPP version the random fleet speaks (mixed: every fourth charger 2.0.1)")
    p.set_defaults(func=cmd_simulate)

    chargers = sub.add_parser("chargers", help="registered chargers").add_subparsers(dest="action", required=True)
    p = chargers.add_parser("add", help="register a charger (OCPP security profile 1 password)",
                            description="Register a charger, or update one registered or seen before.")
    p.add_argument("id", type=cli_args.charger_id, help="the charge point id, as in ws://…/ocpp/{id}")
    password = p.add_mutually_exclusive_group()
    password.add_argument("--password", nargs="?", const=_ASK, metavar="",
                          help="ask for the charger's password (security profile 1)")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--timezone", default="UTC", help="the station's IANA time zone, e.g. Europe/Berlin (default UTC)")
    p.add_argument("--tariff", help="id of a stored tariff (chargewatch tariffs add) billed at this charger")
    db_arg(p)
    p.set_defaults(func=cmd_chargers_add)
    p = chargers.add_parser("list", help="chargers with registration, time zone, presence and last contact")
    db_arg(p)
    p.set_defaults(func=cmd_chargers_list)
    p = chargers.add_parser("site", help="set the site a charger belongs to (groups outages of one site)")
    p.add_argument("id", type=cli_args.charger_id, help="the charger")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("site", nargs="?", help="the site's id (1 to 64 characters)")
    where.add_argument("--none", action="store_true", help="the charger belongs to no site")
    db_arg(p)
    p.set_defaults(func=cmd_chargers_site)

    sites = sub.add_parser("sites", help="sites' support records (helpline, hours, languages)") \
        .add_subparsers(dest="action", required=True)
    p = sites.add_parser("support", help="set a site's helpline, support hours and languages")
    p.add_argument("site", help="chargers.site_id, or a charger id for a charger without a site")
    p.add_argument("--helpline", required=True, help="e.g. '+49 30 1234567'")
    p.add_argument("--hours", required=True, help="as shown to drivers, e.g. 'Mon-Fri 08:00-20:00'")
    p.add_argument("--languages", default="en", help="comma-separated ISO 639-1 codes, e.g. de,en")
    p.add_argument("--no-chat", action="store_true", help="phone only: do not offer the session page's chat")
    db_arg(p)
    p.set_defaults(func=cmd_sites_support)
    p = sites.add_parser("list", help="sites with their support records")
    db_arg(p)
    p.set_defaults(func=cmd_sites_list)

    tags = sub.add_parser("id-tags", help="RFID / app tokens").add_subparsers(dest="action", required=True)
    p = tags.add_parser("add", help="add or replace an id tag and what an Authorize with it is answered")
    p.add_argument("id_tag", type=cli_args.id_tag, help="the card's or token's id (1 to 20 characters)")
    p.add_argument("--status", default="Accepted", choices=["Accepted", "Blocked", "Expired", "Invalid"],
                   help="the answer to an Authorize with it (default Accepted)")
    p.add_argument("--expiry", type=cli_args.instant, metavar="DATE",
                   help="when it expires: 2026-12-31 (midnight UTC) or 2026-12-31T23:59:00+01:00")
    p.add_argument("--parent", type=cli_args.id_tag, help="its group's id tag (parentIdTag)")
    db_arg(p)
    p.set_defaults(func=cmd_id_tags_add)

    operators = sub.add_parser("operators", help="dashboard accounts").add_subparsers(dest="action", required=True)
    p = operators.add_parser("add", help="create an operator account, or change its password and role")
    p.add_argument("username", help="the login name")
    p.add_argument("--role", default="viewer", choices=["admin", "viewer"],
                   help="admin may change things, viewer only looks (default viewer)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    db_arg(p)
    p.set_defaults(func=cmd_operators_add)

    actions = command_actions()
    p = sub.add_parser("command", help="send an OCPP command to a connected charger through the API",
                       description="Send an OCPP command to a connected charger and print its answer. Actions: "
                                   + ", ".join(actions) + ". OCPP 1.6 words are rendered for a 2.0.1 station.",
                       epilog="example: chargewatch command CP-1 Reset '{\"type\": \"Soft\"}'")
    p.add_argument("charger_id", type=cli_args.charger_id, help="the connected charger")
    p.add_argument("action", choices=actions, metavar="ACTION", help="one of the actions listed above")
    p.add_argument("payload", nargs="?", type=cli_args.json_object,
                   help="the OCPP payload as a JSON object, e.g. '{\"type\": \"Soft\"}' (default {})")
    p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for the charger's answer (default 30)")
    p.set_defaults(func=cmd_command)

    incidents = sub.add_parser("incidents", help="incidents of a running server (via its API)") \
        .add_subparsers(dest="action", required=True)

    def api_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api", default="http://127.0.0.1:8080", help="the server's HTTP address")

    p = incidents.add_parser("list", help="incidents, newest first")
    p.add_argument("--status", choices=["open", "acknowledged", "resolved", "active"], default="active",
                   help="active (default) is open or acknowledged")
    p.add_argument("--severity", choices=["info", "warning", "fault", "critical"], help="this severity and worse")
    p.add_argument("--charger", type=cli_args.charger_id, help="one charger's")
    p.add_argument("--limit", type=cli_args.positive, default=50, help="at most this many (default 50)")
    api_args(p)
    p.set_defaults(func=cmd_incidents_list)
    p = incidents.add_parser("show", help="one incident with its history, as JSON")
    p.add_argument("number", type=cli_args.positive, help="the incident's number")
    api_args(p)
    p.set_defaults(func=cmd_incidents_show)
    by_help = "who did it (default $USER)"
    p = incidents.add_parser("ack", help="acknowledge (stops escalation)")
    p.add_argument("number", type=cli_args.positive, help="the incident's number")
    p.add_argument("--by", default=os.environ.get("USER", "cli"), help=by_help)
    api_args(p)
    p.set_defaults(func=cmd_incidents_ack)
    p = incidents.add_parser("resolve", help="resolve an incident")
    p.add_argument("number", type=cli_args.positive, help="the incident's number")
    p.add_argument("--by", default=os.environ.get("USER", "cli"), help=by_help)
    p.add_argument("--note", help="what was done")
    api_args(p)
    p.set_defaults(func=cmd_incidents_resolve)
    p = incidents.add_parser("action", help="remote recovery: soft_reset, hard_reset, unlock, make_available, …")
    p.add_argument("number", type=cli_args.positive, help="the incident's number")
    p.add_argument("action", choices=["soft_reset", "hard_reset", "unlock", "make_available", "make_inoperative",
                                      "remote_stop"], help="the recovery command")
    p.add_argument("--connector", type=cli_args.positive, help="the connector (default: the incident's)")
    p.add_argument("--by", default=os.environ.get("USER", "cli"), help=by_help)
    api_args(p)
    p.set_defaults(func=cmd_incidents_action)

    p = sub.add_parser("uptime", help="NEVI uptime per connector for a month (via the API)")
    p.add_argument("--year", type=cli_args.year, required=True, metavar="YYYY", help="the year")
    p.add_argument("--month", type=int, required=True, choices=range(1, 13), metavar="1-12", help="the month")
    p.add_argument("--charger", type=cli_args.charger_id, help="one charger's connectors")
    machine = p.add_mutually_exclusive_group()
    machine.add_argument("--csv", action="store_true", help="CSV for spreadsheets and scripts instead of a table")
    machine.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    api_args(p)
    p.set_defaults(func=cmd_uptime)

    from .cli_local_list import register as local_list_commands
    local_list_commands(sub)

    p = sub.add_parser("replay", help="rebuild sessions and readings from the raw OCPP log")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-loss", action="store_true",
                   help="replay even though retention pruned the log (the sessions older than it are lost)")
    db_arg(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    db_arg(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("price", help="price an OCPI 2.2.1 CDR (with its own tariffs, or with TARIFF.json)",
                       description="Price one OCPI 2.2.1 CDR and print its totals as JSON (amounts as decimal "
                                   "strings). An OCPI response envelope around either file is unwrapped.")
    p.add_argument("files", nargs="+", metavar="[TARIFF.json] CDR.json",
                   help="the CDR, optionally preceded by the tariff to price it with; without a tariff file the "
                        "CDR's own `tariffs` are used")
    p.add_argument("--timezone", metavar="TZ",
                   help="IANA time zone the tariff's time restrictions are evaluated in (default: the CDR's "
                        "cdr_location.time_zone, else the zone of its country and coordinates, else UTC)")
    p.set_defaults(func=cmd_price)

    tariffs = sub.add_parser("tariffs", help="OCPI tariffs and their assignment").add_subparsers(
        dest="action", required=True)
    p = tariffs.add_parser("add", help="store an OCPI 2.2.1 tariff JSON file (a new version if the id exists)")
    p.add_argument("file", help="the OCPI Tariff object as JSON")
    db_arg(p)
    p.set_defaults(func=cmd_tariffs_add)
    p = tariffs.add_parser("list", help="tariffs with their current version, and assignments")
    db_arg(p)
    p.set_defaults(func=cmd_tariffs_list)
    p = tariffs.add_parser("assign", help="assign a tariff to a charger, a connector, or as the default")
    p.add_argument("tariff_id", help="a stored tariff's id")
    p.add_argument("--charger", type=cli_args.charger_id, help="assign to this charger")
    p.add_argument("--connector", type=int, help="… only to this connector of it")
    p.add_argument("--default", action="store_true", help="assign as the operator default")
    db_arg(p)
    p.set_defaults(func=cmd_tariffs_assign)

    from .cli_pki import register as register_pki
    register_pki(sub)
    charging_cli.register(sub)
    security_cli.register(sub)
    cli_raw_log.register(sub)

    invoices = sub.add_parser("invoices", help="issued invoices").add_subparsers(dest="action", required=True)
    p = invoices.add_parser("reissue", help="credit a session's invoice and issue a corrected one")
    p.add_argument("transaction_id", type=int, help="the session whose invoice is corrected")
    p.add_argument("--reason", default="re-issued by the operator", help="shown on the credit note")
    p.add_argument("--energy-wh", type=int, help="billable energy stated by the operator")
    p.add_argument("--tariff", help="re-price with this tariff (its version in force at the session start)")
    db_arg(p)
    p.set_defaults(func=cmd_invoices_reissue)
    cli_reservations.register(sub)
    from .cli_firmware import register as register_firmware  # firmware campaigns, diagnostics (own module)

    register_firmware(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, then run the subcommand inside the one error handler (cli_errors): a user error is a line on stderr
    and an exit code, for the subcommands other modules register too."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("alembic", "httpx", "httpcore"):  # a request log line per API call is noise to an operator
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.verbose and chatty != "alembic" else logging.WARNING)
    return report_errors(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
