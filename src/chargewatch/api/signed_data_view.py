"""The driver page's signed-data section (Eichrecht): the bill's signed documents, key and how to check them.

The page shows what the invoice says (its `signed_data`), in the driver's language, with a QR code of
each OCMF document (SVG, where it fits) and a link to the Transparenzsoftware file of the session.
"""

from __future__ import annotations

from typing import Any

import qrcode
import qrcode.image.svg

from ..billing.signed_data import HEADINGS, TIME_STATUS_TEXT, VERDICT_TEXT, SignedDataSection, check_instructions


def qr_svg(data: str) -> str:
    """An inline SVG QR code of `data` (error correction L: signed documents are long)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, border=1,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image().to_string(encoding="unicode")


def driver_view(signed_data: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """What the template shows, or None for an unsigned session."""
    if not signed_data:
        return None
    section = SignedDataSection.from_json(signed_data)
    lang = lang if lang in HEADINGS else "en"
    statuses = TIME_STATUS_TEXT[lang]
    return {
        "words": HEADINGS[lang],
        "verdict": section.verdict.value,
        "verdict_text": VERDICT_TEXT[lang][section.verdict.value],
        "reason": section.reason,
        "encoding": " / ".join(x for x in (section.encoding_method, section.signing_method) if x),
        "public_key": section.public_key.upper() if section.public_key else None,
        "public_key_source": section.public_key_source,
        "clock": ", ".join(f"{s} = {statuses.get(s, s)}" for s in dict.fromkeys(section.time_statuses)),
        "time_priced": section.time_priced,
        "documents": [{"nature": d.nature, "ocmf": d.ocmf or d.as_sent,
                       "qr": qr_svg(d.ocmf) if d.fits_qr and d.ocmf else None} for d in section.documents],
        "steps": check_instructions(lang),
    }
