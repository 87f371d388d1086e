"""Billing API: tariffs and their assignment, live cost, bills, invoices (JSON and PDF), CDRs, reviews.

Tariff bodies are OCPI 2.2.1 Tariff objects, read from the raw request bytes so that prices keep
every decimal; an invalid one is answered 422 with the JSON path of the field and the reason, and
nothing is stored. Money leaves as decimal strings, never floats; CDRs leave as stored.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from ..billing.display import unit_price
from ..billing.ocmf import key_curve
from ..billing.price_sheet import PriceSheet
from ..billing.tariff import TariffValidationError, tariff_from_json, tariff_to_json
from ..sessions.links import transaction_of
from ..store import billing as store
from .errors import error_responses
from .models import ConnectorNumber, Offset, Timestamp, TransactionId
from .paging import Cursor, Limit, decode_cursor, page

if TYPE_CHECKING:
    from ..workers.billing import Biller
    from .app import Services


class PriceOut(BaseModel):
    excl_vat: Decimal
    incl_vat: Decimal | None = None


class TariffVersionOut(BaseModel):
    version: int
    valid_from: datetime
    created_at: datetime
    tariff: dict[str, Any] = Field(description="the OCPI 2.2.1 Tariff object of this version")


class TariffOut(BaseModel):
    id: str
    current_version: int
    created_at: datetime
    updated_at: datetime
    tariff: dict[str, Any] = Field(description="the current version's OCPI 2.2.1 Tariff object")


class TariffPage(BaseModel):
    items: list[TariffOut]
    next_cursor: str | None = Field(None, description="the cursor of the next page; null on the last page")


class TariffDetail(TariffOut):
    versions: list[TariffVersionOut]


class AssignmentIn(BaseModel):
    tariff_id: str = Field(min_length=1, max_length=36)
    charger_id: str | None = Field(default=None, description="omit for the operator's default tariff")
    connector_id: ConnectorNumber | None = Field(default=None, ge=1, description="omit for the whole charger")


class AssignmentOut(BaseModel):
    scope: Literal["default", "charger", "connector"]
    charger_id: str | None
    connector_id: int | None
    tariff_id: str
    assigned_at: datetime


class OcmfKeyIn(BaseModel):
    public_key: str = Field(min_length=1, max_length=4096,
                            description="the meter's public key: hex or base64 DER (SubjectPublicKeyInfo), or PEM")


class OcmfKeyOut(BaseModel):
    charger_id: str
    public_key: str


class CostOut(BaseModel):
    transaction_id: int
    status: Literal["running", "pending", "billed", "needs_review", "waived"]
    as_of: datetime | None = Field(description="the instant priced up to: latest reading, or the session's stop")
    currency: str | None = None
    total_cost: PriceOut | None = None
    total_energy_cost: PriceOut | None = None
    total_time_cost: PriceOut | None = None
    total_parking_cost: PriceOut | None = None
    total_fixed_cost: PriceOut | None = None
    total_energy: Decimal | None = Field(default=None, description="kWh")
    total_time: Decimal | None = Field(default=None, description="hours, parking included")
    total_parking_time: Decimal | None = Field(default=None, description="hours")
    invoice_number: str | None = None
    tariff_id: str | None = None
    tariff_version: int | None = None
    reason: str | None = None
    meter_verification: str | None = None


class UnitPriceOut(BaseModel):
    dimension: Literal["ENERGY", "TIME", "PARKING_TIME", "FLAT"]
    label: str = Field(description="what is priced, in the requested language")
    unit: Literal["kWh", "min", "session"] = Field(description="TIME and PARKING_TIME are priced per minute here")
    excl_vat: Decimal = Field(description="price per unit excluding VAT (4 decimals)")
    incl_vat: Decimal = Field(description="price per unit including VAT (4 decimals)")
    vat_rate: Decimal | None = Field(description="percent; null means no VAT applies (not 0 %)")
    conditions: str = Field(description="when this price applies, in the requested language")
    billing_step: str = Field(description="how the quantity is rounded up (empty: exact)")
    in_force_now: bool = Field(description="applies to a session starting now (at the start, for a session)")
    display: str = Field(description="the price incl. VAT formatted for the language, e.g. '0,39 €/kWh'")


class PriceSheetOut(BaseModel):
    tariff_id: str
    currency: str
    time_zone: str = Field(description="the station's IANA zone, which time restrictions are read in")
    language: Literal["en", "de"]
    prices: list[UnitPriceOut]
    min_price: PriceOut | None = None
    max_price: PriceOut | None = None
    notes: list[str] = Field(description="the tariff's own explanation (OCPI tariff_alt_text) in the language")


def price_sheet_out(sheet: PriceSheet) -> dict[str, Any]:
    units = {"kWh": "/kWh", "min": "/min", "session": ""}
    return {
        "tariff_id": sheet.tariff_id, "currency": sheet.currency, "time_zone": sheet.time_zone,
        "language": sheet.language, "notes": list(sheet.notes),
        "min_price": sheet.min_price._asdict() if sheet.min_price else None,
        "max_price": sheet.max_price._asdict() if sheet.max_price else None,
        "prices": [{"dimension": p.dimension.value, "label": p.label, "unit": p.unit, "excl_vat": p.excl_vat,
                    "incl_vat": p.incl_vat, "vat_rate": p.vat_rate, "conditions": p.conditions,
                    "billing_step": p.billing_step, "in_force_now": p.in_force_now,
                    "display": unit_price(p.incl_vat, sheet.currency, sheet.language) + units[p.unit]}
                   for p in sheet.prices],
    }


class PartyOut(BaseModel):
    name: str
    address_lines: list[str]
    vat_id: str | None = None


class InvoiceLineOut(BaseModel):
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal | None = Field(description="percent; null means no VAT applies (not 0 %)")
    net: Decimal


class VatSubtotalOut(BaseModel):
    rate: Decimal | None
    net: Decimal
    vat: Decimal


class StationOut(BaseModel):
    name: str
    evse_id: str
    time_zone: str


class InvoiceSessionOut(BaseModel):
    id: str
    start: datetime
    stop: datetime
    meter_start_wh: int
    meter_stop_wh: int
    energy_kwh: Decimal


class SignedDocumentOut(BaseModel):
    nature: Literal["Start", "Intermediate", "End"]
    as_sent: str = Field(description="the sampledValue value exactly as the charger sent it")
    ocmf: str | None = Field(description="the OCMF document inside, what the Transparenzsoftware reads")
    shape: Literal["OCMF", "OCA"] = Field(description="raw OCMF text, or the OCA application note's JSON object")
    signed_meter_data: str = Field(description="the document, base64")
    readings: list[dict[str, Any]]


class SignedDataOut(BaseModel):
    """Eichrecht: what a driver needs to check the bill with the S.A.F.E. e.V. Transparenzsoftware."""

    verdict: Literal["VALID", "INVALID", "UNVERIFIED", "KEY_MISMATCH", "KEY_UNREGISTERED", "NOT_SIGNED"]
    reason: str
    encoding_method: str
    signing_method: str | None
    public_key: str | None = Field(description="the meter's public key, hex DER")
    public_key_source: Literal["registered", "sent"] | None
    meter_serial: str | None
    documents: list[SignedDocumentOut]
    time_priced: bool = Field(description="false: the meter clock was not synchronised; time was not billed")
    time_note: str
    how_to_check: dict[str, list[str]]
    transparency_software: str


class InvoiceOut(BaseModel):
    number: str
    type: Literal["invoice", "credit_note"]
    credit_note_for: str | None
    issue_date: date
    currency: str
    seller: PartyOut
    buyer: PartyOut | None
    station: StationOut
    session: InvoiceSessionOut
    lines: list[InvoiceLineOut]
    vat_breakdown: list[VatSubtotalOut]
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    meter_verification: Literal["VALID", "INVALID", "NOT_SIGNED", "UNVERIFIED", "KEY_MISMATCH", "KEY_UNREGISTERED"]
    feedback_url: str | None
    signed_data: SignedDataOut | None = None
    transaction_id: int
    cdr_id: str
    pdf_url: str


class InvoiceSummary(BaseModel):
    number: str
    operator_id: str
    sequence: int
    kind: Literal["invoice", "credit_note"]
    transaction_id: int
    charger_id: str
    credit_note_for: str | None
    cdr_id: str
    currency: str
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    meter_verification: str
    reason: str | None
    issued_at: datetime


class BillOut(BaseModel):
    transaction_id: int
    status: Literal["issued", "needs_review", "waived"]
    reason: str
    tariff_id: str | None
    tariff_version: int | None
    meter_rule: str | None
    meter_verification: str
    invoice_number: str | None
    cdr_id: str | None
    resolved_by: str | None
    resolution_note: str | None
    created_at: datetime
    updated_at: datetime
    invoice: InvoiceOut | None = None


class CreditIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    reissue: bool = Field(default=True, description="issue a corrected invoice with a new number")
    energy_wh: int | None = Field(default=None, ge=0, description="billable energy stated by the operator")
    tariff_id: str | None = Field(default=None, description="re-price with this tariff (its version at the start)")


class CreditOut(BaseModel):
    credit_note: str
    invoice: str | None


class ResolutionIn(BaseModel):
    resolved_by: str = Field(min_length=1, max_length=64)
    note: str = Field(min_length=1, max_length=2000)
    energy_wh: int | None = Field(default=None, ge=0, description="the billable energy, when the meter cannot say")
    waive: bool = Field(default=False, description="do not bill this session at all")


class ResolutionOut(BaseModel):
    transaction_id: int
    status: Literal["issued", "waived"]
    invoice_number: str | None


class CdrSummary(BaseModel):
    id: str
    transaction_id: int
    invoice_number: str
    credit: bool
    credit_reference_id: str | None
    currency: str
    total_cost_excl_vat: Decimal
    total_cost_incl_vat: Decimal | None
    total_energy: Decimal
    created_at: datetime


_TARIFF_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object", "description": "An OCPI 2.2.1 Tariff object (mod_tariffs).",
            "required": ["id", "currency", "elements"]}}},
    }
}
_CDR_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "An OCPI 2.2.1 CDR object", "content": {"application/json": {"schema": {"type": "object"}}}}}
_PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The invoice as PDF", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}}


def _invalid(field: str, reason: str) -> HTTPException:
    return HTTPException(422, {"field": field, "reason": reason})


def billing_router(biller: Biller, services: Services) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    engine = biller.engine

    # ------------------------------------------------------------------ tariffs

    def _tariff_detail(tariff_id: str) -> dict[str, Any]:
        with engine.connect() as connection:
            row = store.tariff_row(connection, tariff_id)
            if row is None:
                raise HTTPException(404, f"tariff {tariff_id!r} not found")
            versions = store.tariff_versions_of(connection, tariff_id)
        out = [{"version": v.version, "valid_from": v.valid_from, "created_at": v.created_at,
                "tariff": _json(tariff_to_json(v.tariff))} for v in versions]
        return {**row, "tariff": out[-1]["tariff"], "versions": out}

    async def _store_tariff(request: Request, create_only: bool, path_id: str | None) -> dict[str, Any]:
        try:
            tariff = tariff_from_json(await request.body())
        except TariffValidationError as exc:
            raise _invalid(exc.field, exc.reason) from None
        if path_id is not None and tariff.id != path_id:
            raise _invalid("id", f"must match the path ({path_id!r}), got {tariff.id!r}")

        def write() -> None:
            with engine.begin() as connection:
                store.store_tariff_version(connection, tariff, biller.now(), create_only=create_only)

        try:
            await asyncio.to_thread(write)
        except (store.BillingConflict, IntegrityError):
            raise HTTPException(409, f"tariff {tariff.id!r} exists; PUT /api/v1/tariffs/{tariff.id} adds a version"
                                ) from None
        return await asyncio.to_thread(_tariff_detail, tariff.id)

    @router.post("/tariffs",
                 responses=error_responses(409), response_model=TariffDetail, status_code=201, tags=["billing"],
                 openapi_extra=_TARIFF_BODY)
    async def create_tariff(request: Request) -> dict[str, Any]:
        """Store a new OCPI tariff as version 1."""
        return await _store_tariff(request, True, None)

    @router.put("/tariffs/{tariff_id}", response_model=TariffDetail, tags=["billing"], openapi_extra=_TARIFF_BODY)
    async def update_tariff(tariff_id: str, request: Request) -> dict[str, Any]:
        """Store the body as the tariff's next version; earlier versions stay as they were (bills name theirs)."""
        return await _store_tariff(request, False, tariff_id)

    @router.get("/tariffs", response_model=TariffPage, tags=["billing"], responses=error_responses(422))
    def list_tariffs(limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        """Tariffs in id order, a page at a time, each with its current version's OCPI Tariff object."""
        after = decode_cursor(cursor, str)[0] if cursor else None
        with engine.connect() as connection:
            found = store.list_tariffs(connection, after=after, limit=limit + 1)
        rows = [{**row, "tariff": _json(tariff_to_json(current.tariff))} for row, current in found]
        return page(rows, limit, lambda tariff: (tariff["id"],))

    @router.get("/tariffs/{tariff_id}", responses=error_responses(404), response_model=TariffDetail, tags=["billing"])
    def get_tariff(tariff_id: str) -> dict[str, Any]:
        """One tariff with its current OCPI Tariff object and every version (404 when unknown)."""
        return _tariff_detail(tariff_id)

    @router.put("/tariff-assignments", response_model=AssignmentOut, tags=["billing"])
    def assign(body: AssignmentIn) -> dict[str, Any]:
        """Assign a tariff to a connector, a charger, or (no charger) as the operator default.

        A session keeps the tariff version it started with; an assignment reaches sessions that start later.
        """
        if body.connector_id is not None and body.charger_id is None:
            raise _invalid("connector_id", "needs charger_id")
        try:
            with engine.begin() as connection:
                store.assign_tariff(connection, body.tariff_id, body.charger_id, body.connector_id, biller.now())
        except store.BillingConflict as exc:
            raise _invalid("tariff_id", str(exc)) from None
        return next(a for a in _assignments() if (a["charger_id"], a["connector_id"]) == (body.charger_id,
                                                                                           body.connector_id))

    def _assignments() -> list[dict[str, Any]]:
        with engine.connect() as connection:
            rows = store.list_assignments(connection)
        return [{"scope": "default" if not r["charger_id"] else "charger" if not r["connector_id"] else "connector",
                 "charger_id": r["charger_id"] or None, "connector_id": r["connector_id"] or None,
                 "tariff_id": r["tariff_id"], "assigned_at": r["assigned_at"]} for r in rows]

    @router.get("/tariff-assignments", response_model=list[AssignmentOut], tags=["billing"])
    def list_assignments() -> list[dict[str, Any]]:
        """Which tariff applies where: the operator default, per charger and per connector."""
        return _assignments()

    @router.put("/chargers/{charger_id}/ocmf-key",
                responses=error_responses(404), response_model=OcmfKeyOut, tags=["billing"])
    def put_ocmf_key(charger_id: str, body: OcmfKeyIn) -> dict[str, Any]:
        """Register the public key of the charger's calibrated meter, to verify its OCMF signed values."""
        try:
            key_curve(body.public_key)  # an EC key on a curve pyocmf knows (secp192k1 through ecdsa)
        except ValueError as exc:
            raise _invalid("public_key", f"not a usable public key: {exc}") from None
        with engine.begin() as connection:
            if not store.set_ocmf_key(connection, charger_id, body.public_key.strip()):
                raise HTTPException(404, f"charger {charger_id!r} not found")
        return {"charger_id": charger_id, "public_key": body.public_key.strip()}

    # ------------------------------------------------------------------ cost and bills

    @router.get("/sessions/{transaction_id}/cost",
                responses=error_responses(404), response_model=CostOut, tags=["billing"])
    def session_cost(transaction_id: TransactionId) -> dict[str, Any]:
        """Running cost of an active session (priced up to its latest reading), or the bill of a finished one."""
        cost = biller.cost(transaction_id)
        if cost is None:
            raise HTTPException(404, f"session {transaction_id} not found")
        return cost

    @router.get("/driver/{token}/cost", responses=error_responses(404), response_model=CostOut, tags=["driver"])
    def driver_cost(token: str) -> dict[str, Any]:
        """The same figure for the driver, by the session link's token."""
        transaction_id = transaction_of(services.secret, token)
        cost = biller.cost(transaction_id) if transaction_id is not None else None
        if cost is None:
            raise HTTPException(404, "no such session")
        return cost

    @router.get("/driver/chargers/{charger_id}/connectors/{connector_id}/tariff", responses=error_responses(404),
                response_model=PriceSheetOut, tags=["driver"])
    def connector_prices(charger_id: str, connector_id: Annotated[ConnectorNumber, Path(ge=1)],
                         lang: Annotated[Literal["en", "de"], Query()] = "en") -> dict[str, Any]:
        """Public, no login: the unit prices incl. VAT a session starting now on this connector is billed with.

        AFIR Art. 5 / 23 CFR 680.116(a): price per kWh, per minute, parking and session fee before the start,
        the conditions of each price in the driver's language, and which apply right now.
        """
        try:
            sheet = biller.price_sheet(charger_id, connector_id, lang)
        except LookupError:
            raise HTTPException(404, f"charger {charger_id!r} not found") from None
        if sheet is None:
            raise HTTPException(404, f"no tariff is assigned to charger {charger_id!r} connector {connector_id}")
        return price_sheet_out(sheet)

    @router.get("/driver/{token}/tariff", responses=error_responses(404), response_model=PriceSheetOut,
                tags=["driver"])
    def driver_prices(token: str, lang: Annotated[Literal["en", "de"], Query()] = "en") -> dict[str, Any]:
        """The unit prices of the driver's session: the tariff version in force at its start, fixed for it."""
        transaction_id = transaction_of(services.secret, token)
        sheet = biller.session_price_sheet(transaction_id, lang) if transaction_id is not None else None
        if sheet is None:
            raise HTTPException(404, "no prices for this session")
        return price_sheet_out(sheet)

    def _invoice_out(number: str) -> dict[str, Any] | None:
        with engine.connect() as connection:
            record = store.invoice_record(connection, number)
        if record is None:
            return None
        return {**json.loads(record["body"]), "transaction_id": record["transaction_id"],
                "cdr_id": record["cdr_id"], "pdf_url": f"/api/v1/invoices/{number}.pdf"}

    @router.get("/sessions/{transaction_id}/invoice",
                responses=error_responses(404), response_model=BillOut, tags=["billing"])
    def session_bill(transaction_id: TransactionId) -> dict[str, Any]:
        """The session's bill: issued (with the invoice in force), waiting for review, or waived."""
        with engine.connect() as connection:
            bill = store.bill_of(connection, transaction_id)
        if bill is None or bill["status"] == "issuing":
            raise HTTPException(404, f"session {transaction_id} has no bill (yet)")
        bill["invoice"] = _invoice_out(bill["invoice_number"]) if bill["invoice_number"] else None
        return bill

    @router.get("/reviews", response_model=list[BillOut], tags=["billing"])
    def reviews(limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
        """Sessions held back from billing (meter anomalies, disagreeing signatures, no tariff)."""
        with engine.connect() as connection:
            return store.bills_needing_review(connection, limit)

    @router.post("/reviews/{transaction_id}/resolve",
                 responses=error_responses(404, 409), response_model=ResolutionOut, tags=["billing"])
    async def resolve(transaction_id: TransactionId, body: ResolutionIn) -> dict[str, Any]:
        """Bill a reviewed session (with the energy the operator states, if the meter cannot) or waive it."""
        try:
            number = await asyncio.to_thread(biller.resolve, transaction_id, resolved_by=body.resolved_by,
                                             note=body.note, energy_wh=body.energy_wh, waive=body.waive)
        except store.BillingConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {"transaction_id": transaction_id, "status": "waived" if body.waive else "issued",
                "invoice_number": number}

    # ------------------------------------------------------------------ invoices

    @router.get("/invoices", response_model=list[InvoiceSummary], tags=["billing"])
    def list_invoices(
        transaction_id: TransactionId | None = None,
        charger_id: str | None = None,
        kind: Annotated[str | None, Query(pattern="^(invoice|credit_note)$")] = None,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> list[dict[str, Any]]:
        """Invoices and credit notes in number order."""
        with engine.connect() as connection:
            return store.list_invoices(connection, transaction_id=transaction_id, charger_id=charger_id, kind=kind,
                                       since=since, until=until, limit=limit, offset=offset)

    @router.get("/invoices/{number}.pdf", response_class=Response,
                responses={**_PDF_RESPONSE, **error_responses(404)}, tags=["billing"])
    async def invoice_pdf(number: str, lang: Annotated[Literal["en", "de"], Query()] = "en") -> Response:
        """The invoice or credit note as PDF, in English or German (`?lang=de`)."""
        pdf = await asyncio.to_thread(biller.pdf, number, lang)
        if pdf is None:
            raise HTTPException(404, f"invoice {number} not found")
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})

    @router.get("/invoices/{number}", responses=error_responses(404), response_model=InvoiceOut, tags=["billing"])
    def get_invoice(number: str) -> dict[str, Any]:
        """One invoice (or credit note) by its number, with its lines and totals."""
        found = _invoice_out(number)
        if found is None:
            raise HTTPException(404, f"invoice {number} not found")
        return found

    @router.post("/invoices/{number}/credit",
                 responses=error_responses(404, 409), response_model=CreditOut, tags=["billing"])
    async def credit_invoice(number: str, body: CreditIn) -> dict[str, Any]:
        """Correct an invoice: a credit note and credit CDR cancel it, then a new invoice is issued.

        Nothing issued is ever edited; both new documents get the next numbers of the series.
        """
        try:
            credit_number, new_number = await asyncio.to_thread(
                biller.credit, number, body.reason, reissue=body.reissue, energy_wh=body.energy_wh,
                tariff_id=body.tariff_id)
        except LookupError:
            raise HTTPException(404, f"invoice {number} not found") from None
        except store.BillingConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {"credit_note": credit_number, "invoice": new_number}

    # ------------------------------------------------------------------ CDRs

    @router.get("/cdrs", response_model=list[CdrSummary], tags=["billing"])
    def list_cdrs(
        transaction_id: TransactionId | None = None,
        credit: bool | None = None,
        since: Timestamp | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> list[dict[str, Any]]:
        """OCPI 2.2.1 CDRs issued, newest first, by session, credit CDRs only, or since an instant."""
        with engine.connect() as connection:
            return store.list_cdrs(connection, transaction_id=transaction_id, credit_only=credit, since=since,
                                   limit=limit, offset=offset)

    @router.get("/cdrs/{cdr_id}", response_class=Response,
                responses={**_CDR_RESPONSE, **error_responses(404)}, tags=["billing"])
    def get_cdr(cdr_id: str) -> Response:
        """The OCPI 2.2.1 CDR exactly as stored."""
        with engine.connect() as connection:
            body = store.cdr_body(connection, cdr_id)
        if body is None:
            raise HTTPException(404, f"CDR {cdr_id} not found")
        return Response(body, media_type="application/json")

    return router


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """OCPI JSON with Decimals as JSON numbers (the tariff as an OCPI peer would receive it)."""
    return json.loads(json.dumps(data, default=float))
