"""The signed-data section of an invoice or receipt PDF (Eichrecht): documents, key, encoding, how to check.

Drawn into the invoice's fpdf2 document by `invoice_pdf.render_pdf`. Signed documents are long,
unbroken strings, so they are set in a small monospace font and wrapped at any character; a QR code
of each document (where it fits) lets a driver move it into the Transparenzsoftware without typing.
"""

from __future__ import annotations

from collections.abc import Callable

import qrcode
from fpdf import FPDF
from fpdf.enums import WrapMode

from chargewatch.billing.signed_data import (
    HEADINGS,
    TIME_STATUS_TEXT,
    VERDICT_TEXT,
    SignedDataSection,
    check_instructions,
)

_QR_MM = 42


def draw_signed_data(pdf: FPDF, section: SignedDataSection, text: Callable[[str], str], lang: str = "en") -> None:
    """Append the section to `pdf`; `text` makes a string printable in the PDF's core fonts (latin-1)."""
    lang = lang if lang in HEADINGS else "en"
    words, width = HEADINGS[lang], pdf.epw
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width, 7, text(words["title"]), new_x="LMARGIN", new_y="NEXT")

    facts = [(words["verdict"], f"{section.verdict.value} - {VERDICT_TEXT[lang][section.verdict.value]}")]
    if section.verdict.value != "VALID":
        facts.append((words["reason"], section.reason))
    facts.append((words["encoding"], " / ".join(x for x in (section.encoding_method, section.signing_method) if x)))
    statuses = TIME_STATUS_TEXT[lang]
    clock = ", ".join(f"{s} = {statuses.get(s, s)}" for s in dict.fromkeys(section.time_statuses)) or "-"
    facts.append((words["time"], clock + ("" if section.time_priced else f". {words['time_not_priced']}")))
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(44, 5, text(label))
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(width - 44, 5, text(value), new_x="LMARGIN", new_y="NEXT")

    if section.public_key:
        source = words["key_registered"] if section.public_key_source == "registered" else words["key_sent"]
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(width, 5, text(f"{words['key']} ({source}):"), new_x="LMARGIN", new_y="NEXT")
        _monospace(pdf, section.public_key.upper())

    for document in section.documents:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(width, 5, text(f"{words['document']} - {document.nature}:"), new_x="LMARGIN", new_y="NEXT")
        _monospace(pdf, text(document.ocmf or document.as_sent))
        if document.fits_qr and document.ocmf is not None:
            if pdf.get_y() + _QR_MM > pdf.h - pdf.b_margin:
                pdf.add_page()
            image = qrcode.make(document.ocmf, border=1, error_correction=qrcode.constants.ERROR_CORRECT_L)
            pdf.image(image.get_image(), x=pdf.l_margin, y=pdf.get_y(), w=_QR_MM, h=_QR_MM)
            pdf.set_y(pdf.get_y() + _QR_MM + 2)

    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(width, 5, text(words["check"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for step in check_instructions(lang):
        pdf.multi_cell(width, 4.5, text(step), new_x="LMARGIN", new_y="NEXT")


def _monospace(pdf: FPDF, value: str) -> None:
    pdf.set_font("Courier", "", 6.5)
    pdf.multi_cell(pdf.epw, 3, value, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
