"""Money as OCPI carries it: a `Price` with an amount excluding and including VAT.

Amounts stay exact `Decimal` through every calculation; they are rounded once, at the end,
to the 4 decimals OCPI numbers carry (OCPI 2.2.1, types: number). What a driver pays is that CDR
total rounded half-up to the currency's minor unit (`amount_due`): the session page, the live cost,
the driver page, the receipt and the invoice all show this one number.
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


# ISO 4217 minor units of the currencies whose amounts are not in hundredths.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3}


def minor_unit(currency: str | None) -> int:
    """Decimals of the currency's minor unit (2 unless ISO 4217 says otherwise)."""
    return _MINOR_UNITS.get((currency or "").upper(), 2)


def round_money(value: Decimal, currency: str | None) -> Decimal:
    """Half-up to the currency's minor unit: 5.8650 EUR is 5.87 EUR everywhere."""
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), None, _HALF_UP)


def amount_due(total: Price, currency: str | None) -> Price:
    """The CDR's total_cost as money: each of excl./incl. VAT rounded once to the minor unit."""
    return Price(round_money(total.excl_vat, currency),
                 None if total.incl_vat is None else round_money(total.incl_vat, currency))
