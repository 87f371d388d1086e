"""OCPI 2.2.1 CDRs (mod_cdrs): built from a priced session, corrected only by credit CDRs.

A CDR is the billing record sent to an eMSP and "cannot be changed or replaced once sent"; a
correction is a credit CDR for the original (credit=true, credit_reference_id, negative cost totals)
followed by a new CDR with a new id. This module builds both as JSON-ready dicts with Decimal numbers;
`cdr_to_json_text` writes them.

`cdr_location.time_zone` is not an OCPI 2.2.1 CdrLocation field (the Location object has it). We add it
because a CDR cannot be re-priced without it; receivers ignore unknown fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chargewatch.billing.charging_period import ChargingPeriod, charging_period_from_json, charging_period_to_json
from chargewatch.billing.price import Price, round_ocpi
from chargewatch.billing.pricing import PricedSession
from chargewatch.billing.tariff import (
    Tariff,
    TariffValidationError,
    format_datetime,
    parse_datetime,
    tariff_from_json,
    tariff_to_json,
)


@dataclass(frozen=True, slots=True)
class CdrToken:
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str


@dataclass(frozen=True, slots=True)
class CdrLocation:
    id: str
    address: str
    city: str
    postal_code: str
    country: str
    latitude: str
    longitude: str
    evse_uid: str
    evse_id: str
    connector_id: str
    connector_standard: str
    connector_format: str
    connector_power_type: str
    time_zone: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the CDR states about the session apart from its cost."""

    cdr_id: str
    country_code: str
    party_id: str
    start: datetime
    end: datetime
    token: CdrToken
    auth_method: str
    location: CdrLocation
    session_id: str | None = None
    authorization_reference: str | None = None
    meter_id: str | None = None
    remark: str | None = None


def build_cdr(
    facts: SessionFacts,
    tariff: Tariff,
    periods: Sequence[ChargingPeriod],
    priced: PricedSession,
    *,
    last_updated: datetime,
) -> dict[str, Any]:
    """A complete OCPI 2.2.1 CDR for a priced session, every total filled."""
    if len(facts.cdr_id) > 36:
        raise ValueError("A CDR id is at most 36 characters (39 are reserved for credit CDRs).")
    if not periods:
        raise ValueError("A CDR needs at least one charging period.")
    loc = facts.location
    location: dict[str, Any] = {"id": loc.id}
    if loc.name is not None:
        location["name"] = loc.name
    location.update(
        address=loc.address,
        city=loc.city,
        postal_code=loc.postal_code,
        country=loc.country,
        coordinates={"latitude": loc.latitude, "longitude": loc.longitude},
        evse_uid=loc.evse_uid,
        evse_id=loc.evse_id,
        connector_id=loc.connector_id,
        connector_standard=loc.connector_standard,
        connector_format=loc.connector_format,
        connector_power_type=loc.connector_power_type,
        time_zone=loc.time_zone,
    )
    cdr: dict[str, Any] = {
        "country_code": facts.country_code,
        "party_id": facts.party_id,
        "id": facts.cdr_id,
        "start_date_time": format_datetime(facts.start),
        "end_date_time": format_datetime(facts.end),
    }
    if facts.session_id is not None:
        cdr["session_id"] = facts.session_id
    cdr["cdr_token"] = {
        "country_code": facts.token.country_code,
        "party_id": facts.token.party_id,
        "uid": facts.token.uid,
        "type": facts.token.type,
        "contract_id": facts.token.contract_id,
    }
    cdr["auth_method"] = facts.auth_method
    if facts.authorization_reference is not None:
        cdr["authorization_reference"] = facts.authorization_reference
    cdr["cdr_location"] = location
    if facts.meter_id is not None:
        cdr["meter_id"] = facts.meter_id
    cdr["currency"] = tariff.currency
    cdr["tariffs"] = [tariff_to_json(tariff)]
    cdr["charging_periods"] = [_period_json(p, tariff.id) for p in periods]
    cdr["total_cost"] = _price_json(priced.total_cost)
    cdr["total_fixed_cost"] = _price_json(priced.total_fixed_cost)
    cdr["total_energy"] = _four(priced.total_energy)
    cdr["total_energy_cost"] = _price_json(priced.total_energy_cost)
    cdr["total_time"] = _four(priced.total_time)
    cdr["total_time_cost"] = _price_json(priced.total_time_cost)
    cdr["total_parking_time"] = _four(priced.total_parking_time)
    cdr["total_parking_cost"] = _price_json(priced.total_parking_cost)
    cdr["total_reservation_cost"] = _price_json(priced.total_reservation_cost)
    if facts.remark is not None:
        cdr["remark"] = facts.remark[:255]
    cdr["last_updated"] = format_datetime(last_updated)
    return cdr


_COST_FIELDS = (
    "total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
    "total_reservation_cost",
)


def build_credit_cdr(
    original: Mapping[str, Any], *, last_updated: datetime, credit_id: str | None = None
) -> dict[str, Any]:
    """The credit CDR cancelling `original`: same data, negated cost totals, never an edit of it.

    OCPI requires only total_cost negated; we negate every cost total so the credit CDR's parts still
    add up to its total. Its id defaults to the original's with "-C" appended (OCPI's own suggestion).
    """
    if original.get("credit"):
        raise ValueError(f"CDR {original.get('id')} is itself a credit CDR; it cannot be credited.")
    credit = {key: value for key, value in original.items()}
    credit["id"] = credit_id if credit_id is not None else f"{original['id']}-C"
    if len(credit["id"]) > 39:
        raise ValueError("A credit CDR id is at most 39 characters.")
    for name in _COST_FIELDS:
        if name in credit:
            credit[name] = {k: -Decimal(v) for k, v in credit[name].items()}
    credit["credit"] = True
    credit["credit_reference_id"] = original["id"]
    credit["last_updated"] = format_datetime(last_updated)
    return credit


class UnsupportedOcpiVersion(TariffValidationError):
    """A document of another OCPI version: said as such instead of a list of field errors."""


@dataclass(frozen=True, slots=True)
class CdrForPricing:
    """The parts of a received CDR that pricing needs, including its own tariffs and where it happened."""

    start: datetime
    end: datetime
    periods: tuple[ChargingPeriod, ...]
    time_zone: str | None
    tariffs: tuple[Tariff, ...] = ()
    country: str | None = None  # ISO 3166-1 alpha-3, as CdrLocation.country
    latitude: Decimal | None = None
    longitude: Decimal | None = None

    def tariff(self) -> Tariff | None:
        """The embedded tariff the periods were priced with: the only one, or the one every period names."""
        if len(self.tariffs) <= 1:
            return self.tariffs[0] if self.tariffs else None
        named = {p.tariff_id for p in self.periods}
        found = [t for t in self.tariffs if t.id in named]
        if len(named) == 1 and len(found) == 1:
            return found[0]
        raise TariffValidationError(
            "tariffs", f"{len(self.tariffs)} tariffs and the charging periods do not name exactly one of them; "
                       "pass the tariff to price with.")


def unwrap_envelope(data: object) -> object:
    """The `data` of an OCPI response envelope ({"data": …, "status_code": …}); anything else as it is."""
    if isinstance(data, Mapping) and "status_code" in data and "data" in data:
        inner = data["data"]
        if isinstance(inner, list):
            if len(inner) != 1:
                raise TariffValidationError("data", f"the OCPI response holds {len(inner)} objects; pass one.")
            return inner[0]
        return inner
    return data


def cdr_for_pricing(data: object) -> CdrForPricing:
    """Read start/end, periods, embedded tariffs and the location of a CDR; errors name the JSON path.

    An OCPI response envelope is unwrapped first. An OCPI 2.1.1 CDR (`stop_date_time`, `total_cost` a
    plain number) raises `UnsupportedOcpiVersion` rather than complaining about each field it lacks.
    """
    data = unwrap_envelope(data)
    if not isinstance(data, Mapping):
        raise TariffValidationError("$", "must be a JSON object (an OCPI CDR).")
    if ("stop_date_time" in data and "end_date_time" not in data) or isinstance(
            data.get("total_cost"), int | float | Decimal | str):
        raise UnsupportedOcpiVersion("$", "OCPI 2.1.1 is not supported (this is 2.2.1).")
    start = parse_datetime(data.get("start_date_time"), "start_date_time")
    end = parse_datetime(data.get("end_date_time"), "end_date_time")
    raw_periods = data.get("charging_periods")
    if not isinstance(raw_periods, list) or not raw_periods:
        raise TariffValidationError("charging_periods", "must be a non-empty list of charging periods.")
    periods = tuple(charging_period_from_json(p, f"charging_periods[{i}]") for i, p in enumerate(raw_periods))
    raw_tariffs = data.get("tariffs") or []
    if not isinstance(raw_tariffs, list):
        raise TariffValidationError("tariffs", "must be a list of OCPI 2.2.1 Tariff objects.")
    tariffs = []
    for i, raw in enumerate(raw_tariffs):
        try:
            tariffs.append(tariff_from_json(raw))
        except TariffValidationError as exc:
            raise TariffValidationError(f"tariffs[{i}].{exc.field}", exc.reason) from None
    location = data.get("cdr_location")
    location = location if isinstance(location, Mapping) else {}
    zone = location.get("time_zone")
    if zone is not None and not isinstance(zone, str):
        raise TariffValidationError("cdr_location.time_zone", "must be an IANA time zone name.")
    country = location.get("country")
    if country is not None and not isinstance(country, str):
        raise TariffValidationError("cdr_location.country", "must be an ISO 3166-1 alpha-3 country code.")
    coordinates = location.get("coordinates")
    latitude = longitude = None
    if isinstance(coordinates, Mapping):
        try:
            latitude = Decimal(str(coordinates.get("latitude")))
            longitude = Decimal(str(coordinates.get("longitude")))
        except ArithmeticError:
            latitude = longitude = None
        if latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # type: ignore[operator]
            latitude = longitude = None
    return CdrForPricing(start, end, periods, zone, tuple(tariffs), country, latitude, longitude)


def cdr_to_json_text(cdr: Mapping[str, Any]) -> str:
    """JSON text with Decimals written as JSON numbers (shortest exact form of 4-decimal values)."""

    def number(value: object) -> float:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    return json.dumps(cdr, default=number, ensure_ascii=False)


def _four(value: Decimal) -> Decimal:
    return round_ocpi(value)


def _price_json(price: Price) -> dict[str, Decimal]:
    out = {"excl_vat": _four(price.excl_vat)}
    if price.incl_vat is not None:
        out["incl_vat"] = _four(price.incl_vat)
    return out


def _period_json(period: ChargingPeriod, tariff_id: str) -> dict[str, Any]:
    out = charging_period_to_json(period)
    for dim in out["dimensions"]:
        dim["volume"] = _four(dim["volume"])
    out.setdefault("tariff_id", tariff_id)
    return out
