"""Fault handling in the running server: bus events in, incidents, alerts and recovery out.

How it runs. A bus listener translates each domain event into detector signals and feeds the
in-memory :class:`FaultDetector` (quick, on the OCPP path). A background task ticks the detector
every ``tick_seconds``, then commits the incident events, and only after the commit publishes
``incident.*`` on the bus, sends alerts and pushes guidance to charger screens. The detector's state
names its open incidents by id (their rows hold them) and is saved in the same transaction whenever
an incident opens or resolves, else every ``state_save_seconds``: new evidence on an open incident
writes only that incident's row, not the fleet's state. A restart resumes with the open incidents as
committed and the rest of the state as of its last save (at most ``state_save_seconds`` old).

Signals from events (``at`` is the central system's receive time):

- ``charger.seen`` → MessageSeen; ``charger.connected`` / ``charger.disconnected`` → Connected /
  Disconnected; ``charger.booted`` → HeartbeatIntervalSet + BootReported.
- ``connector.status`` → StatusReported (the StatusNotification payload is the evidence), with the status
  transition rule of the charger's OCPP version (its adapter's ``allowed_after``).
- ``charger.security_event`` → SecurityReported, its severity from the catalog entry of its type (``info``
  types, e.g. StartupOfTheDevice, open no incident).
- ``authorization`` not Accepted → AuthorizeRejected / StartRejected (the session the gateway
  still opens for a rejected StartTransaction is then not fed as a start).
- ``session.started`` from a StartTransaction → SessionStarted; ``session.*`` from MeterValues →
  SessionProgress with the connector's last reported status; ``session.stopped`` →
  SessionStopped (``was_charging`` = the connector was Charging just before).
- ``feedback.fault_reported`` and ``POST /api/v1/driver/reports`` → DriverReport.
- ``command.answered`` for an accepted Reset or TriggerMessage BootNotification → RebootRequested (that
  reboot is no boot loop and no outage); ``connector.status`` carries the charger's timestamp, so a queued
  older report is applied in charger-time order.
- Each tick: chargers' sites from ``chargers.site_id`` → SiteAssigned (changes only); chargers the detector
  says are silent for 1.5 heartbeat intervals are probed (WebSocket ping + TriggerMessage Heartbeat);
  no OCPP answer within ``probe_timeout`` → ProbeUnanswered.
- A frozen-meter incident flags its session (``frozen_meter``) and holds it in billing review.

Configuration: ``CHARGEWATCH_FAULTS`` is a path to a JSON or TOML file (``.toml``), or inline JSON
(starting with ``{``). Durations are seconds. Every key is optional::

    {
      "tick_seconds": 5,                # how often time-based rules run
      "state_save_seconds": 30,         # detector state is also saved when an incident opens or resolves
      "detection": {"alert_delay": 180, "critical_alert_delay": 60, "escalate_after": 1800,
                    "heartbeat_grace_factor": 2.0, "reconnect_grace": 120, "flap_threshold": 3,
                    "stall_after": 600, "connector_ratings_w": {"CP1": 22000, "CP2/1": 150000}, ...},
                                        # any field of chargewatch.faults.FaultConfig
      "alerts": {
        "routing": {"by_severity": {"warning": ["dashboard", "webhook"]}, "escalation_channels": ["email"]},
        "webhooks": [{"url": "https://ops.example/hook", "secret": "s3cret", "min_severity": "warning"}],
        "email": {"host": "smtp.example", "port": 587, "starttls": true, "implicit_tls": false,
                  "username": "u", "password": "p", "from": "chargewatch@example",
                  "to": ["oncall@example"], "min_severity": "fault"},
                                        # without "host", the relay of CHARGEWATCH_SMTP_* is used
        "retry": {"max_attempts": 6, "initial_delay": 5, "factor": 2, "max_delay": 600},
        "dashboard_url": "https://chargewatch.example/"
      },
      "remediation": {"enabled": false, "max_actions_per_charger": 2, "window": 21600,
                      "rules": [{"name": "soft-reset-internal-error", "kind": "connector_error",
                                 "code": "InternalError", "action": "SoftReset", "after": 600}]},
                                        # actions: SoftReset, HardReset, UnlockConnector, SetInoperative,
                                        # SetOperative, StopSession (rendered for the charger's OCPP version)
      "driver_screen": {"enabled": false, "vendor_id": "com.vendor", "message_id": "DisplayMessage",
                        "language": "en"},
      "catalog_file": "/etc/chargewatch/catalog.json",  # operator overlay of the guidance catalog
      "vendor_catalog_dir": "/etc/chargewatch/vendors",  # ABB.json: {"codes": {"0x1F": {"title": ...,
                                        #   "driver_text": ..., "operator_checklist": [...]}}}
      "probe_timeout": 30               # a silent charger (1.5 heartbeats) gets this long to answer a probe
    }

The dashboard channel is the bus: ``incident.opened|updated|alert|escalated|resolved`` stream on
``GET /api/v1/events``; webhook and e-mail deliveries are logged in ``fault_alert_deliveries``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import tomllib
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from sqlalchemy import Connection

from ..api.faults import create_router
from ..billing.ocmf import VerificationStatus
from ..billing.settlement import Settlement
from ..domain import events as bus_events
from ..domain.model import RemedyIntent
from ..domain.signals import (
    AuthorizeRejected,
    BootReported,
    Connected,
    Disconnected,
    DriverReport,
    FirmwareFailed,
    FirmwareInstalled,
    HeartbeatIntervalSet,
    IncidentAcknowledged,
    IncidentClosed,
    MessageSeen,
    ProbeUnanswered,
    RebootRequested,
    SecurityReported,
    SessionProgress,
    SessionStarted,
    SessionStopped,
    Signal,
    SiteAssigned,
    StartRejected,
    StatusReported,
)
from ..faults.alerts import AlertRouting, Channel, RetrySchedule, build_email, event_type
from ..faults.catalog import SCREEN_TEXT_MAX, ErrorCatalog, Guidance
from ..faults.detection import (
    AlertDue,
    Escalated,
    FaultConfig,
    FaultDetector,
    IncidentEvent,
    Opened,
    Resolved,
    Updated,
)
from ..faults.incidents import Evidence as IncidentEvidence
from ..faults.incidents import (
    ExclusionReason,
    Incident,
    IncidentKind,
    Severity,
    acknowledge,
    add_note,
    assign,
    incident_key,
    resolve,
    set_exclusion,
)
from ..faults.remediation import RemediationPolicy, RemediationRule, RemedyAction, RemedyTaken, plan_remediation
from ..feedback.support import screen_text_with_helpline
from ..gateway.fault_log import requested_reboot
from ..notify.email import EmailDeliveryError, EmailSender, SmtpConfig
from ..notify.webhook import DeliveryAttempt, WebhookSender
from ..ocpp import versions
from ..ocpp.adapter import Adapter
from ..ocpp.v16.faults import screen_message
from ..store import billing as billing_store
from ..store import faults as store
from ..store import support as support_store

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)

CONFIG_ENV = "CHARGEWATCH_FAULTS"
# Incidents a driver standing at the connector can act on, so they are worth the charger's screen.
SCREEN_KINDS = frozenset({IncidentKind.CONNECTOR_ERROR, IncidentKind.STALLED_SESSION, IncidentKind.ABORTED_SESSION,
                          IncidentKind.FAILED_START})
T = TypeVar("T")
FROZEN_METER_FLAG = "frozen_meter"


class SettingsError(ValueError):
    """The operator's faults configuration is wrong; the message names the key."""


# ------------------------------------------------------------------ settings


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str
    min_severity: Severity = Severity.INFO


@dataclass(frozen=True)
class EmailTarget:
    smtp: SmtpConfig
    sender: str
    recipients: tuple[str, ...]
    min_severity: Severity = Severity.INFO


@dataclass(frozen=True)
class ScreenSettings:
    """OCPP 1.6 has no standard display message, so the DataTransfer ids are the charger vendor's."""

    vendor_id: str
    message_id: str = "DisplayMessage"
    language: str = "en"


@dataclass(frozen=True)
class FaultsSettings:
    detection: FaultConfig = field(default_factory=FaultConfig)
    tick_seconds: float = 5.0
    state_save_seconds: float = 30.0
    probe_timeout: float = 30.0  # how long a silent charger has to answer TriggerMessage Heartbeat
    routing: AlertRouting = field(default_factory=AlertRouting)
    webhooks: tuple[WebhookTarget, ...] = ()
    email: EmailTarget | None = None
    retry: RetrySchedule = field(default_factory=RetrySchedule)
    dashboard_url: str | None = None
    remediation: RemediationPolicy | None = None  # None: automatic remediation is off
    screen: ScreenSettings | None = None
    catalog: ErrorCatalog = field(default_factory=ErrorCatalog.builtin)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultsSettings:
        value = (environ if environ is not None else os.environ).get(CONFIG_ENV, "").strip()
        if not value:
            return cls()
        if value.startswith("{"):
            return cls.from_dict(_loads(value, CONFIG_ENV), base=Path.cwd())
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SettingsError(f"{CONFIG_ENV}={value}: cannot read ({error.strerror})") from error
        if path.suffix == ".toml":
            try:
                raw = tomllib.loads(text)
            except tomllib.TOMLDecodeError as error:
                raise SettingsError(f"{path}: {error}") from error
        else:
            raw = _loads(text, str(path))
        return cls.from_dict(raw, base=path.parent)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], base: Path | None = None) -> FaultsSettings:
        _only(raw, {"tick_seconds", "state_save_seconds", "probe_timeout", "detection", "alerts", "remediation",
                    "driver_screen", "catalog_file", "vendor_catalog_dir"}, "")
        alerts = _section(raw, "alerts")
        _only(alerts, {"routing", "webhooks", "email", "retry", "dashboard_url"}, "alerts.")
        catalog = ErrorCatalog.builtin()
        if raw.get("catalog_file"):
            catalog = catalog.with_operator_file((base or Path.cwd()) / str(raw["catalog_file"]))
        if raw.get("vendor_catalog_dir"):  # one JSON file per vendor: code -> title, driver text, checklist
            catalog = catalog.with_vendor_dir((base or Path.cwd()) / str(raw["vendor_catalog_dir"]))
        try:
            routing = AlertRouting.from_dict(_section(alerts, "routing"))
        except ValueError as error:
            raise SettingsError(f"alerts.routing: {error}") from error
        return cls(
            detection=_detection(_section(raw, "detection")),
            tick_seconds=_positive(raw, "tick_seconds", 5.0, ""),
            state_save_seconds=_positive(raw, "state_save_seconds", 30.0, ""),
            probe_timeout=_positive(raw, "probe_timeout", 30.0, ""),
            routing=routing,
            webhooks=tuple(
                _webhook(item, f"alerts.webhooks[{i}]") for i, item in enumerate(alerts.get("webhooks", []))
            ),
            email=_email(alerts["email"]) if alerts.get("email") else None,
            retry=_retry(_section(alerts, "retry")),
            dashboard_url=alerts.get("dashboard_url"),
            remediation=_remediation(_section(raw, "remediation")),
            screen=_screen(_section(raw, "driver_screen")),
            catalog=catalog,
        )


def _loads(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source}: not valid JSON at line {error.lineno} column {error.colno}") from error


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where.rstrip('.') or 'faults configuration'} must be an object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SettingsError(f"unknown key {where}{unknown[0]} (allowed: {', '.join(sorted(allowed))})")


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise SettingsError(f"{name} must be an object")
    return value


def _positive(raw: Mapping[str, Any], name: str, default: float, where: str) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingsError(f"{where}{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _severity(raw: Mapping[str, Any], where: str) -> Severity:
    try:
        return Severity(raw.get("min_severity", "info"))
    except ValueError:
        raise SettingsError(f"{where}.min_severity must be one of {', '.join(s.value for s in Severity)}") from None


def _detection(raw: Mapping[str, Any]) -> FaultConfig:
    defaults = FaultConfig()
    values: dict[str, Any] = {}
    known = {f.name for f in fields(FaultConfig)}
    _only(raw, known, "detection.")
    for name, value in raw.items():
        default = getattr(defaults, name)
        if isinstance(default, timedelta):
            values[name] = timedelta(seconds=_positive(raw, name, 0, "detection."))
        elif name == "connector_ratings_w":
            if not isinstance(value, Mapping) or not all(isinstance(v, int | float) for v in value.values()):
                raise SettingsError("detection.connector_ratings_w must map charger[/connector] to watts")
            values[name] = dict(value)
        elif isinstance(default, int | float) and not isinstance(value, bool) and isinstance(value, int | float):
            values[name] = type(default)(value)
        else:
            raise SettingsError(f"detection.{name} must be a number, got {value!r}")
    return replace(defaults, **values)


def _webhook(raw: Any, where: str) -> WebhookTarget:
    _only(raw, {"url", "secret", "min_severity"}, f"{where}.")
    url, secret = raw.get("url"), raw.get("secret")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise SettingsError(f"{where}.url must be an http(s) URL")
    if not isinstance(secret, str) or not secret:
        raise SettingsError(f"{where}.secret must be a non-empty string (receivers verify the signature with it)")
    return WebhookTarget(url, secret, _severity(raw, where))


def _email(raw: Mapping[str, Any]) -> EmailTarget:
    _only(raw, {"host", "port", "starttls", "implicit_tls", "username", "password", "timeout", "from", "to",
                "min_severity"}, "alerts.email.")
    recipients = raw.get("to")
    if isinstance(recipients, str):
        recipients = [recipients]
    if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        raise SettingsError("alerts.email.to must list at least one e-mail address")
    if not isinstance(raw.get("from"), str) or "@" not in raw["from"]:
        raise SettingsError("alerts.email.from must be an e-mail address")
    try:
        if "host" in raw:
            if not isinstance(raw["host"], str):
                raise SettingsError("alerts.email.host must be a host name")
            smtp = SmtpConfig(host=raw["host"], port=int(raw.get("port", 587)),
                              starttls=bool(raw.get("starttls", True)),
                              implicit_tls=bool(raw.get("implicit_tls", False)), username=raw.get("username"),
                              password=raw.get("password"), timeout_s=float(raw.get("timeout", 10.0)))
        else:  # the operator's one mail relay, shared with driver replies
            shared = SmtpConfig.from_env(os.environ)
            if shared is None:
                raise SettingsError("alerts.email.host is required unless CHARGEWATCH_SMTP_HOST is set")
            smtp = shared
    except ValueError as error:
        raise SettingsError(f"alerts.email: {error}") from error
    return EmailTarget(smtp, raw["from"], tuple(recipients), _severity(raw, "alerts.email"))


def _retry(raw: Mapping[str, Any]) -> RetrySchedule:
    _only(raw, {"max_attempts", "initial_delay", "factor", "max_delay"}, "alerts.retry.")
    default = RetrySchedule()
    try:
        return RetrySchedule(
            max_attempts=int(raw.get("max_attempts", default.max_attempts)),
            initial_delay=timedelta(seconds=_positive(raw, "initial_delay", default.initial_delay.total_seconds(),
                                                      "alerts.retry.")),
            factor=float(raw.get("factor", default.factor)),
            max_delay=timedelta(seconds=_positive(raw, "max_delay", default.max_delay.total_seconds(),
                                                  "alerts.retry.")),
        )
    except ValueError as error:
        raise SettingsError(f"alerts.retry: {error}") from error


# Remedy action names from before the actions were protocol-neutral (still accepted in configuration files).
_REMEDY_ALIASES = {"RemoteStopTransaction": RemedyAction.STOP_SESSION.value}


def _remediation(raw: Mapping[str, Any]) -> RemediationPolicy | None:
    _only(raw, {"enabled", "max_actions_per_charger", "window", "rules"}, "remediation.")
    if not raw.get("enabled", False):
        return None
    default = RemediationPolicy()
    rules = default.rules
    if "rules" in raw:
        parsed = []
        for i, rule in enumerate(raw["rules"]):
            where = f"remediation.rules[{i}]"
            _only(rule, {"name", "kind", "action", "after", "code", "include_acknowledged", "min_occurrences"},
                  f"{where}.")
            try:
                parsed.append(RemediationRule(
                    name=str(rule["name"]), kind=IncidentKind(rule["kind"]), action=RemedyAction(
                        _REMEDY_ALIASES.get(rule["action"], rule["action"])),
                    after=timedelta(seconds=_positive(rule, "after", 0, f"{where}.")), code=rule.get("code"),
                    include_acknowledged=bool(rule.get("include_acknowledged", False)),
                    min_occurrences=int(rule.get("min_occurrences", 1))))
            except KeyError as error:
                raise SettingsError(f"{where}.{error.args[0]} is required") from None
            except ValueError as error:
                raise SettingsError(f"{where}: {error}") from None
        rules = tuple(parsed)
    return RemediationPolicy(
        rules=rules,
        max_actions_per_charger=int(raw.get("max_actions_per_charger", default.max_actions_per_charger)),
        window=timedelta(seconds=_positive(raw, "window", default.window.total_seconds(), "remediation.")),
    )


def _screen(raw: Mapping[str, Any]) -> ScreenSettings | None:
    _only(raw, {"enabled", "vendor_id", "message_id", "language"}, "driver_screen.")
    if not raw.get("enabled", False):
        return None
    if not isinstance(raw.get("vendor_id"), str) or not raw["vendor_id"]:
        raise SettingsError("driver_screen.vendor_id is required when the screen push is enabled")
    return ScreenSettings(raw["vendor_id"], str(raw.get("message_id", "DisplayMessage")),
                          str(raw.get("language", "en")))


# ------------------------------------------------------------------ the worker


class FaultWorker:
    """The faults shell of one running server (see the module docstring)."""

    def __init__(self, cw: Chargewatch, settings: FaultsSettings) -> None:
        self.settings = settings
        self.catalog = settings.catalog
        self.engine = cw.engine
        self.bus = cw.bus
        self.gateway = cw.gateway
        self.secret = cw.services.secret
        self.node_id = cw.options.gateway.node_id
        with self.engine.connect() as connection:
            saved = store.load_detector_state(connection, self.node_id)
            named = FaultDetector.saved_incident_ids(saved) if saved else []
            self._saved_incidents = store.open_incidents_by_id(connection, named) if named else {}
            self._statuses = store.connector_statuses(connection)
            self._sessions = store.active_sessions(connection)
            self._remedy_history: list[RemedyTaken] = store.remediation_history(connection)
        self.detector = self._restore(saved)
        self.remediation_held: dict[str, str] = {}
        self._rejected_starts: set[tuple[str, str]] = set()
        # Per connector: charger time of the applied status, and the last status before Finishing.
        self._status_at: dict[tuple[str, int], datetime] = {}
        self._before_finishing: dict[tuple[str, int], str] = dict(self._statuses)
        self._sites: dict[str, str | None] = {}
        self._probing: set[str] = set()
        self._pending: list[IncidentEvent] = []
        self._dirty = False
        self._last_save = time.monotonic()
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self.saved_state_bytes = 0  # JSON size of the detector state at its last save
        self.quarantined: deque[dict[str, Any]] = deque(maxlen=1000)  # incidents the store refused (newest 1000)
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: httpx.AsyncClient | None = None

    def _restore(self, saved: dict[str, Any] | None) -> FaultDetector:
        if saved is None:
            return FaultDetector(self.settings.detection)
        try:
            detector = FaultDetector.from_dict(saved, self.settings.detection, self._saved_incidents)
        except (KeyError, TypeError, ValueError):
            log.exception("saved fault detector state is unreadable; starting with an empty detector")
            return FaultDetector(self.settings.detection)
        gone = len(FaultDetector.saved_incident_ids(saved)) - len(self._saved_incidents)
        if gone:
            log.warning("%d incidents the saved fault state names are not open in the store (resolved, or never "
                        "stored); detection goes on without them", gone)
        self._saved_incidents = {}
        return detector

    def now(self) -> datetime:
        """The gateway's clock, so detection, the raw log and the API agree (tests can move it)."""
        return self.gateway.now()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._loop_task), 5)
            except TimeoutError:  # a cycle stuck on the database: give up on it, the state below is saved anyway
                self._loop_task.cancel()
                await asyncio.gather(self._loop_task, return_exceptions=True)
        try:
            await self.flush(save_state=True)
        except Exception:  # noqa: BLE001 - shutting down anyway; the last committed state stays valid
            log.exception("could not save fault state at shutdown")
        if self._tasks:
            _, still = await asyncio.wait(set(self._tasks), timeout=2)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not self._stopping:
            try:
                async with asyncio.timeout(max(0.0, next_tick - loop.time())):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if self._stopping:
                return
            try:
                if loop.time() >= next_tick:
                    next_tick = loop.time() + self.settings.tick_seconds
                    now = self.now()
                    await self._refresh_sites()
                    self._take(self.detector.tick(now))
                    self._probe_silent(now)
                    if self.settings.remediation is not None:
                        await self._remediate(now)
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be down: keep the events, retry on the next tick
                log.exception("fault worker cycle failed; retrying")
                await asyncio.sleep(min(self.settings.tick_seconds, 1.0))

    async def _refresh_sites(self) -> None:
        """Sites change rarely (an operator sets them); each tick feeds only the changes."""
        sites = await self._db(store.charger_sites)
        for charger_id, site_id in sorted(sites.items()):
            if charger_id not in self._sites or self._sites[charger_id] != site_id:
                self._sites[charger_id] = site_id
                self._feed(SiteAssigned(charger_id=charger_id, site_id=site_id))

    def _probe_silent(self, now: datetime) -> None:
        for charger_id in self.detector.probes_due(now):
            self._dirty = True
            if charger_id in self.gateway.links and charger_id not in self._probing:
                self._probing.add(charger_id)
                self._spawn(self._probe(charger_id))

    async def _probe(self, charger_id: str) -> None:
        """WebSocket ping plus TriggerMessage Heartbeat: only an OCPP answer proves the charger works
        (a hung controller's WebSocket library still answers pings); a lost ping proves it does not."""
        timeout = self.settings.probe_timeout
        try:
            link = self.gateway.links.get(charger_id)
            evidence: dict[str, Any] = {"probe": ["ping", "TriggerMessage.Heartbeat"], "timeout_s": timeout}
            if link is not None:
                try:
                    pong = await link.websocket.ping()
                    await asyncio.wait_for(pong, timeout)
                    evidence["ping"] = "answered"
                except Exception:  # noqa: BLE001 - closed or timed out: either way no answer
                    evidence["ping"] = "unanswered"
            result = await self.gateway.call(charger_id, "TriggerMessage", {"requestedMessage": "Heartbeat"},
                                             timeout=timeout)
            evidence["trigger"] = result.status
            if result.status not in ("answered", "error"):
                self._feed(ProbeUnanswered(charger_id=charger_id, at=self.now(), evidence=evidence))
                await self.flush()
        finally:
            self._probing.discard(charger_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fault background task failed", exc_info=task.exception())

    async def _db(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            with self.engine.begin() as connection:
                return work(connection, *args, **kwargs)

        return await asyncio.to_thread(run)

    # ------------------------------------------------------------------ events → signals

    def on_event(self, event: bus_events.BusEvent) -> None:
        """Bus listener: on the OCPP path, so it only updates memory."""
        try:
            signals = self._signals(event)
        except (KeyError, TypeError, ValueError):
            log.exception("cannot read %s event for fault detection", event.kind)
            return
        for signal in signals:
            self._feed(signal)

    def _feed(self, signal: Signal) -> list[IncidentEvent]:
        events = self.detector.feed(signal)
        self._dirty = True
        self._take(events)
        return events

    def _take(self, events: Sequence[IncidentEvent]) -> None:
        if events:
            self._pending.extend(events)
            self._wake.set()

    def _signals(self, event: bus_events.BusEvent) -> list[Signal]:
        match event:
            case bus_events.ChargerSeen(charger_id=charger_id, at=at):
                return [MessageSeen(charger_id=charger_id, at=at)]
            case bus_events.ChargerConnected(charger_id=charger_id, at=at):
                return [Connected(charger_id=charger_id, at=at)]
            case bus_events.ChargerDisconnected(charger_id=charger_id, at=at):
                return [Disconnected(charger_id=charger_id, at=at)]
            case bus_events.ChargerBooted(charger_id=charger_id, at=at, heartbeat_interval=interval):
                signals: list[Signal] = []
                if isinstance(interval, int) and interval > 0:
                    signals.append(HeartbeatIntervalSet(charger_id=charger_id, seconds=interval))
                return [*signals, BootReported(charger_id=charger_id, at=at, evidence=event.evidence.to_json())]
            case bus_events.ConnectorStatus():
                return [self._status(event)]
            case bus_events.ChargerSecurityEvent(charger_id=charger_id, type=kind, at=at):
                return [SecurityReported(charger_id=charger_id, type=kind, tech_info=event.tech_info,
                                         severity=self.catalog.security_severity(kind).value, at=at,
                                         evidence=event.evidence.to_json())]
            case bus_events.FirmwareUpdateFailed(charger_id=charger_id, reason=reason, at=at):
                data = {"target_id": event.target_id, "campaign_id": event.campaign_id,
                        **(event.evidence.to_json() if event.evidence else {})}
                return [FirmwareFailed(charger_id=charger_id, reason=reason, at=at, evidence=data)]
            case bus_events.FirmwareUpdateInstalled(charger_id=charger_id, at=at):
                return [FirmwareInstalled(charger_id=charger_id, at=at, evidence={"target_id": event.target_id})]
            case bus_events.CommandAnswered():
                return self._command(event)
            case bus_events.Authorization():
                return self._authorization(event)
            case bus_events.SessionEvent():
                return self._session(event)
            case bus_events.FaultReported(transaction_id=transaction_id):
                return [DriverReport(charger_id=event.charger_id, connector_id=event.connector_id,
                                     session_id=str(transaction_id), category=event.category or "other",
                                     text=event.text, at=event.at)]
        return []

    def _status(self, event: bus_events.ConnectorStatus) -> Signal:
        connector = (event.charger_id, event.connector_id)
        reported = event.timestamp
        if connector not in self._status_at or reported >= self._status_at[connector]:
            self._statuses[connector] = event.status
            if event.status != "Finishing":
                self._before_finishing[connector] = event.status
            self._status_at[connector] = reported
        return StatusReported(
            charger_id=event.charger_id, connector_id=event.connector_id, status=event.status,
            error_code=event.error_code, info=event.info, vendor_id=event.vendor_id,
            vendor_error_code=event.vendor_error_code, at=event.at, message_id=event.evidence.message_id,
            reported_at=reported, evidence=event.evidence.to_json(),
            allowed_after=self._allowed_after(event.charger_id, event.connector_id, event.status),
            errors_reported=event.errors_reported)

    @staticmethod
    def _command(event: bus_events.CommandAnswered) -> list[Signal]:
        """A Reset or TriggerMessage BootNotification the charger accepted: the reboot is ours."""
        response = event.response or {}
        if event.status != "answered":
            return []
        if requested_reboot(event.action, event.payload, response):  # the rule the detection replay reads off the log
            return [RebootRequested(charger_id=event.charger_id, action=event.action, at=event.at)]
        return []

    def _authorization(self, event: bus_events.Authorization) -> list[Signal]:
        if event.status == "Accepted":
            return []
        status, id_tag, evidence = str(event.status), str(event.id_tag), event.evidence.to_json()
        if event.action == "StartTransaction":
            self._rejected_starts.add((event.charger_id, event.evidence.message_id))
            return [StartRejected(charger_id=event.charger_id, connector_id=event.connector_id or 0, id_tag=id_tag,
                                  status=status, at=event.at, evidence=evidence)]
        return [AuthorizeRejected(charger_id=event.charger_id, id_tag=id_tag, status=status, at=event.at,
                                  evidence=evidence)]

    def _session(self, event: bus_events.SessionEvent) -> list[Signal]:
        charger_id, connector_id, at = event.charger_id, event.connector_id, event.at
        session_id = str(event.transaction_id)
        action, message_id, evidence = event.evidence.action, event.evidence.message_id, event.evidence.to_json()
        if isinstance(event, bus_events.SessionStopped):
            self._sessions.pop((charger_id, connector_id), None)
            if event.status == "rejected":  # a refused start closing: never charged, so never aborted
                return []
            return [SessionStopped(
                charger_id=charger_id, connector_id=connector_id, session_id=session_id, at=at,
                reason=event.stop_reason or "Local", energy_wh=event.energy_wh,
                # Finishing comes before or after the StopTransaction; what counts is the state before it.
                was_charging=self._before_finishing.get((charger_id, connector_id)) == "Charging",
                evidence=evidence)]
        if action in ("StartTransaction", "TransactionEvent") and isinstance(event, bus_events.SessionStarted):
            self._sessions[(charger_id, connector_id)] = event.transaction_id  # 1.6 | 2.0.1
            if (charger_id, message_id) in self._rejected_starts:
                self._rejected_starts.discard((charger_id, message_id))
                return []
            return [SessionStarted(charger_id=charger_id, connector_id=connector_id, session_id=session_id, at=at,
                                   evidence=evidence)]
        if action in ("MeterValues", "TransactionEvent"):
            return [SessionProgress(
                charger_id=charger_id, connector_id=connector_id, session_id=session_id, at=at,
                power_w=None if event.power_w is None else float(event.power_w), energy_wh=event.energy_wh,
                connector_status=self._statuses.get((charger_id, connector_id), "Unknown"),
                soc=None if event.soc is None else float(event.soc),
                evidence={"action": action, "message_id": message_id})]
        return []

    # ------------------------------------------------------------------ commit, publish, alert

    async def flush(self, save_state: bool = False) -> None:
        """Commit pending incident events (with the detector state when an incident opened or resolved, or the
        state is due), then publish and alert."""
        async with self._flush_lock:
            due = self._dirty and time.monotonic() - self._last_save >= self.settings.state_save_seconds
            if not self._pending and not (save_state or due):
                return
            events, self._pending = self._pending, []
            # The saved state names the open incidents: it changes with the set, not with evidence on one.
            membership = any(isinstance(event, Opened | Resolved) for event in events)
            state = self.detector.to_dict(with_incidents=False) if save_state or due or membership else None
            if state is not None:
                self._dirty = False
            now = self.now()
            try:
                numbers = await self._db(self._commit, events, state, now)
            except Exception:
                if not events:
                    self._dirty = self._dirty or state is not None
                    raise
                # One unstorable incident must not stop the fleet's: commit them one by one, quarantine the ones
                # the store refuses while the database itself answers (an outage keeps them all pending).
                events, numbers = await self._commit_one_by_one(events, state, now)
            except BaseException:
                self._pending[:0] = events
                self._dirty = True
                raise
            if state is not None:
                self._last_save = time.monotonic()
                self.saved_state_bytes = len(json.dumps(state))
        for event in events:
            self._after_commit(event, numbers.get(event.incident.id))

    async def _commit_one_by_one(self, events: list[IncidentEvent], state: dict[str, Any] | None,
                                 now: datetime) -> tuple[list[IncidentEvent], dict[str, int]]:
        committed: list[IncidentEvent] = []
        numbers: dict[str, int] = {}
        for index, event in enumerate(events):
            try:
                numbers.update(await self._db(self._commit, [event], state, now))
            except Exception as error:
                try:  # is it this incident, or is the database gone?
                    await self._db(self._commit, [], state, now, probe=True)
                except BaseException:
                    self._pending[:0] = events[index:]
                    self._dirty = True
                    self._publish_committed(committed, numbers)
                    raise
                self._quarantine(event, error)
                continue
            except BaseException:
                self._pending[:0] = events[index:]
                self._dirty = True
                self._publish_committed(committed, numbers)
                raise
            committed.append(event)
        return committed, numbers

    def _publish_committed(self, events: Sequence[IncidentEvent], numbers: Mapping[str, int]) -> None:
        for event in events:
            self._after_commit(event, numbers.get(event.incident.id))

    def _quarantine(self, event: IncidentEvent, error: Exception) -> None:
        incident = event.incident
        if any(item["incident_id"] == incident.id for item in self.quarantined):
            return  # logged and counted once per incident; its later events are refused alike
        self.quarantined.append({"incident_id": incident.id, "charger_id": incident.charger_id,
                                 "kind": incident.kind.value, "event": type(event).__name__,
                                 "error": f"{type(error).__name__}: {error}"[:500]})
        self.gateway.metrics.quarantined.labels(worker="faults").inc()
        log.error("fault worker quarantined %s of incident %s (charger %s, %s): the store refused it (%s: %s); "
                  "the other chargers' incidents go on", type(event).__name__, incident.id, incident.charger_id,
                  incident.kind.value, type(error).__name__, error)

    def _commit(self, connection: Connection, events: Sequence[IncidentEvent], state: dict[str, Any] | None,
                now: datetime, probe: bool = False) -> dict[str, int]:
        numbers = store.save_incidents(connection, [event.incident for event in events], now)
        if state is not None:
            store.save_detector_state(connection, self.node_id, state, now)
        elif probe:  # nothing to write, but the question is whether the database answers
            connection.exec_driver_sql("SELECT 1")
        for event in events:
            if event.incident.kind is IncidentKind.FROZEN_METER and isinstance(event, Opened | Resolved):
                self._hold_frozen_session(connection, event.incident, now)
        return numbers

    @staticmethod
    def _hold_frozen_session(connection: Connection, incident: Incident, now: datetime) -> None:
        """A frozen register under-bills: flag the session and hold it in billing review (again at the stop,
        whose session write replaces the flags)."""
        if incident.session_id is None or not incident.session_id.isdigit():
            return
        transaction_id = int(incident.session_id)
        if not store.flag_session(connection, transaction_id, FROZEN_METER_FLAG):
            return
        data = incident.evidence[0].data if incident.evidence else {}
        reason = (f"frozen meter: register stayed at {data.get('register_wh')} Wh since {data.get('frozen_since')} "
                  f"while the charger reported power (about {data.get('expected_wh')} Wh not counted)")
        billing_store.record_review(connection, transaction_id,
                                    Settlement(True, reason, VerificationStatus.NOT_SIGNED), None, now)

    def _after_commit(self, event: IncidentEvent, number: int | None) -> None:
        self.bus.publish(BUS_EVENTS[type(event)](incident_summary(event.incident, number), event.at))
        incident = event.incident
        channels = self.settings.routing.channels_for(event)
        severity = incident.alerted_severity if isinstance(event, Resolved) and incident.alerted_severity \
            else incident.severity
        if Channel.WEBHOOK in channels:
            for target in self.settings.webhooks:
                if severity.rank >= target.min_severity.rank:
                    self._spawn(self._send_webhook(target, event))
        email = self.settings.email
        if Channel.EMAIL in channels and email is not None and severity.rank >= email.min_severity.rank:
            self._spawn(self._send_email(email, event))
        if isinstance(event, Opened):
            self._show_on_screen(incident)

    async def _send_webhook(self, target: WebhookTarget, event: IncidentEvent) -> None:
        delivery_id = str(uuid.uuid4())
        await self._new_delivery(delivery_id, event, "webhook", target.url)
        attempts: list[dict[str, Any]] = []

        def on_attempt(attempt: DeliveryAttempt) -> None:
            attempts.append({"attempt": attempt.attempt, "at": attempt.at.isoformat(),
                             "duration_s": round(attempt.duration_s, 3), "status_code": attempt.status_code,
                             "error": attempt.error})

        async def wait_then_retry(seconds: float) -> None:
            await self._db(store.update_delivery, delivery_id, attempts, "retrying", self.now())
            await asyncio.sleep(seconds)

        assert self._http is not None
        sender = WebhookSender(target.secret, schedule=self.settings.retry, client=self._http,
                               on_attempt=on_attempt, sleep=wait_then_retry)
        guidance = self.catalog.guidance_for_incident(event.incident, self.catalog.default_language)
        delivery = await sender.send_event(target.url, event, delivery_id, guidance)
        await self._db(store.update_delivery, delivery_id, attempts,
                       "delivered" if delivery.delivered else "failed", self.now())

    async def _send_email(self, target: EmailTarget, event: IncidentEvent) -> None:
        delivery_id = str(uuid.uuid4())
        await self._new_delivery(delivery_id, event, "email", ", ".join(target.recipients))
        guidance = self.catalog.guidance_for_incident(event.incident, self.catalog.default_language)
        message = build_email(event, guidance, target.sender, target.recipients, self.settings.dashboard_url)
        message["Message-ID"] = f"<{delivery_id}@chargewatch>"
        sender = EmailSender(target.smtp)
        attempts: list[dict[str, Any]] = []
        status = "failed"
        for number in range(1, self.settings.retry.max_attempts + 1):
            delay = self.settings.retry.delay_before(number).total_seconds()
            if delay:
                await self._db(store.update_delivery, delivery_id, attempts, "retrying", self.now())
                await asyncio.sleep(delay)
            started, clock = self.now(), time.perf_counter()
            try:
                await sender.send(message)
            except EmailDeliveryError as error:
                attempts.append({"attempt": number, "at": started.isoformat(),
                                 "duration_s": round(time.perf_counter() - clock, 3), "error": str(error)})
                continue
            attempts.append({"attempt": number, "at": started.isoformat(),
                             "duration_s": round(time.perf_counter() - clock, 3), "status_code": 250})
            status = "delivered"
            break
        await self._db(store.update_delivery, delivery_id, attempts, status, self.now())

    async def _new_delivery(self, delivery_id: str, event: IncidentEvent, channel: str, target: str) -> None:
        now = self.now()
        await self._db(store.insert_delivery, delivery_id=delivery_id, incident_id=event.incident.id,
                       event_type=event_type(event), channel=channel, target=target[:500], created_at=now,
                       updated_at=now)

    def _show_on_screen(self, incident: Incident) -> None:
        screen = self.settings.screen
        if (screen is None or incident.kind not in SCREEN_KINDS or not incident.connector_id
                or incident.charger_id not in self.gateway.links):
            return
        guidance = self.catalog.guidance_for_incident(incident, screen.language)
        self._spawn(self._show_guidance(incident, guidance, screen))

    async def _show_guidance(self, incident: Incident, guidance: Guidance, screen: ScreenSettings) -> None:
        """The guidance ends with the site's helpline when the site has a support record ('Help: +49 …')."""
        site = await self._db(support_store.site_for_charger, incident.charger_id)
        text = screen_text_with_helpline(guidance.screen_text, site, SCREEN_TEXT_MAX, guidance.language)
        # In 1.6 words (a vendor DataTransfer), rendered by the charger's adapter (2.0.1: SetDisplayMessage) here,
        # so the action row records what the charger gets.
        payload = screen_message(text, guidance.language, screen.vendor_id, screen.message_id, incident.connector_id)
        action = "DataTransfer"
        link = self.gateway.links.get(incident.charger_id)
        try:
            if link is not None:
                rendered = link.adapter.render(action, payload, link.state)
                action, payload = rendered.action, rendered.payload
        except ValueError:
            pass  # the gateway's call refuses it the same way, and the row records why
        await self.run_action(incident.id, incident.charger_id, "show_guidance", action, payload,
                              requested_by="driver-screen")

    # ------------------------------------------------------------------ recovery

    async def run_action(self, incident_id: str, charger_id: str, action: str, ocpp_action: str,
                         payload: dict[str, Any], requested_by: str, rule: str | None = None) -> dict[str, Any]:
        """Send one command for an incident and record the charger's answer next to it."""
        action_id = await self._db(store.insert_action, incident_id=incident_id, charger_id=charger_id,
                                   action=action, rule=rule, ocpp_action=ocpp_action, payload=payload,
                                   requested_by=requested_by, requested_at=self.now())
        try:
            result = await self.gateway.call(charger_id, ocpp_action, payload)
            status, response = result.status, result.response if result.response is not None else result.error
        except ValueError as error:
            status, response = "error", {"reason": str(error)}
        await self._db(store.finish_action, action_id, status, response, self.now())
        row = await self._db(store.action_row, action_id)
        self.bus.publish(bus_events.IncidentActionTaken(incident_id, charger_id, action, ocpp_action, status, response,
                                                        self.now()))
        return row

    def _allowed_after(self, charger_id: str, connector_id: int, status: str) -> frozenset[str] | None:
        """The statuses ``status`` may follow under the transition rules of the charger's OCPP version."""
        link = self.gateway.links.get(charger_id)
        return None if link is None else link.adapter.allowed_after(connector_id, status)

    async def _adapter(self, charger_id: str) -> Adapter:
        """The adapter of the charger's OCPP version: of its connection here, else of its latest one."""
        link = self.gateway.links.get(charger_id)
        if link is not None:
            return link.adapter
        return versions.adapter_for(await self._db(store.ocpp_version, charger_id))

    async def send_remedy(self, incident_id: str, charger_id: str, action: str, intent: RemedyIntent,
                          requested_by: str, rule: str | None = None) -> dict[str, Any]:
        """Send a remedy in the words of the charger's OCPP version; the action row records what was sent.
        ValueError (nothing sent, nothing recorded) when that version cannot say it."""
        rendered = (await self._adapter(charger_id)).render_remedy(intent)
        return await self.run_action(incident_id, charger_id, action, rendered.action, rendered.payload,
                                     requested_by=requested_by, rule=rule)

    async def _remediate(self, now: datetime) -> None:
        policy = self.settings.remediation
        assert policy is not None
        busy = {charger for (charger, connector) in self._sessions
                if self._statuses.get((charger, connector)) == "Charging"}
        incidents = self.detector.open_incidents
        sessions = {incident.session_id for incident in incidents if incident.session_id}
        refs = await self._db(store.transaction_refs, sessions) if sessions else {}
        plan = plan_remediation(incidents, self._remedy_history, now, policy, busy, refs)
        held = dict(plan.skipped)
        for command in plan.commands:
            self._remedy_history.append(command)
            try:
                rendered = (await self._adapter(command.charger_id)).render_remedy(command.intent)
            except ValueError as error:  # the rule fired; why nothing went out is said on the incident
                held[command.incident_id] = f"{command.rule}: {error}"
                continue
            self._spawn(self.run_action(command.incident_id, command.charger_id, "remediation", rendered.action,
                                        rendered.payload, requested_by="remediation", rule=command.rule))
        self.remediation_held = held

    # ------------------------------------------------------------------ operator lifecycle

    async def incident(self, number: int) -> dict[str, Any]:
        row = await self._db(store.incident_row, number)
        if row is None:
            raise store.IncidentNotFound(f"incident {number} not found")
        return row

    def _is_tracked(self, incident_id: str) -> bool:
        return any(incident.id == incident_id for incident in self.detector.open_incidents)

    async def acknowledge(self, number: int, by: str) -> dict[str, Any]:
        """Raises InvalidTransition when the incident is resolved or already acknowledged."""
        incident = store.incident_from_row(await self.incident(number))
        now = self.now()
        if self._is_tracked(incident.id):
            self._feed(IncidentAcknowledged(incident_id=incident.id, by=by, at=now))
        else:
            self._take([Updated(acknowledge(incident, now, by), now)])
        await self.flush()
        return await self.incident(number)

    async def resolve(self, number: int, by: str, note: str | None) -> dict[str, Any]:
        incident = store.incident_from_row(await self.incident(number))
        now = self.now()
        if self._is_tracked(incident.id):
            self._feed(IncidentClosed(incident_id=incident.id, by=by, at=now, note=note))
        else:
            evidence = IncidentEvidence(now, "Operator", {"by": by} if note is None else {"by": by, "note": note})
            self._take([Resolved(resolve(incident, max(now, incident.first_seen), evidence), now, evidence)])
        await self.flush()
        return await self.incident(number)

    async def assign(self, number: int, assignee: str | None) -> dict[str, Any]:
        incident = assign(store.incident_from_row(await self.incident(number)), assignee)
        return await self._operator_update(number, incident, assignee=incident.assignee)

    async def add_note(self, number: int, author: str, text: str) -> dict[str, Any]:
        incident = add_note(store.incident_from_row(await self.incident(number)), self.now(), author, text)
        return await self._operator_update(number, incident, notes=[note.to_dict() for note in incident.notes])

    async def set_exclusion(self, number: int, reason: ExclusionReason | None) -> dict[str, Any]:
        incident = set_exclusion(store.incident_from_row(await self.incident(number)), reason)
        return await self._operator_update(number, incident, exclusion_reason=None if reason is None else reason.value)

    async def _operator_update(self, number: int, incident: Incident, **values: Any) -> dict[str, Any]:
        now = self.now()
        await self._db(store.set_operator_fields, number, now, **values)
        self.bus.publish(bus_events.IncidentUpdated(incident_summary(incident, number), now))
        return await self.incident(number)

    async def report_problem(self, charger_id: str, connector_id: int | None, transaction_id: int | None,
                             category: str, text: str, contact: str | None) -> tuple[dict[str, Any], bool]:
        """Open or join the driver-report incident of the connector; returns (incident row, joined)."""
        now = self.now()
        events = self._feed(DriverReport(charger_id=charger_id, connector_id=connector_id,
                                         session_id=None if transaction_id is None else str(transaction_id),
                                         category=category, text=text, at=now))
        key = incident_key(IncidentKind.DRIVER_REPORT, charger_id, connector_id, category)
        mine = [event for event in events if event.incident.key == key]
        joined = not any(isinstance(event, Opened) for event in mine)
        await self.flush()
        incident_id = mine[-1].incident.id
        await self._db(store.insert_report, incident_id=incident_id, charger_id=charger_id,
                       connector_id=connector_id, transaction_id=transaction_id, category=category, text=text,
                       contact=contact, at=now)
        numbers = await self._db(store.incident_numbers, [incident_id])
        return await self.incident(numbers[incident_id]), joined


def incident_summary(incident: Incident, number: int | None) -> bus_events.IncidentSummary:
    """What the live stream carries: enough to render a row; the evidence is one API call away."""
    return bus_events.IncidentSummary(
        number=number, id=incident.id, kind=incident.kind.value, severity=incident.severity.value,
        status=incident.status.value, charger_id=incident.charger_id, connector_id=incident.connector_id,
        code=incident.code, session_id=incident.session_id, first_seen=incident.first_seen,
        last_seen=incident.last_seen, occurrences=incident.occurrences, escalation_level=incident.escalation_level)


# The bus event each incident lifecycle event is published as.
BUS_EVENTS: dict[type[IncidentEvent], type[bus_events.IncidentChanged]] = {
    Opened: bus_events.IncidentOpened, Updated: bus_events.IncidentUpdated, Escalated: bus_events.IncidentEscalated,
    Resolved: bus_events.IncidentResolved, AlertDue: bus_events.IncidentAlert,
}


def install(cw: Chargewatch, settings: FaultsSettings | None = None) -> None:
    """Wire fault handling into ``cw``: listener, background loop, API routes."""
    worker = FaultWorker(cw, settings or FaultsSettings.from_env())
    cw.bus.listen(worker.on_event)
    cw.app.include_router(create_router(worker))
    cw.app.state.faults = worker
    cw.on_start(worker.start)
    cw.on_stop(worker.stop)

