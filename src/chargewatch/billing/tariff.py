"""OCPI 2.2.1 Tariff objects (mod_tariffs): parsed, validated, immutable.

A tariff arrives as JSON from an operator's back office or a roaming partner. It is validated once,
here, so the pricing engine can trust every field; each error names the exact JSON path so the person
who wrote the tariff can fix it without guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from chargewatch.billing.price import Price


class TariffValidationError(ValueError):
    """A tariff that cannot be priced; `field` is the JSON path, `reason` a sentence."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def iso_index(self) -> int:
        """0 for Monday … 6 for Sunday, as `date.weekday()` counts."""
        return _WEEKDAYS.index(self)


_WEEKDAYS = tuple(DayOfWeek)


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """Price per unit of one dimension; `vat` None means no VAT applies, which is not 0 %."""

    type: TariffDimensionType
    price: Decimal
    step_size: int
    vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """When a TariffElement applies; every present field must hold (OCPI TariffRestrictions)."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestrictionType | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Tariff:
    """An OCPI 2.2.1 Tariff. Fields OCPI marks required but real feeds omit are optional here."""

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    country_code: str | None = None
    party_id: str | None = None
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: Mapping[str, Any] | None = field(default=None, compare=False)
    last_updated: datetime | None = None


_E = TypeVar("_E", bound=StrEnum)

_TIME_RE = re.compile(r"^([0-1][0-9]|2[0-3]):([0-5][0-9])$")
_DATE_RE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def tariff_from_json(data: Mapping[str, Any] | str | bytes) -> Tariff:
    """Parse and validate an OCPI 2.2.1 Tariff.

    Text is decoded with Decimal floats so that 0.1 stays exactly 0.1; an already decoded mapping
    may hold floats, which are read through their shortest repr for the same reason.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise TariffValidationError("$", f"is not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    obj = _object(data, "$")
    id_ = _string(obj, "id", "", required=True, max_len=36)
    currency = _string(obj, "currency", "", required=True)
    assert id_ is not None and currency is not None
    if not _CURRENCY_RE.match(currency):
        raise TariffValidationError("currency", f"must be a 3-letter ISO 4217 code in capitals, got {currency!r}.")
    elements_raw = obj.get("elements")
    if not isinstance(elements_raw, list):
        raise TariffValidationError("elements", "is required and must be a list of tariff elements.")
    if not elements_raw:
        raise TariffValidationError("elements", "must contain at least one tariff element.")
    elements = tuple(_element(raw, f"elements[{i}]") for i, raw in enumerate(elements_raw))
    type_raw = _string(obj, "type", "")
    tariff_type = _enum(TariffType, type_raw, "type") if type_raw is not None else None
    start_dt = _datetime(obj, "start_date_time", "")
    end_dt = _datetime(obj, "end_date_time", "")
    if start_dt and end_dt and end_dt <= start_dt:
        raise TariffValidationError("end_date_time", "must be after start_date_time.")
    min_price = _price(obj, "min_price")
    max_price = _price(obj, "max_price")
    if min_price and max_price and max_price.excl_vat < min_price.excl_vat:
        raise TariffValidationError("max_price.excl_vat", "must not be lower than min_price.excl_vat.")
    country = _string(obj, "country_code", "", max_len=2)
    party = _string(obj, "party_id", "", max_len=3)
    energy_mix = obj.get("energy_mix")
    if energy_mix is not None and not isinstance(energy_mix, Mapping):
        raise TariffValidationError("energy_mix", "must be an object.")
    return Tariff(
        id=id_,
        currency=currency,
        elements=elements,
        country_code=country,
        party_id=party,
        type=tariff_type,
        tariff_alt_text=_alt_texts(obj),
        tariff_alt_url=_string(obj, "tariff_alt_url", ""),
        min_price=min_price,
        max_price=max_price,
        start_date_time=start_dt,
        end_date_time=end_dt,
        energy_mix=energy_mix,
        last_updated=_datetime(obj, "last_updated", ""),
    )


def tariff_to_json(tariff: Tariff) -> dict[str, Any]:
    """The OCPI JSON form; numbers stay Decimal, encode with `json.dumps(..., default=str)` or similar."""
    out: dict[str, Any] = {}
    if tariff.country_code is not None:
        out["country_code"] = tariff.country_code
    if tariff.party_id is not None:
        out["party_id"] = tariff.party_id
    out["id"] = tariff.id
    out["currency"] = tariff.currency
    if tariff.type is not None:
        out["type"] = tariff.type.value
    if tariff.tariff_alt_text:
        out["tariff_alt_text"] = [{"language": t.language, "text": t.text} for t in tariff.tariff_alt_text]
    if tariff.tariff_alt_url is not None:
        out["tariff_alt_url"] = tariff.tariff_alt_url
    for name in ("min_price", "max_price"):
        price: Price | None = getattr(tariff, name)
        if price is not None:
            out[name] = {"excl_vat": price.excl_vat}
            if price.incl_vat is not None:
                out[name]["incl_vat"] = price.incl_vat
    out["elements"] = [_element_to_json(e) for e in tariff.elements]
    if tariff.start_date_time is not None:
        out["start_date_time"] = format_datetime(tariff.start_date_time)
    if tariff.end_date_time is not None:
        out["end_date_time"] = format_datetime(tariff.end_date_time)
    if tariff.energy_mix is not None:
        out["energy_mix"] = dict(tariff.energy_mix)
    if tariff.last_updated is not None:
        out["last_updated"] = format_datetime(tariff.last_updated)
    return out


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, fractional seconds only when present (OCPI DateTime)."""
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_datetime(raw: object, path: str) -> datetime:
    """OCPI DateTime: RFC 3339; no zone designator means UTC (OCPI 2.2.1 types)."""
    if not isinstance(raw, str):
        raise TariffValidationError(path, "must be an RFC 3339 date-time string.")
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError as exc:
        raise TariffValidationError(path, f"is not an RFC 3339 date-time: {raw!r}.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def decimal_from_json(raw: object, path: str) -> Decimal:
    """A JSON number as an exact Decimal; floats go through repr so 0.1 stays 0.1."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise TariffValidationError(path, f"must be a number, got {type(raw).__name__}.")
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except InvalidOperation as exc:
        raise TariffValidationError(path, "is not a finite number.") from exc
    if not value.is_finite():
        raise TariffValidationError(path, "must be a finite number.")
    return value


def _element_to_json(element: TariffElement) -> dict[str, Any]:
    components = []
    for c in element.price_components:
        comp: dict[str, Any] = {"type": c.type.value, "price": c.price}
        if c.vat is not None:
            comp["vat"] = c.vat
        comp["step_size"] = c.step_size
        components.append(comp)
    out: dict[str, Any] = {"price_components": components}
    r = element.restrictions
    if r is not None:
        rj: dict[str, Any] = {}
        if r.start_time is not None:
            rj["start_time"] = r.start_time.strftime("%H:%M")
        if r.end_time is not None:
            rj["end_time"] = r.end_time.strftime("%H:%M")
        if r.start_date is not None:
            rj["start_date"] = r.start_date.isoformat()
        if r.end_date is not None:
            rj["end_date"] = r.end_date.isoformat()
        for name in _NUMBER_RESTRICTIONS + ("min_duration", "max_duration"):
            value = getattr(r, name)
            if value is not None:
                rj[name] = value
        if r.day_of_week:
            rj["day_of_week"] = [d.value for d in r.day_of_week]
        if r.reservation is not None:
            rj["reservation"] = r.reservation.value
        out["restrictions"] = rj
    return out


_NUMBER_RESTRICTIONS = ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power")


def _element(raw: object, path: str) -> TariffElement:
    obj = _object(raw, path)
    comps_raw = obj.get("price_components")
    if not isinstance(comps_raw, list) or not comps_raw:
        raise TariffValidationError(f"{path}.price_components", "must be a non-empty list of price components.")
    components = tuple(_component(c, f"{path}.price_components[{i}]") for i, c in enumerate(comps_raw))
    restrictions_raw = obj.get("restrictions")
    if "tariff_restrictions" in obj and restrictions_raw is None:
        raise TariffValidationError(
            f"{path}.tariff_restrictions", "is not an OCPI field; the restrictions belong in 'restrictions'."
        )
    restrictions = None if restrictions_raw is None else _restrictions(restrictions_raw, f"{path}.restrictions")
    return TariffElement(price_components=components, restrictions=restrictions)


def _component(raw: object, path: str) -> PriceComponent:
    obj = _object(raw, path)
    type_raw = obj.get("type")
    if not isinstance(type_raw, str):
        raise TariffValidationError(f"{path}.type", "is required: one of ENERGY, FLAT, PARKING_TIME, TIME.")
    dimension = _enum(TariffDimensionType, type_raw, f"{path}.type")
    if "price" not in obj:
        raise TariffValidationError(f"{path}.price", "is required.")
    price = decimal_from_json(obj["price"], f"{path}.price")
    if price < 0:
        raise TariffValidationError(f"{path}.price", f"must not be negative, got {price}.")
    vat = None
    if obj.get("vat") is not None:
        vat = decimal_from_json(obj["vat"], f"{path}.vat")
        if not 0 <= vat <= 100:
            raise TariffValidationError(f"{path}.vat", f"must be a percentage between 0 and 100, got {vat}.")
    step = obj.get("step_size")
    if isinstance(step, bool) or not isinstance(step, int | Decimal) or step != int(step):
        raise TariffValidationError(f"{path}.step_size", "is required and must be an integer.")
    step = int(step)
    minimum = 0 if dimension is TariffDimensionType.FLAT else 1
    if step < minimum:
        raise TariffValidationError(f"{path}.step_size", f"must be at least {minimum}, got {step}.")
    return PriceComponent(type=dimension, price=price, step_size=step, vat=vat)


def _restrictions(raw: object, path: str) -> TariffRestrictions:
    obj = _object(raw, path)
    values: dict[str, Any] = {}
    for name in ("start_time", "end_time"):
        text = _string(obj, name, path)
        if text is not None:
            m = _TIME_RE.match(text)
            if not m:
                raise TariffValidationError(
                    f"{path}.{name}", f"must be a 24h time HH:MM between 00:00 and 23:59, got {text!r}."
                )
            values[name] = time(int(m.group(1)), int(m.group(2)))
    for name in ("start_date", "end_date"):
        text = _string(obj, name, path)
        if text is not None:
            if not _DATE_RE.match(text):
                raise TariffValidationError(f"{path}.{name}", f"must be a date YYYY-MM-DD, got {text!r}.")
            try:
                values[name] = date.fromisoformat(text)
            except ValueError as exc:
                raise TariffValidationError(f"{path}.{name}", f"is not a calendar date: {text!r}.") from exc
    for name in _NUMBER_RESTRICTIONS:
        if obj.get(name) is not None:
            number = decimal_from_json(obj[name], f"{path}.{name}")
            if number < 0:
                raise TariffValidationError(f"{path}.{name}", f"must not be negative, got {number}.")
            values[name] = number
    for name in ("min_duration", "max_duration"):
        seconds = obj.get(name)
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                raise TariffValidationError(f"{path}.{name}", "must be a non-negative whole number of seconds.")
            values[name] = seconds
    for low, high in (("min_kwh", "max_kwh"), ("min_current", "max_current"), ("min_power", "max_power"),
                      ("min_duration", "max_duration"), ("start_date", "end_date")):
        if low in values and high in values and values[high] <= values[low]:
            raise TariffValidationError(f"{path}.{high}", f"must be greater than {low}, or the element never applies.")
    days = obj.get("day_of_week")
    if days is not None:
        if not isinstance(days, list):
            raise TariffValidationError(f"{path}.day_of_week", "must be a list of weekday names.")
        values["day_of_week"] = tuple(
            _enum(DayOfWeek, d, f"{path}.day_of_week[{i}]") for i, d in enumerate(days)
        )
    reservation = _string(obj, "reservation", path)
    if reservation is not None:
        values["reservation"] = _enum(ReservationRestrictionType, reservation, f"{path}.reservation")
    return TariffRestrictions(**values)


def _price(obj: Mapping[str, Any], name: str) -> Price | None:
    raw = obj.get(name)
    if raw is None:
        return None
    price_obj = _object(raw, name)
    if "excl_vat" not in price_obj:
        raise TariffValidationError(f"{name}.excl_vat", "is required.")
    excl = decimal_from_json(price_obj["excl_vat"], f"{name}.excl_vat")
    incl = None
    if price_obj.get("incl_vat") is not None:
        incl = decimal_from_json(price_obj["incl_vat"], f"{name}.incl_vat")
    for label, value in (("excl_vat", excl), ("incl_vat", incl)):
        if value is not None and value < 0:
            raise TariffValidationError(f"{name}.{label}", f"must not be negative, got {value}.")
    return Price(excl, incl)


def _alt_texts(obj: Mapping[str, Any]) -> tuple[DisplayText, ...]:
    raw = obj.get("tariff_alt_text")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TariffValidationError("tariff_alt_text", "must be a list of {language, text} objects.")
    texts = []
    for i, item in enumerate(raw):
        path = f"tariff_alt_text[{i}]"
        entry = _object(item, path)
        language = _string(entry, "language", path, required=True, max_len=2)
        text = _string(entry, "text", path, required=True, max_len=512)
        assert language is not None and text is not None
        texts.append(DisplayText(language, text))
    return tuple(texts)


def _datetime(obj: Mapping[str, Any], name: str, parent: str) -> datetime | None:
    raw = obj.get(name)
    return None if raw is None else parse_datetime(raw, _join(parent, name))


def _object(raw: object, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise TariffValidationError(path, "must be a JSON object.")
    return raw


def _string(
    obj: Mapping[str, Any], name: str, parent: str, *, required: bool = False, max_len: int | None = None
) -> str | None:
    raw = obj.get(name)
    path = _join(parent, name)
    if raw is None:
        if required:
            raise TariffValidationError(path, "is required.")
        return None
    if not isinstance(raw, str):
        raise TariffValidationError(path, f"must be a string, got {type(raw).__name__}.")
    if required and not raw:
        raise TariffValidationError(path, "must not be empty.")
    if max_len is not None and len(raw) > max_len:
        raise TariffValidationError(path, f"must be at most {max_len} characters long.")
    return raw


def _enum(enum: type[_E], raw: object, path: str) -> _E:
    try:
        return enum(str(raw))
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise TariffValidationError(path, f"unknown value {raw!r}; expected one of {allowed}.") from None


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent and parent != "$" else name
