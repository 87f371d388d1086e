"""Billing in the running server: every stopped session gets its CDR and invoice, with no manual step.

A session's stop (the ``session.stopped`` event, after commit) queues it; a few background workers
settle it (meter assessment, periods in the charger's time zone, price, OCMF check) and issue the
invoice in one transaction with its gap-free number. On start, completed sessions without a bill
are queued again, so a crash or a restart never skips one. Pricing and PDF work run in threads: the
event loop that answers chargers only enqueues.

Operator (seller) details come from the environment, with demo defaults:
``CHARGEWATCH_OPERATOR_ID`` (the numbering series), ``CHARGEWATCH_OPERATOR_NAME``,
``CHARGEWATCH_OPERATOR_STREET`` / ``_POSTAL_CODE`` / ``_CITY`` / ``_COUNTRY`` (ISO alpha-3),
``CHARGEWATCH_OPERATOR_VAT_ID``, ``CHARGEWATCH_OPERATOR_COUNTRY_CODE`` / ``_PARTY_ID`` (OCPI party),
``CHARGEWATCH_INVOICE_PREFIX`` and ``CHARGEWATCH_PUBLIC_URL`` (base of the driver link on invoices).

Running cost on a 2.0.1 station's screen (OCPP 2.0.1 block I, use case I05): every
``CHARGEWATCH_COST_UPDATE_SECONDS`` (default 60; 0 turns it off) each running session on a 2.0.1
station whose cost the engine can tell (a tariff applies, nothing held for review) gets a CostUpdated
with its running total incl. VAT, rounded to the currency's minor unit: the live cost of the driver
page, by the same engine that bills the session. Only when it changed since the last one sent, and
by the node holding the station's connection. 2.0.1
sends no totalCost in the answer to an Updated TransactionEvent ("SHALL only be sent when charging has
ended"); the final one goes with Ended.

A session whose billing raises (a bad row: a charger time zone that does not exist, say) is retried after the
delays of ``CHARGEWATCH_BILLING_RETRY_SECONDS`` (default ``1,10,60``); when the last retry fails too it is
quarantined: held in the review queue (``GET /api/v1/reviews``) with the error as its reason, logged once as an
error with the session id, and counted in ``chargewatch_worker_quarantined_total{worker="billing"}``. The other
sessions go on being billed, and a later start does not retry it (it has its bill row now); the operator fixes
the row and resolves the review. While the database itself does not answer, nothing counts against the session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from ..api.billing import billing_router
from ..api.disputes import disputes_router
from ..api.feedback import FeedbackConfig
from ..api.receipts import receipt_router
from ..billing.invoice import invoice_from_json
from ..billing.invoice_pdf import render_pdf
from ..billing.ocmf import VerificationStatus
from ..billing.periods import DEFAULT_IDLE_POWER_W
from ..billing.price import round_money, round_ocpi
from ..billing.price_sheet import PriceSheet, price_sheet
from ..billing.settlement import Operator, SessionUsage, Settlement, cost_json, issue_documents, settle
from ..domain.events import BillingDisputed, BusEvent, SessionStarted, SessionStopped
from ..feedback.support import still_stuck
from ..store import billing as store
from ..store import disputes as dispute_store
from ..store import support as support_store

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BillingConfig:
    operator: Operator
    public_url: str | None = None
    workers: int = 4
    idle_power_w: int = DEFAULT_IDLE_POWER_W
    cost_update_seconds: float = 60.0
    # Delays before the retries of a session whose billing failed; after the last one fails it is quarantined.
    retry_delays: tuple[float, ...] = (1.0, 10.0, 60.0)


@dataclass(frozen=True)
class RunningCost:
    """What a CostUpdated tells a 2.0.1 station: its transaction's running total incl. VAT."""

    transaction_id: int
    charger_id: str
    transaction_ref: str
    total_cost: Decimal


def config_from_env(env: Mapping[str, str]) -> BillingConfig:
    def get(name: str, default: str) -> str:
        return env.get(f"CHARGEWATCH_{name}") or default

    street, postal, city = get("OPERATOR_STREET", "Musterstrasse 1"), get("OPERATOR_POSTAL_CODE", "10115"), get(
        "OPERATOR_CITY", "Berlin")
    operator = Operator(
        id=get("OPERATOR_ID", "default"),
        name=get("OPERATOR_NAME", "Chargewatch Demo Charging GmbH"),
        address_lines=(street, f"{postal} {city}"),
        vat_id=get("OPERATOR_VAT_ID", "DE000000000"),
        country_code=get("OPERATOR_COUNTRY_CODE", "DE"),
        party_id=get("OPERATOR_PARTY_ID", "CWA"),
        street=street, postal_code=postal, city=city,
        country=get("OPERATOR_COUNTRY", "DEU"),
        latitude=get("OPERATOR_LATITUDE", "52.520008"),
        longitude=get("OPERATOR_LONGITUDE", "13.404954"),
        invoice_prefix=get("INVOICE_PREFIX", "CW"),
    )
    try:
        cost_update_seconds = float(get("COST_UPDATE_SECONDS", "60"))
    except ValueError:
        raise ValueError("CHARGEWATCH_COST_UPDATE_SECONDS: not a number of seconds") from None
    if not 0 <= cost_update_seconds <= 86_400:
        raise ValueError("CHARGEWATCH_COST_UPDATE_SECONDS: must be between 0 (off) and 86400")
    try:
        retry_delays = tuple(float(item) for item in get("BILLING_RETRY_SECONDS", "1,10,60").split(","))
    except ValueError:
        raise ValueError("CHARGEWATCH_BILLING_RETRY_SECONDS: comma-separated seconds, e.g. 1,10,60") from None
    if len(retry_delays) > 10 or not all(0 < delay <= 86_400 for delay in retry_delays):
        raise ValueError("CHARGEWATCH_BILLING_RETRY_SECONDS: at most 10 delays, each 0 < seconds <= 86400")
    return BillingConfig(operator=operator, public_url=env.get("CHARGEWATCH_PUBLIC_URL") or None,
                         cost_update_seconds=cost_update_seconds, retry_delays=retry_delays)


class Biller:
    """Settles and issues bills against the database; every method is blocking (run it in a thread)."""

    def __init__(self, engine: Engine, config: BillingConfig, driver_url: Callable[[int], str | None],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine = engine
        self.config = config
        self.driver_url = driver_url
        self.now = now

    @property
    def operator(self) -> Operator:
        return self.config.operator

    def pin(self, transaction_id: int) -> store.TariffVersion | None:
        with self.engine.begin() as connection:
            return store.pin_tariff(connection, transaction_id, self.now())

    def settle(self, transaction_id: int, *, stated_energy_wh: int | None = None,
               tariff: store.TariffVersion | None = None, refusal_reviewed: bool = False
               ) -> tuple[SessionUsage, dict[str, Any], store.TariffVersion | None, Settlement] | None:
        """The session as it would be billed now (with its pinned tariff unless `tariff` is given)."""
        pinned = tariff or self.pin(transaction_id)
        with self.engine.connect() as connection:
            loaded = store.session_usage(connection, transaction_id)
        if loaded is None:
            return None
        usage, charger = loaded
        if pinned is None:
            reason = "no tariff is assigned to this connector or charger and there is no default tariff"
            return usage, charger, None, Settlement(True, reason, VerificationStatus.NOT_SIGNED)
        settlement = settle(usage, pinned.tariff, public_key=charger.get("ocmf_public_key"),
                            stated_energy_wh=stated_energy_wh, idle_power_w=self.config.idle_power_w,
                            refusal_reviewed=refusal_reviewed)
        return usage, charger, pinned, settlement

    def total_cost(self, transaction_id: int) -> Decimal | None:
        """What the invoice of this completed session will say in total (gross), or None when it cannot be
        billed without review: the figure a 2.0.1 station shows the driver as totalCost."""
        settled = self.settle(transaction_id)
        if settled is None or settled[0].stopped_at is None or settled[2] is None or settled[3].needs_review:
            return None
        usage, charger, pinned, settlement = settled
        now = self.now()
        invoice, _ = issue_documents(usage, settlement, pinned.tariff, self.operator, number="PREVIEW",
                                     issued_at=now, issue_date=now.date(), feedback_url=None,
                                     public_key=charger.get("ocmf_public_key"))
        return invoice.total_gross

    def bill(self, transaction_id: int) -> str | None:
        """Issue the bill of a completed session once; None if it waits for review or already has a bill."""
        with self.engine.connect() as connection:
            if store.bill_of(connection, transaction_id) is not None:
                return None
        settled = self.settle(transaction_id)
        if settled is None or settled[0].stopped_at is None:
            return None
        usage, charger, pinned, settlement = settled
        now = self.now()
        with self.engine.begin() as connection:
            if settlement.needs_review or pinned is None:
                if store.record_review(connection, transaction_id, settlement, pinned, now):
                    log.warning("session %d needs review: %s", transaction_id, settlement.reason)
                return None
            if not store.claim_session(connection, transaction_id, now, from_review=False):
                return None
            number = store.issue_invoice(connection, self.operator, usage, settlement, pinned, now,
                                         self.driver_url(transaction_id), charger.get("ocmf_public_key"))
        self.pdf(number)
        return number

    def quarantine(self, transaction_id: int, reason: str) -> bool:
        """Billing this session keeps failing: hold it for an operator with the error as the reason (False when
        it has a bill already, e.g. only its PDF failed)."""
        settlement = Settlement(True, f"billing failed: {reason}"[:1000], VerificationStatus.NOT_SIGNED)
        with self.engine.begin() as connection:
            return store.record_review(connection, transaction_id, settlement, None, self.now())

    def database_answers(self) -> bool:
        """Is the failure the session's or the database's? (An outage must not quarantine anything.)"""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception:  # noqa: BLE001 - whatever it is, the database does not answer
            return False
        return True

    def dispute(self, transaction_id: int, text: str) -> bool:
        """A billing dispute from the driver's feedback: an unbilled session goes to the review queue; against an
        issued invoice it is recorded for the operator (`store.disputes`), who rejects it or credits the invoice
        (`workers.disputes`). True if something new waits for the operator."""
        with self.engine.begin() as connection:
            if store.hold_for_dispute(connection, transaction_id, text, self.now()):
                log.warning("session %d held for review: the driver disputes the bill", transaction_id)
                return True
            bill = store.bill_of(connection, transaction_id)
            if bill is None or bill["status"] != "issued" or not bill["invoice_number"]:
                return False
            dispute_id, new = dispute_store.open_dispute(connection, transaction_id, bill["invoice_number"], text,
                                                         self.now())
        if new:
            log.warning("driver disputes invoice %s of session %d (dispute %d)", bill["invoice_number"],
                        transaction_id, dispute_id)
        return new

    def catch_up(self) -> list[int]:
        with self.engine.connect() as connection:
            return store.unbilled_sessions(connection)

    def resolve(self, transaction_id: int, *, resolved_by: str, note: str, energy_wh: int | None = None,
                waive: bool = False) -> str | None:
        """An operator's decision on a session under review: bill it (optionally with stated energy) or waive."""
        now = self.now()
        with self.engine.connect() as connection:
            bill = store.bill_of(connection, transaction_id)
        if bill is None or bill["status"] != "needs_review":
            raise store.BillingConflict(f"session {transaction_id} is not waiting for review")
        if waive:
            with self.engine.begin() as connection:
                if not store.waive(connection, transaction_id, resolved_by, note, now):
                    raise store.BillingConflict(f"session {transaction_id} is not waiting for review")
            return None
        # An operator's decision to bill covers a refused start that charged: it is billed as measured.
        settled = self.settle(transaction_id, stated_energy_wh=energy_wh, refusal_reviewed=True)
        assert settled is not None
        usage, charger, pinned, settlement = settled
        if pinned is None or settlement.needs_review:
            raise store.BillingConflict(f"still cannot bill session {transaction_id}: {settlement.reason}")
        with self.engine.begin() as connection:
            if not store.claim_session(connection, transaction_id, now, from_review=True):
                raise store.BillingConflict(f"session {transaction_id} is not waiting for review")
            number = store.issue_invoice(connection, self.operator, usage, settlement, pinned, now,
                                         self.driver_url(transaction_id), charger.get("ocmf_public_key"),
                                         resolution=(resolved_by, note))
        self.pdf(number)
        return number

    def credit(self, number: str, reason: str, *, reissue: bool = True, energy_wh: int | None = None,
               tariff_id: str | None = None,
               also: Callable[[Connection, str, str | None], None] | None = None) -> tuple[str, str | None]:
        """Credit note + credit CDR for invoice `number`, then (by default) a new invoice with a new number.

        Both happen in one transaction, so a correction never leaves a session half-billed; ``also(connection,
        credit_number, new_number)`` runs in it too (a dispute decided with the correction), and may refuse it.
        """
        now = self.now()
        with self.engine.connect() as connection:
            record = store.invoice_record(connection, number)
            if record is None:
                raise LookupError(f"invoice {number} not found")
            started = store.session_usage(connection, record["transaction_id"])
            target = None
            if tariff_id is not None and started is not None:
                target = store.version_in_force(connection, tariff_id, started[0].started_at)
                if target is None:
                    raise store.BillingConflict(f"tariff {tariff_id!r} does not exist")
        transaction_id = record["transaction_id"]
        settled = (self.settle(transaction_id, stated_energy_wh=energy_wh, tariff=target, refusal_reviewed=True)
                   if reissue else None)  # it was invoiced once, so any refused start was already reviewed
        if settled is not None and (settled[2] is None or settled[3].needs_review):
            raise store.BillingConflict(f"cannot re-issue session {transaction_id}: {settled[3].reason}")
        with self.engine.begin() as connection:
            credit_number = store.credit(connection, self.operator, number, reason, now)
            new_number = None
            if settled is not None:
                usage, charger, pinned, settlement = settled
                assert pinned is not None
                if tariff_id is not None:
                    store.repin_tariff(connection, transaction_id, tariff_id, now)
                new_number = store.issue_invoice(connection, self.operator, usage, settlement, pinned, now,
                                                 self.driver_url(transaction_id), charger.get("ocmf_public_key"),
                                                 reason=f"re-issue of {number}: {reason}")
            else:
                store.restore_after_credit(connection, transaction_id, reason, now)
            if also is not None:
                also(connection, credit_number, new_number)
        for issued in (credit_number, new_number):
            if issued is not None:
                self.pdf(issued)
        return credit_number, new_number

    def cost(self, transaction_id: int) -> dict[str, Any] | None:
        """The session's cost: the issued bill when there is one, else the same engine on its readings so far."""
        with self.engine.connect() as connection:
            bill = store.bill_of(connection, transaction_id)
            cdr_text = store.cdr_body(connection, bill["cdr_id"]) if bill and bill["cdr_id"] else None
        if bill is not None and bill["status"] == "issued" and cdr_text is not None:
            cdr = json.loads(cdr_text, parse_float=Decimal)
            return {"transaction_id": transaction_id, "status": "billed", "as_of": cdr["end_date_time"],
                    "invoice_number": bill["invoice_number"], "tariff_id": bill["tariff_id"],
                    "tariff_version": bill["tariff_version"], "reason": bill["reason"],
                    "meter_verification": bill["meter_verification"], **_cost_from_cdr(cdr)}
        settled = self.settle(transaction_id)
        if settled is None:
            return None
        usage, _, pinned, settlement = settled
        running = usage.stopped_at is None
        out: dict[str, Any] = {
            "transaction_id": transaction_id, "as_of": settlement.stop, "invoice_number": None,
            "tariff_id": pinned.tariff_id if pinned else None, "tariff_version": pinned.version if pinned else None,
            "reason": settlement.reason, "meter_verification": settlement.verification.value,
        }
        if bill is not None and bill["status"] in ("needs_review", "waived"):
            return {**out, "status": bill["status"], "reason": bill["reason"]}
        if settlement.needs_review or settlement.priced is None:
            return {**out, "status": "needs_review"}
        return {**out, "status": "running" if running else "pending", **cost_json(settlement.priced)}

    def running_costs(self, chargers: Collection[str] | None = None) -> list[RunningCost]:
        """Running totals (incl. VAT, to the minor unit) of active sessions on 2.0.1 stations (of ``chargers``), from
        :meth:`cost` (the driver page's live cost). A session without a tariff, or held for review, has none."""
        with self.engine.connect() as connection:
            running = store.running_201_sessions(connection)
        costs = []
        for transaction_id, charger_id, reference in running:
            if chargers is not None and charger_id not in chargers:
                continue
            cost = self.cost(transaction_id)
            if cost is None or cost["status"] != "running" or "incl_vat" not in cost["total_cost"]:
                continue
            total = round_money(Decimal(cost["total_cost"]["incl_vat"]), cost["currency"])
            costs.append(RunningCost(transaction_id, charger_id, reference, total))
        return costs

    def price_sheet(self, charger_id: str, connector_id: int, language: str) -> PriceSheet | None:
        """Unit prices of the connector's tariff for a session starting now (None: no tariff assigned).

        Raises LookupError for a charger that is not registered.
        """
        now = self.now()
        with self.engine.connect() as connection:
            found = store.connector_tariff(connection, charger_id, connector_id, now)
        if found is None:
            raise LookupError(charger_id)
        version, zone = found
        return None if version is None else price_sheet(version.tariff, time_zone=zone, now=now, language=language)

    def session_price_sheet(self, transaction_id: int, language: str) -> PriceSheet | None:
        """The unit prices a session is billed with: its pinned tariff version, as of its start."""
        pinned = self.pin(transaction_id)
        with self.engine.connect() as connection:
            loaded = store.session_usage(connection, transaction_id)
        if pinned is None or loaded is None:
            return None
        usage = loaded[0]
        return price_sheet(pinned.tariff, time_zone=usage.time_zone, now=usage.started_at, language=language)

    def pdf(self, number: str, lang: str = "en") -> bytes | None:
        """The invoice PDF: the English one rendered once from the stored invoice and kept; another language
        rendered from the same stored invoice on request (same figures, only the words and formats differ)."""
        with self.engine.connect() as connection:
            record = store.invoice_record(connection, number)
            site = support_store.site_for_charger(connection, record["charger_id"]) if record else None
        if record is None:
            return None
        if lang != "en":
            return render_pdf(invoice_from_json(json.loads(record["body"])), lang, still_stuck(site, lang))
        if record["pdf"] is not None:
            return bytes(record["pdf"])
        rendered = render_pdf(invoice_from_json(json.loads(record["body"])), help_line=still_stuck(site, "en"))
        with self.engine.begin() as connection:
            return store.store_pdf(connection, number, rendered)


def _cost_from_cdr(cdr: Mapping[str, Any]) -> dict[str, Any]:
    def price(name: str) -> dict[str, str]:
        return {k: str(round_ocpi(Decimal(v))) for k, v in cdr[name].items()}

    return {
        "currency": cdr["currency"],
        **{name: price(name) for name in ("total_cost", "total_energy_cost", "total_time_cost",
                                          "total_parking_cost", "total_fixed_cost")},
        **{name: str(round_ocpi(Decimal(cdr[name]))) for name in ("total_energy", "total_time",
                                                                  "total_parking_time")},
    }


def install(cw: Chargewatch) -> None:
    config = config_from_env(os.environ)

    def driver_url(transaction_id: int) -> str:
        return f"{config.public_url or cw.http_base}{cw.services.driver_path(transaction_id)}"

    biller = Biller(cw.engine, config, driver_url, cw.gateway.now)
    cw.app.state.billing = biller
    cw.gateway.total_cost = biller.total_cost
    cw.app.include_router(billing_router(biller, cw.services))
    feedback_config = getattr(cw.app.state, "feedback", None) or FeedbackConfig()
    cw.app.include_router(disputes_router(cw.engine, cw.bus, cw.services.secret, biller, feedback_config))
    cw.app.include_router(receipt_router(cw.engine, cw.services.secret, biller, feedback_config))
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    disputes: dict[int, str] = {}
    workers: list[asyncio.Task[None]] = []
    sent_costs: dict[int, Decimal] = {}  # the running cost last sent per session (CostUpdated)

    def on_event(event: BusEvent) -> None:
        match event:
            case SessionStarted(transaction_id=transaction_id):
                queue.put_nowait(("pin", transaction_id))
            case SessionStopped(transaction_id=transaction_id):
                queue.put_nowait(("bill", transaction_id))
            case BillingDisputed(transaction_id=transaction_id, text=text):
                disputes[transaction_id] = text
                queue.put_nowait(("dispute", transaction_id))
                sent_costs.pop(transaction_id, None)

    async def send_running_costs() -> None:
        """CostUpdated to 2.0.1 stations, every ``cost_update_seconds``, for running costs that changed."""
        while True:
            await asyncio.sleep(config.cost_update_seconds)
            try:
                costs = await asyncio.to_thread(biller.running_costs, set(cw.gateway.links))
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("running costs for CostUpdated failed")
                continue
            # Each node tells the stations connected to it, all at once (one slow station delays no other).
            due = [c for c in costs if c.charger_id in cw.gateway.links and sent_costs.get(c.transaction_id)
                   != c.total_cost]
            await asyncio.gather(*(send_cost(cost) for cost in due))

    async def send_cost(cost: RunningCost) -> None:
        try:
            result = await cw.gateway.call(cost.charger_id, "CostUpdated", {
                "totalCost": float(cost.total_cost), "transactionId": cost.transaction_ref})
        except ValueError as exc:  # the station's adapter cannot express it (e.g. it reconnected as 1.6)
            log.warning("CostUpdated to %s: %s", cost.charger_id, exc)
            return
        if result.status == "answered":
            sent_costs[cost.transaction_id] = cost.total_cost

    failures: dict[int, int] = {}  # failed bill attempts per session (cleared when it bills or is quarantined)
    retries: set[asyncio.TimerHandle] = set()

    def retry_later(transaction_id: int, delay: float) -> None:
        def put() -> None:
            retries.discard(handle)
            queue.put_nowait(("bill", transaction_id))

        handle = asyncio.get_running_loop().call_later(delay, put)
        retries.add(handle)

    async def bill_failed(transaction_id: int, error: Exception) -> None:
        delays = config.retry_delays
        if not await asyncio.to_thread(biller.database_answers):  # an outage: retry, but it is nobody's fault
            log.warning("billing of session %d failed while the database does not answer (%s); retrying",
                        transaction_id, error)
            retry_later(transaction_id, delays[-1] if delays else 60.0)
            return
        attempt = failures.get(transaction_id, 0) + 1
        failures[transaction_id] = attempt
        reason = f"{type(error).__name__}: {error}"
        if attempt <= len(delays):
            log.info("billing of session %d failed (%s); retry %d of %d in %g s", transaction_id, reason, attempt,
                     len(delays), delays[attempt - 1])
            retry_later(transaction_id, delays[attempt - 1])
            return
        failures.pop(transaction_id, None)
        held = await asyncio.to_thread(biller.quarantine, transaction_id, reason)
        cw.gateway.metrics.quarantined.labels(worker="billing").inc()
        log.error("billing quarantined session %d after %d failed attempts: %s; it waits in the billing review "
                  "queue%s, the other sessions go on", transaction_id, attempt, reason,
                  "" if held else " (it had a bill already)", exc_info=error)

    async def work() -> None:
        while True:
            job, transaction_id = await queue.get()
            try:
                if job == "dispute":
                    await asyncio.to_thread(biller.dispute, transaction_id, disputes.pop(transaction_id, ""))
                elif job == "pin":
                    await asyncio.to_thread(biller.pin, transaction_id)
                else:
                    await asyncio.to_thread(biller.bill, transaction_id)
                    failures.pop(transaction_id, None)
            except Exception as error:  # noqa: BLE001 - one session's failure must not stop the others
                if job == "bill":
                    try:
                        await bill_failed(transaction_id, error)
                    except Exception:  # noqa: BLE001 - the quarantine write failed too: catch-up at the next start
                        log.exception("billing of session %d failed and could not be quarantined", transaction_id)
                else:
                    log.exception("billing %s of session %d failed", job, transaction_id)
            finally:
                queue.task_done()

    async def start() -> None:
        workers.extend(asyncio.create_task(work()) for _ in range(config.workers))
        if config.cost_update_seconds > 0:
            workers.append(asyncio.create_task(send_running_costs(), name="cost-updated"))
        for transaction_id in await asyncio.to_thread(biller.catch_up):
            queue.put_nowait(("bill", transaction_id))

    async def stop() -> None:
        try:
            await asyncio.wait_for(queue.join(), timeout=10)
        except TimeoutError:
            log.warning("billing: %d jobs left for the catch-up at the next start", queue.qsize())
        for handle in retries:
            handle.cancel()
        retries.clear()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    cw.bus.listen(on_event)
    cw.on_start(start)
    cw.on_stop(stop)
