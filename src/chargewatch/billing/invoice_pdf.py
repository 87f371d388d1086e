"""A readable A4 PDF of an invoice or credit note, drawn with fpdf2's core fonts.

Core fonts only encode latin-1, so text goes through `latin1_text` (accents kept where latin-1 has
them, other scripts transliterated or replaced) and currencies are written as codes ("EUR"). That
keeps the PDF free of font files that a machine may not have; a driver's name in another script
shows as its closest latin-1 form rather than crashing the invoice run.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import qrcode
from fpdf import FPDF

from chargewatch.billing.invoice import Invoice
from chargewatch.billing.signed_data_pdf import draw_signed_data

_VERIFICATION_TEXT = {
    "VALID": "Signed meter values (OCMF) verified against the meter's public key.",
    "INVALID": "Signed meter values (OCMF) could NOT be verified; this session is under review.",
    "NOT_SIGNED": "The charger did not provide signed meter values for this session.",
    "UNVERIFIED": "Signed meter values (OCMF) were provided but could not be verified here (see below).",
    "KEY_MISMATCH": "Signed meter values (OCMF) came with a public key that differs from the meter's registered key.",
    "KEY_UNREGISTERED": "Signed meter values (OCMF) came with a public key that is not registered for the meter.",
}


# Letters NFKD does not decompose, and the euro sign, which latin-1 lacks.
_SPELLED = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe", "ı": "i", "€": "EUR", "–": "-", "—": "-",
            "‘": "'", "’": "'", "“": '"', "”": '"'}


def latin1_text(text: str) -> str:
    """`text` in latin-1: kept where possible, else spelled out or accents stripped (NFKD), else '?'."""
    out = []
    for char in text:
        if char in _SPELLED:
            out.append(_SPELLED[char])
            continue
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            try:
                out.append(base.encode("latin-1").decode("latin-1") if base else "?")
            except UnicodeEncodeError:
                out.append("?")
    return "".join(out)


def render_pdf(invoice: Invoice, lang: str = "en") -> bytes:
    """The invoice as PDF bytes (A4, portrait); `lang` is the language of the signed-data section."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(latin1_text(f"{_title(invoice)} {invoice.number}"))
    pdf.set_author(latin1_text(invoice.seller.name))
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width, 9, latin1_text(invoice.seller.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for address_line in invoice.seller.address_lines:
        pdf.cell(width, 4.5, latin1_text(address_line), new_x="LMARGIN", new_y="NEXT")
    if invoice.seller.vat_id:
        pdf.cell(width, 4.5, latin1_text(f"VAT ID {invoice.seller.vat_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(width, 8, latin1_text(f"{_title(invoice)} {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    facts = [("Issue date", invoice.issue_date.isoformat())]
    if invoice.credit_note_for:
        facts.append(("Credits invoice", invoice.credit_note_for))
    if invoice.buyer:
        facts.append(("Customer", ", ".join([invoice.buyer.name, *invoice.buyer.address_lines])))
        if invoice.buyer.vat_id:
            facts.append(("Customer VAT ID", invoice.buyer.vat_id))
    facts += [
        ("Station", f"{invoice.station_name} (EVSE {invoice.evse_id})"),
        ("Session", invoice.session_id),
        ("Start", f"{invoice.session_start:%Y-%m-%d %H:%M:%S} ({invoice.time_zone}, UTC{invoice.session_start:%z})"),
        ("Stop", f"{invoice.session_stop:%Y-%m-%d %H:%M:%S} ({invoice.time_zone}, UTC{invoice.session_stop:%z})"),
        ("Meter", f"{invoice.meter_start_wh} Wh -> {invoice.meter_stop_wh} Wh = {invoice.energy_kwh} kWh"),
    ]
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(38, 5.5, latin1_text(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(width - 38, 5.5, latin1_text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    currency = invoice.currency
    columns = (("Item", 0.34), ("Quantity", 0.16), ("Unit price", 0.18), ("VAT", 0.10), ("Net", 0.22))
    pdf.set_font("Helvetica", "B", 10)
    pdf.set_fill_color(230, 230, 230)
    for i, (name, share) in enumerate(columns):
        pdf.cell(width * share, 7, name, border="B", fill=True, align="L" if i == 0 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines:
        cells = (
            line.description,
            f"{line.quantity} {line.unit}",
            f"{line.unit_price} {currency}",
            _rate(line.vat_rate),
            f"{line.net} {currency}",
        )
        for i, (value, (_, share)) in enumerate(zip(cells, columns, strict=True)):
            pdf.cell(width * share, 6.5, latin1_text(value), align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(3)

    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, "VAT breakdown", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for subtotal in invoice.vat_breakdown:
        text = f"{_rate(subtotal.rate)} on {subtotal.net} {currency}: {subtotal.vat} {currency}"
        pdf.cell(width, 5.5, latin1_text(text), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for label, amount, bold in (
        ("Total net", invoice.total_net, False),
        ("Total VAT", invoice.total_vat, False),
        ("Total to pay" if not invoice.is_credit_note else "Total credited", invoice.total_gross, True),
    ):
        pdf.set_font("Helvetica", "B" if bold else "", 12 if bold else 10)
        pdf.cell(width * 0.78, 6.5, label, align="R")
        pdf.cell(width * 0.22, 6.5, f"{amount} {currency}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)

    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(width, 5, _VERIFICATION_TEXT[invoice.meter_verification.value], new_x="LMARGIN", new_y="NEXT")
    if invoice.signed_data is not None:
        draw_signed_data(pdf, invoice.signed_data, latin1_text, lang)
    if invoice.feedback_url:
        pdf.ln(3)
        image = qrcode.make(invoice.feedback_url, box_size=8, border=2).get_image()
        top = pdf.get_y()
        pdf.image(image, x=pdf.l_margin, y=top, w=32, h=32)
        pdf.set_xy(pdf.l_margin + 36, top + 10)
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(width - 36, 5, latin1_text(f"How was your charging session? Tell us: {invoice.feedback_url}"))
    return bytes(pdf.output())


def _title(invoice: Invoice) -> str:
    return "Credit note" if invoice.is_credit_note else "Invoice"


def _rate(rate: Decimal | None) -> str:
    return "no VAT" if rate is None else f"{rate.normalize():f} %"
