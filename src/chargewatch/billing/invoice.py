"""Invoices and credit notes for a priced charging session.

The invoice number comes from the caller: numbering is gap-free per operator and needs a transaction,
so it lives in the store. One rounding, one number: the invoice's total net and total to pay are the
CDR's total_cost excl./incl. VAT rounded once to the currency's minor unit (`price.amount_due`), the
figure the session page and the live cost show too. Lines and the VAT breakdown are rounded per line
and per rate, and the cent a rounding leaves over goes to the largest line / rate, so they add up to
those totals. A correction is a credit note referencing the original, never an edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chargewatch.billing.ocmf import VerificationStatus
from chargewatch.billing.price import amount_due, minor_unit
from chargewatch.billing.pricing import CostCategory, CostLine, PricedSession
from chargewatch.billing.signed_data import SignedDataSection

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

_DESCRIPTIONS = {
    CostCategory.ENERGY: ("Energy", "kWh"),
    CostCategory.TIME: ("Charging time", "h"),
    CostCategory.PARKING: ("Parking time", "h"),
    CostCategory.FIXED: ("Session fee", "session"),
    CostCategory.RESERVATION: ("Reservation", "h"),
}


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    address_lines: tuple[str, ...] = ()
    vat_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line item; `vat_rate` None means no VAT applies (shown as such, not as 0 %)."""

    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal | None
    net: Decimal
    vat: Decimal


@dataclass(frozen=True, slots=True)
class VatSubtotal:
    rate: Decimal | None
    net: Decimal
    vat: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    number: str
    issue_date: date
    currency: str
    seller: Party
    buyer: Party | None
    station_name: str
    evse_id: str
    time_zone: str
    session_id: str
    session_start: datetime
    session_stop: datetime
    meter_start_wh: int
    meter_stop_wh: int
    lines: tuple[InvoiceLine, ...]
    vat_breakdown: tuple[VatSubtotal, ...]
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    meter_verification: VerificationStatus
    feedback_url: str | None = None
    credit_note_for: str | None = None
    # Eichrecht: the signed documents, key, encoding and how to check them (None for an unsigned session).
    signed_data: SignedDataSection | None = None

    @property
    def energy_kwh(self) -> Decimal:
        """Energy from the meter readings, as the driver can check them on the charger."""
        return Decimal(self.meter_stop_wh - self.meter_start_wh) / 1000

    @property
    def is_credit_note(self) -> bool:
        return self.credit_note_for is not None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; amounts and quantities are decimal strings, times local ISO 8601 with offset."""
        return {
            "number": self.number,
            "type": "credit_note" if self.is_credit_note else "invoice",
            "credit_note_for": self.credit_note_for,
            "issue_date": self.issue_date.isoformat(),
            "currency": self.currency,
            "seller": _party_json(self.seller),
            "buyer": _party_json(self.buyer) if self.buyer else None,
            "station": {"name": self.station_name, "evse_id": self.evse_id, "time_zone": self.time_zone},
            "session": {
                "id": self.session_id,
                "start": self.session_start.isoformat(),
                "stop": self.session_stop.isoformat(),
                "meter_start_wh": self.meter_start_wh,
                "meter_stop_wh": self.meter_stop_wh,
                "energy_kwh": str(self.energy_kwh),
            },
            "lines": [
                {
                    "description": line.description,
                    "quantity": str(line.quantity),
                    "unit": line.unit,
                    "unit_price": str(line.unit_price),
                    "vat_rate": None if line.vat_rate is None else str(line.vat_rate),
                    "net": str(line.net),
                }
                for line in self.lines
            ],
            "vat_breakdown": [
                {"rate": None if s.rate is None else str(s.rate), "net": str(s.net), "vat": str(s.vat)}
                for s in self.vat_breakdown
            ],
            "total_net": str(self.total_net),
            "total_vat": str(self.total_vat),
            "total_gross": str(self.total_gross),
            "meter_verification": self.meter_verification.value,
            "feedback_url": self.feedback_url,
            "signed_data": self.signed_data.to_json() if self.signed_data else None,
        }


def build_invoice(
    *,
    number: str,
    issue_date: date,
    seller: Party,
    buyer: Party | None,
    station_name: str,
    evse_id: str,
    time_zone: str,
    session_id: str,
    session_start: datetime,
    session_stop: datetime,
    meter_start_wh: int,
    meter_stop_wh: int,
    priced: PricedSession,
    meter_verification: VerificationStatus = VerificationStatus.NOT_SIGNED,
    feedback_url: str | None = None,
    signed_data: SignedDataSection | None = None,
) -> Invoice:
    """An invoice for a priced session; session times are shown in the station's local time."""
    zone = ZoneInfo(time_zone)
    minor = minor_unit(priced.currency)
    due = amount_due(priced.total_cost, priced.currency)
    lines = _group_lines(priced.lines, minor)
    adjustment = priced.price_limit_adjustment
    if adjustment.excl_vat or (adjustment.incl_vat or _ZERO):
        rates = {line.vat_rate for line in lines}
        rate = rates.pop() if len(rates) == 1 else None
        label = "Minimum price adjustment" if adjustment.excl_vat > 0 else "Maximum price cap"
        # The residual to the limited total, so rounded lines add up to exactly min_price/max_price.
        net = due.excl_vat - sum((line.net for line in lines), _ZERO)
        vat = (adjustment.incl_vat if adjustment.incl_vat is not None else adjustment.excl_vat) - adjustment.excl_vat
        lines.append(InvoiceLine(label, Decimal(1), "session", net, rate, net, vat))
    lines = _absorb(lines, due.excl_vat - sum((line.net for line in lines), _ZERO))
    breakdown = _vat_breakdown(lines, minor)
    total_net = sum((s.net for s in breakdown), _ZERO)
    gross_due = due.incl_vat if due.incl_vat is not None else total_net + sum((s.vat for s in breakdown), _ZERO)
    breakdown = _absorb_vat(breakdown, gross_due - total_net - sum((s.vat for s in breakdown), _ZERO))
    total_vat = sum((s.vat for s in breakdown), _ZERO)
    return Invoice(
        number=number,
        issue_date=issue_date,
        currency=priced.currency,
        seller=seller,
        buyer=buyer,
        station_name=station_name,
        evse_id=evse_id,
        time_zone=time_zone,
        session_id=session_id,
        session_start=session_start.astimezone(zone),
        session_stop=session_stop.astimezone(zone),
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        lines=tuple(lines),
        vat_breakdown=breakdown,
        total_net=total_net,
        total_vat=total_vat,
        total_gross=total_net + total_vat,
        meter_verification=meter_verification,
        feedback_url=feedback_url,
        signed_data=signed_data,
    )


def credit_note(original: Invoice, *, number: str, issue_date: date) -> Invoice:
    """A credit note cancelling `original`: its own number, every amount negated, a reference back."""
    if original.is_credit_note:
        raise ValueError(f"{original.number} is a credit note; credit the invoice it corrects instead.")
    return replace(
        original,
        number=number,
        issue_date=issue_date,
        lines=tuple(replace(line, net=-line.net, vat=-line.vat) for line in original.lines),
        vat_breakdown=tuple(replace(s, net=-s.net, vat=-s.vat) for s in original.vat_breakdown),
        total_net=-original.total_net,
        total_vat=-original.total_vat,
        total_gross=-original.total_gross,
        credit_note_for=original.number,
    )


def _group_lines(cost_lines: Sequence[CostLine], minor: int) -> list[InvoiceLine]:
    """One invoice line per dimension and price; step_size rounding adds to the billed quantity."""
    grouped: dict[tuple[CostCategory, Decimal, Decimal | None], list[Decimal]] = {}
    for line in cost_lines:
        acc = grouped.setdefault((line.category, line.unit_price, line.vat), [_ZERO, _ZERO])
        acc[0] += line.quantity
        acc[1] += line.excl_vat
    lines = []
    for (category, unit_price, rate), (quantity, net) in grouped.items():
        description, unit = _DESCRIPTIONS[category]
        shown_quantity = quantity.quantize(Decimal("0.001") if unit == "kWh" else Decimal("0.0001"),
                                           rounding=ROUND_HALF_UP).normalize()
        vat = _ZERO if rate is None else net * rate / _HUNDRED
        lines.append(InvoiceLine(description, shown_quantity, unit, unit_price, rate, _round(net, minor), vat))
    return lines


def _absorb(lines: list[InvoiceLine], residual: Decimal) -> list[InvoiceLine]:
    """Lines whose rounded nets add up to the total: the cent left over goes to the largest line."""
    if not residual or not lines:
        return lines
    i = max(range(len(lines)), key=lambda k: abs(lines[k].net))
    lines[i] = replace(lines[i], net=lines[i].net + residual)
    line = lines[i]
    lines[i] = replace(line, vat=_ZERO if line.vat_rate is None else line.net * line.vat_rate / _HUNDRED)
    return lines


def _absorb_vat(breakdown: tuple[VatSubtotal, ...], residual: Decimal) -> tuple[VatSubtotal, ...]:
    """A breakdown whose VAT adds up to total to pay minus total net: the residual goes to the largest rate."""
    taxed = [i for i, s in enumerate(breakdown) if s.rate is not None]
    if not residual or not taxed:
        return breakdown
    i = max(taxed, key=lambda k: abs(breakdown[k].vat))
    out = list(breakdown)
    out[i] = replace(out[i], vat=out[i].vat + residual)
    return tuple(out)


def _vat_breakdown(lines: Sequence[InvoiceLine], minor: int) -> tuple[VatSubtotal, ...]:
    by_rate: dict[Decimal | None, list[Decimal]] = {}
    for line in lines:
        acc = by_rate.setdefault(line.vat_rate, [_ZERO, _ZERO])
        acc[0] += line.net
        acc[1] += line.vat
    return tuple(
        VatSubtotal(rate, _round(net, minor), _round(vat, minor))
        for rate, (net, vat) in sorted(by_rate.items(), key=lambda kv: (kv[0] is None, kv[0] or _ZERO))
    )


def _round(value: Decimal, minor: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-minor), rounding=ROUND_HALF_UP)


def _party_json(party: Party) -> dict[str, Any]:
    return {"name": party.name, "address_lines": list(party.address_lines), "vat_id": party.vat_id}


def invoice_from_json(data: dict[str, Any]) -> Invoice:
    """The invoice `Invoice.to_json` wrote, read back (to render its PDF again from the stored record).

    Line VAT is not part of the JSON; it is recomputed from the line's net and rate, as issued.
    """
    station, session = data["station"], data["session"]
    lines = []
    for line in data["lines"]:
        rate = None if line["vat_rate"] is None else Decimal(line["vat_rate"])
        net = Decimal(line["net"])
        lines.append(InvoiceLine(line["description"], Decimal(line["quantity"]), line["unit"],
                                 Decimal(line["unit_price"]), rate, net,
                                 _ZERO if rate is None else net * rate / _HUNDRED))
    return Invoice(
        number=data["number"],
        issue_date=date.fromisoformat(data["issue_date"]),
        currency=data["currency"],
        seller=_party_from_json(data["seller"]),
        buyer=_party_from_json(data["buyer"]) if data.get("buyer") else None,
        station_name=station["name"],
        evse_id=station["evse_id"],
        time_zone=station["time_zone"],
        session_id=session["id"],
        session_start=datetime.fromisoformat(session["start"]),
        session_stop=datetime.fromisoformat(session["stop"]),
        meter_start_wh=session["meter_start_wh"],
        meter_stop_wh=session["meter_stop_wh"],
        lines=tuple(lines),
        vat_breakdown=tuple(
            VatSubtotal(None if s["rate"] is None else Decimal(s["rate"]), Decimal(s["net"]), Decimal(s["vat"]))
            for s in data["vat_breakdown"]
        ),
        total_net=Decimal(data["total_net"]),
        total_vat=Decimal(data["total_vat"]),
        total_gross=Decimal(data["total_gross"]),
        meter_verification=VerificationStatus(data["meter_verification"]),
        feedback_url=data.get("feedback_url"),
        credit_note_for=data.get("credit_note_for"),
        signed_data=SignedDataSection.from_json(data["signed_data"]) if data.get("signed_data") else None,
    )


def _party_from_json(data: dict[str, Any]) -> Party:
    return Party(data["name"], tuple(data.get("address_lines") or ()), data.get("vat_id"))
