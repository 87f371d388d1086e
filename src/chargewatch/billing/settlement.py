"""From a stored session to what its bill says: meter assessment, periods, price, signature check.

One function, `settle`, serves both the bill of a finished session and the live cost of a running
one, so the two cannot disagree: the live figure is the bill of the session as if it stopped at its
latest reading. `issue_documents` then turns a settlement into the invoice and the OCPI CDR.

Pure: the caller loads the session, its readings, the tariff version and the operator's details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from chargewatch.billing.anomalies import MeterFlag, RepairRule, assess_meter
from chargewatch.billing.cdr import CdrLocation, CdrToken, SessionFacts, build_cdr
from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.invoice import Invoice, Party, build_invoice
from chargewatch.billing.ocmf import (
    HOLDS_FOR_REVIEW,
    OcmfVerification,
    VerificationStatus,
    compare_with_meter,
    time_pricing_allowed,
    verify_documents,
)
from chargewatch.billing.periods import DEFAULT_IDLE_POWER_W, MeterSample, MeterSeriesError, build_charging_periods
from chargewatch.billing.price import round_ocpi
from chargewatch.billing.pricing import PricedSession, price_session
from chargewatch.billing.signed_data import build_section
from chargewatch.billing.tariff import Tariff, TariffDimensionType, TariffElement

# Session flags that mean the meter data is missing altogether (not one of the repairable field bugs).
NO_METER_DATA = "no_meter_data"
START_REFUSED = "start_refused"  # the StartTransaction was answered Invalid/Blocked/Expired/ConcurrentTx
_RESET_FLOOR_WH = 1000  # as anomalies.assess_meter: a drop to at most this is a reboot of the register


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """One session as stored: the OCPP facts, its unsigned register samples and its signed documents."""

    transaction_id: int
    charger_id: str
    connector_id: int
    id_tag: str
    started_at: datetime
    stopped_at: datetime | None  # None while the session runs
    meter_start_wh: int
    meter_stop_wh: int | None
    flags: tuple[str, ...]
    samples: tuple[MeterSample, ...]  # time order
    signed_documents: tuple[str, ...] = ()  # SignedData values as sent: raw OCMF texts or OCA JSON objects
    time_zone: str = "UTC"
    start_status: str | None = None  # a refused start: what its StartTransaction was answered (Invalid, Blocked…)


@dataclass(frozen=True, slots=True)
class Settlement:
    """Either a priced session or the reason a person has to look at it first."""

    needs_review: bool
    reason: str
    verification: VerificationStatus
    rule: RepairRule | None = None
    start: datetime | None = None
    stop: datetime | None = None
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    periods: tuple[ChargingPeriod, ...] = ()
    priced: PricedSession | None = None
    signed: OcmfVerification | None = None  # the check of the signed meter values, when there are any
    time_priced: bool = True  # False: the meter clock was not synchronised, so TIME/PARKING_TIME were not billed
    time_note: str = ""

    @property
    def energy_wh(self) -> int | None:
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


def settle(
    usage: SessionUsage,
    tariff: Tariff,
    *,
    public_key: str | None = None,
    stated_energy_wh: int | None = None,
    idle_power_w: int = DEFAULT_IDLE_POWER_W,
    refusal_reviewed: bool = False,
) -> Settlement:
    """Price `usage` with `tariff`, or say why it cannot be billed without review.

    A running session (no `stopped_at`) is priced up to its latest sample. `stated_energy_wh` is an
    operator's resolution of a review: it replaces the meter assessment, and disagreeing signatures no
    longer hold the bill back (the invoice still shows that they did not verify). A session whose start was
    refused but that delivered energy needs review unless `refusal_reviewed` (an operator decided to bill it).
    """
    running = usage.stopped_at is None
    verification = VerificationStatus.NOT_SIGNED
    start = usage.started_at
    stop: datetime = usage.stopped_at if usage.stopped_at is not None else (
        usage.samples[-1].timestamp if usage.samples else start)
    samples = [s for s in usage.samples if start < s.timestamp <= stop]
    if stated_energy_wh is not None:
        if stated_energy_wh < 0:
            return Settlement(True, "stated energy must not be negative", verification)
        meter_stop = usage.meter_start_wh + stated_energy_wh
        rule: RepairRule | None = RepairRule.OPERATOR_STATED
        reason = f"energy {stated_energy_wh} Wh stated by an operator after review"
        samples = _consistent_prefix(samples, usage.meter_start_wh, meter_stop)
    else:
        if NO_METER_DATA in usage.flags and not samples:
            return Settlement(True, "the charger reported no meter data: the energy is unknown", verification)
        flags = frozenset(MeterFlag(f) for f in usage.flags if f in MeterFlag.__members__.values())
        reported_stop = usage.meter_stop_wh if not running else (samples[-1].energy_wh if samples else None)
        if running and reported_stop is None:
            reported_stop = usage.meter_start_wh
        assessment = assess_meter(meter_start_wh=usage.meter_start_wh, meter_stop_wh=reported_stop,
                                  samples_wh=[s.energy_wh for s in samples], flags=flags)
        if assessment.needs_review:
            return Settlement(True, assessment.reason, verification, start=start, stop=stop)
        assert assessment.energy_wh is not None
        if START_REFUSED in usage.flags and assessment.energy_wh > 0 and not refusal_reviewed:
            # The charger charged although chargewatch refused the start: never invoiced without a person.
            answered = usage.start_status or "not Accepted"
            return Settlement(True, f"start refused (StartTransaction answered {answered}) but the charger "
                              f"delivered {assessment.energy_wh} Wh: an unauthorised session", verification,
                              start=start, stop=stop)
        rule, reason = assessment.rule, assessment.reason
        meter_stop = usage.meter_start_wh + assessment.energy_wh
        if rule is RepairRule.RESET_SUMS_SEGMENTS:
            samples = _continuous(samples, usage.meter_start_wh)
        else:
            samples = [s for s in samples if s.energy_wh <= meter_stop]

    signed: OcmfVerification | None = None
    time_priced, time_note, pricing_tariff = True, "", tariff
    if not running and usage.signed_documents:
        signed, verification, disagreement = _check_signatures(usage, public_key, meter_stop)
        if disagreement is not None and stated_energy_wh is None:
            return Settlement(True, disagreement, verification, rule, start, stop, usage.meter_start_wh, meter_stop,
                              signed=signed)
        time_priced, time_note = time_pricing_allowed(signed)
        if not time_priced:
            pricing_tariff = without_time_pricing(tariff)

    if stop <= start:
        if running:
            return Settlement(False, "no readings yet", verification, rule, start, stop, usage.meter_start_wh,
                              meter_stop, (), price_session(tariff, (), time_zone=usage.time_zone))
        return Settlement(True, "the session has no duration: stop is not after start", verification,
                          rule, start, stop)
    try:
        periods = build_charging_periods(start=start, stop=stop, meter_start_wh=usage.meter_start_wh,
                                         meter_stop_wh=meter_stop, samples=samples, time_zone=usage.time_zone,
                                         tariff=tariff, idle_power_w=idle_power_w)
    except MeterSeriesError as exc:
        return Settlement(True, f"meter series cannot be split into periods: {exc}", verification, rule, start,
                          stop)
    priced = price_session(pricing_tariff, periods, time_zone=usage.time_zone, session_start=start,
                           session_end=stop)
    return Settlement(False, reason, verification, rule, start, stop, usage.meter_start_wh, meter_stop, periods,
                      priced, signed, time_priced, time_note)


def _check_signatures(usage: SessionUsage, public_key: str | None, meter_stop_wh: int) -> tuple[
        OcmfVerification, VerificationStatus, str | None]:
    """The check, the status for the invoice, and the reason for review (bad signature or key, or signed and
    billed values that differ). A key nobody registered, or a curve nothing here checks, bills as unverified."""
    verification = verify_documents(usage.signed_documents, public_key)
    if verification.status in HOLDS_FOR_REVIEW:
        return verification, verification.status, f"signed meter values {verification.status.value}: " \
                                                  f"{verification.reason}"
    if not verification.valid:
        return verification, verification.status, None
    agreement = compare_with_meter(verification, usage.meter_start_wh, meter_stop_wh)
    if agreement.agrees:
        return verification, VerificationStatus.VALID, None
    return verification, VerificationStatus.INVALID, f"signed meter values disagree: {agreement.reason}"


_TIME_DIMENSIONS = frozenset({TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME})


def without_time_pricing(tariff: Tariff) -> Tariff:
    """`tariff` without its TIME and PARKING_TIME prices: what is billed when the meter clock cannot be trusted.

    Eichrecht lets a price for time be billed only from a calibrated, synchronised clock. The session's
    periods still record the time (the CDR's total_time stays true); only its price is dropped.
    """
    elements = []
    for element in tariff.elements:
        components = tuple(c for c in element.price_components if c.type not in _TIME_DIMENSIONS)
        if components:
            elements.append(TariffElement(components, element.restrictions))
    return replace(tariff, elements=tuple(elements))


def _continuous(samples: Sequence[MeterSample], meter_start_wh: int) -> list[MeterSample]:
    """Samples across a register reset, re-based to one rising register (the rule `reset_sums_segments`)."""
    out, previous, total = [], meter_start_wh, meter_start_wh
    for sample in samples:
        total += sample.energy_wh - previous if sample.energy_wh >= previous else sample.energy_wh
        previous = sample.energy_wh
        out.append(MeterSample(sample.timestamp, total, sample.power_w, sample.current_a))
    return out


def _consistent_prefix(samples: Sequence[MeterSample], meter_start_wh: int, meter_stop_wh: int) -> list[
        MeterSample]:
    """The samples up to the first one that contradicts a rising register from start to the stated stop."""
    out, previous = [], meter_start_wh
    for sample in samples:
        if not previous <= sample.energy_wh <= meter_stop_wh:
            break
        out.append(sample)
        previous = sample.energy_wh
    return out


@dataclass(frozen=True, slots=True)
class Operator:
    """The charge point operator as seller and as OCPI party; sites share its address for now."""

    id: str
    name: str
    address_lines: tuple[str, ...]
    vat_id: str | None
    country_code: str  # ISO 3166 alpha-2, the OCPI party's country
    party_id: str  # OCPI party id (3 characters)
    street: str
    postal_code: str
    city: str
    country: str  # ISO 3166 alpha-3, as CdrLocation wants it
    latitude: str
    longitude: str
    invoice_prefix: str

    @property
    def seller(self) -> Party:
        return Party(self.name, self.address_lines, self.vat_id)

    def invoice_number(self, sequence: int) -> str:
        return f"{self.invoice_prefix}-{sequence:08d}"

    def evse_id(self, charger_id: str, connector_id: int) -> str:
        """An EVSE id in the eMI3 form the operator's party id gives (ISO 15118 / OCPI EVSE.evse_id)."""
        return f"{self.country_code}*{self.party_id}*E{charger_id}*{connector_id}"


def issue_documents(
    usage: SessionUsage,
    settlement: Settlement,
    tariff: Tariff,
    operator: Operator,
    *,
    number: str,
    issued_at: datetime,
    issue_date: date,
    feedback_url: str | None,
    public_key: str | None = None,
) -> tuple[Invoice, dict[str, Any]]:
    """The invoice and the OCPI CDR of a priced settlement; the CDR id is the invoice number."""
    if settlement.needs_review or settlement.priced is None:
        raise ValueError(f"session {usage.transaction_id} needs review: {settlement.reason}")
    assert settlement.start and settlement.stop and settlement.meter_start_wh is not None
    assert settlement.meter_stop_wh is not None
    evse_id = operator.evse_id(usage.charger_id, usage.connector_id)
    location = CdrLocation(
        id=usage.charger_id, address=operator.street, city=operator.city, postal_code=operator.postal_code,
        country=operator.country, latitude=operator.latitude, longitude=operator.longitude,
        evse_uid=f"{usage.charger_id}-{usage.connector_id}", evse_id=evse_id,
        connector_id=str(usage.connector_id), connector_standard="IEC_62196_T2", connector_format="SOCKET",
        connector_power_type="AC_3_PHASE", time_zone=usage.time_zone, name=usage.charger_id,
    )
    facts = SessionFacts(
        cdr_id=number, country_code=operator.country_code, party_id=operator.party_id,
        start=settlement.start, end=settlement.stop,
        token=CdrToken(operator.country_code, operator.party_id, usage.id_tag, "RFID", usage.id_tag),
        auth_method="WHITELIST", location=location, session_id=str(usage.transaction_id),
        remark=f"meter: {settlement.rule.value if settlement.rule else 'as_measured'}; "
               f"signed meter values: {settlement.verification.value}"
               + ("" if settlement.time_priced else f"; {settlement.time_note}"),
    )
    cdr = build_cdr(facts, tariff, settlement.periods, settlement.priced, last_updated=issued_at)
    section = None
    if usage.signed_documents:
        signed = settlement.signed or verify_documents(usage.signed_documents, public_key)
        section = build_section(usage.signed_documents, signed, public_key, settlement.time_priced,
                                settlement.time_note)
        cdr["signed_data"] = section.ocpi_signed_data(feedback_url)
    invoice = build_invoice(
        number=number, issue_date=issue_date, seller=operator.seller, buyer=None,
        station_name=usage.charger_id, evse_id=evse_id, time_zone=usage.time_zone,
        session_id=str(usage.transaction_id), session_start=settlement.start, session_stop=settlement.stop,
        meter_start_wh=settlement.meter_start_wh, meter_stop_wh=settlement.meter_stop_wh,
        priced=settlement.priced, meter_verification=settlement.verification, feedback_url=feedback_url,
        signed_data=section,
    )
    return invoice, cdr


def cost_json(priced: PricedSession) -> dict[str, Any]:
    """The CDR totals of a priced session as decimal strings (4 decimals), as `chargewatch price` prints them."""
    return {
        "currency": priced.currency,
        "total_cost": priced.total_cost.to_json(),
        "total_energy_cost": priced.total_energy_cost.to_json(),
        "total_time_cost": priced.total_time_cost.to_json(),
        "total_parking_cost": priced.total_parking_cost.to_json(),
        "total_fixed_cost": priced.total_fixed_cost.to_json(),
        "total_energy": str(round_ocpi(priced.total_energy)),
        "total_time": str(round_ocpi(priced.total_time)),
        "total_parking_time": str(round_ocpi(priced.total_parking_time)),
    }
