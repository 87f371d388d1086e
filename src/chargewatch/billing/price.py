"""Money as OCPI carries it: a `Price` with an amount excluding and including VAT.

Amounts stay exact `Decimal` through every calculation; they are rounded once, at the end,
to the 4 decimals OCPI numbers carry (OCPI 2.2.1, types: number).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple

OCPI_QUANTUM = Decimal("0.0001")
ZERO = Decimal(0)
_HALF_UP = Context(rounding=ROUND_HALF_UP)


def round_ocpi(value: Decimal) -> Decimal:
    """Round half-up to 4 decimals: the only rounding a priced amount ever gets."""
    return value.quantize(OCPI_QUANTUM, None, _HALF_UP)


class Price(NamedTuple):
    """An amount of money excluding and including VAT (OCPI `Price` class).

    `incl_vat` is optional in OCPI (a tariff's min/max price may give only the net figure).
    """

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def to_json(self) -> dict[str, str]:
        """Decimal strings with 4 decimals, so no float ever touches the amount."""
        out = {"excl_vat": str(round_ocpi(self.excl_vat))}
        if self.incl_vat is not None:
            out["incl_vat"] = str(round_ocpi(self.incl_vat))
        return out
