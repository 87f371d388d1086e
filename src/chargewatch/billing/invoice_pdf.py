"""A readable A4 PDF of an invoice or credit note, drawn with fpdf2's core fonts.

Core fonts only encode latin-1, so text goes through `latin1_text` (accents kept where latin-1 has
them, other scripts transliterated or replaced) and currencies are written as codes ("EUR"). That
keeps the PDF free of font files that a machine may not have; a driver's name in another script
shows as its closest latin-1 form rather than crashing the invoice run.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from decimal import Decimal

import qrcode
from babel.dates import format_date
from babel.numbers import format_decimal
from fpdf import FPDF

from chargewatch.billing.display import local_time, locale_of, money, unit_price
from chargewatch.billing.invoice import Invoice
from chargewatch.billing.signed_data_pdf import draw_signed_data

_VERIFICATION_TEXT = {
    "en": {
        "VALID": "Signed meter values (OCMF) verified against the meter's public key.",
        "INVALID": "Signed meter values (OCMF) could NOT be verified; this session is under review.",
        "NOT_SIGNED": "The charger did not provide signed meter values for this session.",
        "UNVERIFIED": "Signed meter values (OCMF) were provided but could not be verified here (see below).",
        "KEY_MISMATCH": "Signed meter values (OCMF) came with a public key that differs from the meter's registered "
                        "key.",
        "KEY_UNREGISTERED": "Signed meter values (OCMF) came with a public key that is not registered for the meter.",
    },
    "de": {
        "VALID": "Signierte Messwerte (OCMF) mit dem öffentlichen Schlüssel des Zählers geprüft.",
        "INVALID": "Signierte Messwerte (OCMF) konnten NICHT bestätigt werden; der Ladevorgang wird geprüft.",
        "NOT_SIGNED": "Die Ladestation hat für diesen Ladevorgang keine signierten Messwerte geliefert.",
        "UNVERIFIED": "Signierte Messwerte (OCMF) liegen vor, konnten hier aber nicht geprüft werden (siehe unten).",
        "KEY_MISMATCH": "Die signierten Messwerte (OCMF) kamen mit einem anderen öffentlichen Schlüssel als dem "
                        "registrierten des Zählers.",
        "KEY_UNREGISTERED": "Die signierten Messwerte (OCMF) kamen mit einem öffentlichen Schlüssel, der für den "
                            "Zähler nicht registriert ist.",
    },
}
# What the invoice says, per language (`?lang=de` on the PDF routes); amounts and times follow the locale.
_TEXT = {
    "en": {
        "invoice": "Invoice", "credit_note": "Credit note", "issue_date": "Issue date",
        "credits": "Credits invoice", "customer": "Customer", "customer_vat": "Customer VAT ID", "vat_id": "VAT ID",
        "station": "Station", "session": "Session", "start": "Start", "stop": "Stop", "meter": "Meter",
        "item": "Item", "quantity": "Quantity", "unit_price": "Unit price", "vat": "VAT", "net": "Net",
        "breakdown": "VAT breakdown", "on": "{rate} on {net}: {vat}", "total_net": "Total net",
        "total_vat": "Total VAT", "to_pay": "Total to pay", "credited": "Total credited", "no_vat": "no VAT",
        "feedback": "How was your charging session? Tell us: {url}",
    },
    "de": {
        "invoice": "Rechnung", "credit_note": "Gutschrift", "issue_date": "Rechnungsdatum",
        "credits": "Storniert Rechnung", "customer": "Kunde", "customer_vat": "USt-IdNr. Kunde", "vat_id": "USt-IdNr.",
        "station": "Ladestation", "session": "Ladevorgang", "start": "Beginn", "stop": "Ende", "meter": "Zähler",
        "item": "Position", "quantity": "Menge", "unit_price": "Einzelpreis", "vat": "MwSt.", "net": "Netto",
        "breakdown": "Umsatzsteuer", "on": "{rate} auf {net}: {vat}", "total_net": "Summe netto",
        "total_vat": "Summe MwSt.", "to_pay": "Zu zahlen", "credited": "Gutgeschrieben", "no_vat": "ohne MwSt.",
        "feedback": "Wie war Ihr Ladevorgang? Sagen Sie es uns: {url}",
    },
}
_DESCRIPTIONS_DE = {
    "Energy": "Energie", "Charging time": "Ladezeit", "Parking time": "Standzeit", "Session fee": "Startgebühr",
    "Reservation": "Reservierung", "Minimum price adjustment": "Ausgleich auf den Mindestpreis",
    "Maximum price cap": "Begrenzung auf den Höchstpreis",
}
_UNITS_DE = {"session": "Vorgang"}


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


def render_pdf(invoice: Invoice, lang: str = "en", help_line: str | None = None) -> bytes:
    """The invoice as PDF bytes (A4, portrait) in English or German (`lang`): labels, amounts, times, signed data,
    and at the end `help_line` (the site's 'Still stuck? Call …' line) when the site has a support record.

    Times are the station's local time (the invoice's time zone); amounts are written in the language's
    locale, with the currency as its code where latin-1 has no sign ("8,80 EUR").
    """
    lang = "de" if lang == "de" else "en"
    text = _TEXT[lang]
    currency = invoice.currency

    def amount(value: Decimal) -> str:
        return _sign_as_code(money(value, currency, lang))

    def per_unit(value: Decimal) -> str:
        return _sign_as_code(unit_price(value, currency, lang))

    def number(value: Decimal) -> str:
        return str(format_decimal(value, locale=locale_of(lang), decimal_quantization=False))

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(latin1_text(f"{_title(invoice, text)} {invoice.number}"))
    pdf.set_author(latin1_text(invoice.seller.name))
    pdf.set_lang(lang)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width, 9, latin1_text(invoice.seller.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for address_line in invoice.seller.address_lines:
        pdf.cell(width, 4.5, latin1_text(address_line), new_x="LMARGIN", new_y="NEXT")
    if invoice.seller.vat_id:
        pdf.cell(width, 4.5, latin1_text(f"{text['vat_id']} {invoice.seller.vat_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(width, 8, latin1_text(f"{_title(invoice, text)} {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    facts = [(text["issue_date"], str(format_date(invoice.issue_date, "medium", locale=locale_of(lang))))]
    if invoice.credit_note_for:
        facts.append((text["credits"], invoice.credit_note_for))
    if invoice.buyer:
        facts.append((text["customer"], ", ".join([invoice.buyer.name, *invoice.buyer.address_lines])))
        if invoice.buyer.vat_id:
            facts.append((text["customer_vat"], invoice.buyer.vat_id))
    facts += [
        (text["station"], f"{invoice.station_name} (EVSE {invoice.evse_id})"),
        (text["session"], invoice.session_id),
        (text["start"], f"{local_time(invoice.session_start, invoice.time_zone, lang)} ({invoice.time_zone})"),
        (text["stop"], f"{local_time(invoice.session_stop, invoice.time_zone, lang)} ({invoice.time_zone})"),
        (text["meter"],
         f"{invoice.meter_start_wh} Wh -> {invoice.meter_stop_wh} Wh = {number(invoice.energy_kwh)} kWh"),
    ]
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(38, 5.5, latin1_text(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(width - 38, 5.5, latin1_text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    columns = ((text["item"], 0.34), (text["quantity"], 0.16), (text["unit_price"], 0.18), (text["vat"], 0.10),
               (text["net"], 0.22))
    pdf.set_font("Helvetica", "B", 10)
    pdf.set_fill_color(230, 230, 230)
    for i, (name, share) in enumerate(columns):
        pdf.cell(width * share, 7, latin1_text(name), border="B", fill=True, align="L" if i == 0 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines:
        description = _DESCRIPTIONS_DE.get(line.description, line.description) if lang == "de" else line.description
        unit = _UNITS_DE.get(line.unit, line.unit) if lang == "de" else line.unit
        cells = (
            description,
            f"{number(line.quantity)} {unit}",
            per_unit(line.unit_price),
            _rate(line.vat_rate, text, number),
            amount(line.net),
        )
        for i, (value, (_, share)) in enumerate(zip(cells, columns, strict=True)):
            pdf.cell(width * share, 6.5, latin1_text(value), align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(3)

    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, latin1_text(text["breakdown"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for subtotal in invoice.vat_breakdown:
        line_text = text["on"].format(rate=_rate(subtotal.rate, text, number), net=amount(subtotal.net),
                                      vat=amount(subtotal.vat))
        pdf.cell(width, 5.5, latin1_text(line_text), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for label, total, bold in (
        (text["total_net"], invoice.total_net, False),
        (text["total_vat"], invoice.total_vat, False),
        (text["to_pay"] if not invoice.is_credit_note else text["credited"], invoice.total_gross, True),
    ):
        pdf.set_font("Helvetica", "B" if bold else "", 12 if bold else 10)
        pdf.cell(width * 0.78, 6.5, latin1_text(label), align="R")
        pdf.cell(width * 0.22, 6.5, latin1_text(amount(total)), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)

    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(width, 5, latin1_text(_VERIFICATION_TEXT[lang][invoice.meter_verification.value]),
                   new_x="LMARGIN", new_y="NEXT")
    if invoice.signed_data is not None:
        draw_signed_data(pdf, invoice.signed_data, latin1_text, lang)
    if invoice.feedback_url:
        pdf.ln(3)
        image = qrcode.make(invoice.feedback_url, box_size=8, border=2).get_image()
        top = pdf.get_y()
        pdf.image(image, x=pdf.l_margin, y=top, w=32, h=32)
        pdf.set_xy(pdf.l_margin + 36, top + 10)
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(width - 36, 5, latin1_text(text["feedback"].format(url=invoice.feedback_url)))
    if help_line:
        pdf.set_xy(pdf.l_margin, pdf.get_y() + 4)
        pdf.set_font("Helvetica", "B", 9)
        pdf.multi_cell(width, 5, latin1_text(help_line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _sign_as_code(formatted: str) -> str:
    """Core fonts have no euro sign: "€8.80" becomes "EUR 8.80", "8,80 €" becomes "8,80 EUR"."""
    return formatted.replace("€", "EUR\xa0").strip()


def _title(invoice: Invoice, text: dict[str, str]) -> str:
    return text["credit_note"] if invoice.is_credit_note else text["invoice"]


def _rate(rate: Decimal | None, text: dict[str, str], number: Callable[[Decimal], str]) -> str:
    return text["no_vat"] if rate is None else f"{number(rate.normalize())} %"
