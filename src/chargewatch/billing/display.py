"""How billing figures read for a driver: money and times in the driver's locale, the station's time zone.

Babel (CLDR data) does the locale work — decimal comma and currency sign placement ("8,80 €" in German,
"€8.80" in English), month names, zone abbreviations — so no format string here guesses a language's
conventions. Amounts are rounded first exactly as the invoice rounds them (`price.round_money`), so a
formatted figure never disagrees with the invoice. Also: OCPP stop reasons as sentences.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

from chargewatch.billing.price import round_money

LOCALES = {"en": "en_GB", "de": "de_DE"}


def locale_of(language: str | None) -> str:
    return LOCALES.get((language or "en")[:2].lower(), "en_GB")


def money(amount: Decimal, currency: str, language: str | None = "en") -> str:
    """An amount to pay, rounded as the invoice rounds it, in the driver's locale: "8,80 €" / "€8.80"."""
    return str(format_currency(round_money(amount, currency), currency, locale=locale_of(language)))


def unit_price(amount: Decimal, currency: str, language: str | None = "en") -> str:
    """A price per unit, with up to 4 decimals (0.0917 €/min is not 0.09 €/min)."""
    locale = locale_of(language)
    pattern = "#,##0.00##\xa0¤" if locale.startswith("de") else "¤#,##0.00##"
    return str(format_currency(amount, currency, format=pattern, locale=locale, currency_digits=False))


def quantity(value: Decimal, language: str | None = "en") -> str:
    """A quantity (kWh, minutes) with at most 3 decimals in the driver's locale: "5,5" / "5.5"."""
    return str(format_decimal(value, format="#,##0.###", locale=locale_of(language)))


def local_time(moment: datetime, time_zone: str, language: str | None = "en") -> str:
    """A moment in the station's zone, with the zone's abbreviation: "2. Nov. 2026, 21:30 MEZ"."""
    locale = locale_of(language)
    pattern = "d. MMM y, HH:mm zzz" if locale.startswith("de") else "d MMM y, HH:mm zzz"
    return str(format_datetime(moment, pattern, tzinfo=ZoneInfo(time_zone), locale=locale))


# OCPP 1.6 StopTransaction.reason (and 2.0.1 stoppedReason) as a driver would say it.
_STOP_REASONS = {
    "en": {
        "EVDisconnected": "The cable was unplugged from the car.",
        "Local": "Charging was stopped at the charger.",
        "Remote": "Charging was stopped remotely (app or operator).",
        "EmergencyStop": "The emergency stop was pressed.",
        "HardReset": "The charger restarted.",
        "SoftReset": "The charger restarted.",
        "Reboot": "The charger restarted.",
        "PowerLoss": "The charger lost power.",
        "UnlockCommand": "The connector was unlocked by the operator.",
        "DeAuthorized": "The charging card or app was not accepted.",
        "EnergyLimitReached": "The requested amount of energy was reached.",
        "SOCLimitReached": "The requested battery level was reached.",
        "TimeLimitReached": "The requested charging time was reached.",
        "Other": "Charging ended.",
    },
    "de": {
        "EVDisconnected": "Das Kabel wurde vom Auto getrennt.",
        "Local": "Der Ladevorgang wurde an der Ladestation beendet.",
        "Remote": "Der Ladevorgang wurde aus der Ferne beendet (App oder Betreiber).",
        "EmergencyStop": "Der Not-Aus wurde gedrückt.",
        "HardReset": "Die Ladestation wurde neu gestartet.",
        "SoftReset": "Die Ladestation wurde neu gestartet.",
        "Reboot": "Die Ladestation wurde neu gestartet.",
        "PowerLoss": "Die Ladestation hatte einen Stromausfall.",
        "UnlockCommand": "Der Stecker wurde vom Betreiber entriegelt.",
        "DeAuthorized": "Die Ladekarte oder App wurde nicht akzeptiert.",
        "EnergyLimitReached": "Die gewünschte Energiemenge ist erreicht.",
        "SOCLimitReached": "Der gewünschte Ladestand ist erreicht.",
        "TimeLimitReached": "Die gewünschte Ladedauer ist erreicht.",
        "Other": "Der Ladevorgang ist beendet.",
    },
}


def stop_reason(reason: str | None, language: str | None = "en") -> str:
    """A sentence for an OCPP stop reason; an unknown or missing one reads as plainly ended."""
    sentences = _STOP_REASONS["de" if locale_of(language).startswith("de") else "en"]
    return sentences.get(reason or "Other", sentences["Other"])
