"""What a tariff costs, said before the start: unit prices incl. VAT per kWh, per minute, parking, session fee.

AFIR (EU 2023/1804) Art. 5 and US NEVI 23 CFR 680.116(a) want the ad-hoc price shown to the driver before a
session starts. A tariff is a list of elements with restrictions, so the sheet lists every priced
component with the conditions under which it applies (in the driver's language) and marks the ones in
force for a session starting `now`. Pure: the caller passes `now`, the station's time zone and a language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.price import ZERO, Price, round_ocpi
from chargewatch.billing.pricing import compiled_tariff
from chargewatch.billing.tariff import PriceComponent, Tariff, TariffDimensionType, TariffRestrictions

_SIXTY = Decimal(60)
_HUNDRED = Decimal(100)
LANGUAGES = ("en", "de")

_TEXT = {
    "en": {
        "ENERGY": "Energy", "TIME": "Charging time", "PARKING_TIME": "Parking (connected, not charging)",
        "FLAT": "Session fee", "always": "at all times", "from": "from {}", "until": "until {}",
        "between": "{}–{}", "days": "on {}", "dates_from": "from {}", "dates_until": "until {}",
        "kwh_from": "from {} kWh charged", "kwh_until": "for the first {} kWh",
        "power_from": "at {} kW or more", "power_below": "below {} kW",
        "current_from": "at {} A or more", "current_below": "below {} A",
        "after": "after {} min", "first": "for the first {} min",
        "step_energy": "billed per {} Wh", "step_time": "billed per {} min started",
        "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    },
    "de": {
        "ENERGY": "Energie", "TIME": "Ladezeit", "PARKING_TIME": "Standzeit (angesteckt, ohne Laden)",
        "FLAT": "Startgebühr", "always": "jederzeit", "from": "ab {}", "until": "bis {}",
        "between": "{}–{}", "days": "{}", "dates_from": "ab {}", "dates_until": "bis {}",
        "kwh_from": "ab {} kWh geladen", "kwh_until": "für die ersten {} kWh",
        "power_from": "ab {} kW", "power_below": "unter {} kW",
        "current_from": "ab {} A", "current_below": "unter {} A",
        "after": "nach {} min", "first": "in den ersten {} min",
        "step_energy": "abgerechnet je {} Wh", "step_time": "abgerechnet je angefangene {} min",
        "weekdays": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    },
}
_UNITS = {TariffDimensionType.ENERGY: "kWh", TariffDimensionType.TIME: "min",
          TariffDimensionType.PARKING_TIME: "min", TariffDimensionType.FLAT: "session"}
_ORDER = (TariffDimensionType.FLAT, TariffDimensionType.ENERGY, TariffDimensionType.TIME,
          TariffDimensionType.PARKING_TIME)


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """One priced component as a driver reads it; TIME and PARKING_TIME per minute (OCPI prices them per hour)."""

    dimension: TariffDimensionType
    label: str
    unit: str  # kWh, min or session
    excl_vat: Decimal
    incl_vat: Decimal
    vat_rate: Decimal | None  # percent; None: no VAT applies
    conditions: str
    billing_step: str  # "" for step 1 (per Wh / per second)
    in_force_now: bool
    element: int


@dataclass(frozen=True, slots=True)
class PriceSheet:
    tariff_id: str
    currency: str
    time_zone: str
    language: str
    prices: tuple[UnitPrice, ...]
    min_price: Price | None
    max_price: Price | None
    notes: tuple[str, ...]  # the tariff's own alt texts in the language, if any

    def in_force(self) -> tuple[UnitPrice, ...]:
        return tuple(p for p in self.prices if p.in_force_now)


def price_sheet(tariff: Tariff, *, time_zone: str, now: datetime, language: str = "en") -> PriceSheet:
    """Every charging component of `tariff` (reservation elements aside), those in force at `now` first."""
    lang = language if language in LANGUAGES else "en"
    text = _TEXT[lang]
    active = compiled_tariff(tariff, time_zone).components_at(ChargingPeriod(now))
    prices = []
    for index, element in enumerate(tariff.elements):
        r = element.restrictions
        if r is not None and r.reservation is not None:
            continue
        conditions = _conditions(r, text)
        for component in element.price_components:
            prices.append(_unit_price(component, index, conditions, text,
                                      active.get(component.type) == index))
    prices.sort(key=lambda p: (not p.in_force_now, _ORDER.index(p.dimension), p.element))
    notes = tuple(t.text for t in tariff.tariff_alt_text if t.language.lower().startswith(lang))
    return PriceSheet(tariff.id, tariff.currency, ZoneInfo(time_zone).key, lang, tuple(prices),
                      tariff.min_price, tariff.max_price, notes)


def _unit_price(component: PriceComponent, element: int, conditions: str, text: dict, now: bool) -> UnitPrice:
    kind = component.type
    per_unit = component.price / _SIXTY if kind in (TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME) \
        else component.price
    factor = Decimal(1) + (component.vat or ZERO) / _HUNDRED
    step = ""
    if kind is TariffDimensionType.ENERGY and component.step_size > 1:
        step = text["step_energy"].format(component.step_size)
    elif kind in (TariffDimensionType.TIME, TariffDimensionType.PARKING_TIME) and component.step_size > 1:
        step = text["step_time"].format(_number(Decimal(component.step_size) / _SIXTY))
    return UnitPrice(kind, text[kind.value], _UNITS[kind], round_ocpi(per_unit), round_ocpi(per_unit * factor),
                     component.vat, conditions, step, now, element)


def _conditions(r: TariffRestrictions | None, text: dict) -> str:
    if r is None:
        return text["always"]
    parts = []
    if r.start_time and r.end_time:
        parts.append(text["between"].format(f"{r.start_time:%H:%M}", f"{r.end_time:%H:%M}"))
    elif r.start_time:
        parts.append(text["from"].format(f"{r.start_time:%H:%M}"))
    elif r.end_time:
        parts.append(text["until"].format(f"{r.end_time:%H:%M}"))
    if r.day_of_week:
        parts.append(text["days"].format(", ".join(text["weekdays"][d.iso_index] for d in r.day_of_week)))
    if r.start_date:
        parts.append(text["dates_from"].format(r.start_date.isoformat()))
    if r.end_date:
        parts.append(text["dates_until"].format(r.end_date.isoformat()))
    for value, key in ((r.min_kwh, "kwh_from"), (r.max_kwh, "kwh_until"), (r.min_power, "power_from"),
                       (r.max_power, "power_below"), (r.min_current, "current_from"),
                       (r.max_current, "current_below")):
        if value is not None:
            parts.append(text[key].format(_number(value)))
    if r.min_duration is not None:
        parts.append(text["after"].format(_number(Decimal(r.min_duration) / _SIXTY)))
    if r.max_duration is not None:
        parts.append(text["first"].format(_number(Decimal(r.max_duration) / _SIXTY)))
    return ", ".join(parts) or text["always"]


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"
