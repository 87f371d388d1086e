"""OCPI 2.2.1 ChargingPeriod and CdrDimension (mod_cdrs): what a session consumed, period by period.

The period keeps one field per dimension instead of OCPI's list of {type, volume}: the pricing engine
reads them on every call, and a field is both faster and impossible to duplicate. `dimensions()` and
`charging_period_from_json` convert to and from the wire form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chargewatch.billing.price import ZERO
from chargewatch.billing.tariff import TariffValidationError, decimal_from_json, format_datetime, parse_datetime


class CdrDimensionType(StrEnum):
    ENERGY = "ENERGY"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    RESERVATION_TIME = "RESERVATION_TIME"
    TIME = "TIME"


@dataclass(frozen=True, slots=True)
class CdrDimension:
    type: CdrDimensionType
    volume: Decimal


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """One stretch of a session during which every price-relevant fact stayed the same.

    Units are OCPI's: energy in kWh, times in hours, current in A (sum over phases), power in kW.
    A period ends where the next one starts; the last one ends with the session.
    """

    start_date_time: datetime
    energy: Decimal = ZERO
    time: Decimal = ZERO
    parking_time: Decimal = ZERO
    reservation_time: Decimal = ZERO
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    tariff_id: str | None = None

    def dimensions(self) -> tuple[CdrDimension, ...]:
        """The OCPI list form; zero volumes are left out, but a period always keeps one dimension."""
        dims = [
            CdrDimension(kind, value)
            for kind, value in (
                (CdrDimensionType.ENERGY, self.energy),
                (CdrDimensionType.TIME, self.time),
                (CdrDimensionType.PARKING_TIME, self.parking_time),
                (CdrDimensionType.RESERVATION_TIME, self.reservation_time),
                (CdrDimensionType.MIN_CURRENT, self.min_current),
                (CdrDimensionType.MAX_CURRENT, self.max_current),
                (CdrDimensionType.MIN_POWER, self.min_power),
                (CdrDimensionType.MAX_POWER, self.max_power),
            )
            if value
        ]
        return tuple(dims) or (CdrDimension(CdrDimensionType.ENERGY, ZERO),)


_VOLUME_FIELDS = {
    CdrDimensionType.ENERGY: "energy",
    CdrDimensionType.TIME: "time",
    CdrDimensionType.PARKING_TIME: "parking_time",
    CdrDimensionType.RESERVATION_TIME: "reservation_time",
}
_EXTREME_FIELDS = {
    CdrDimensionType.MIN_CURRENT: ("min_current", min),
    CdrDimensionType.MAX_CURRENT: ("max_current", max),
    CdrDimensionType.MIN_POWER: ("min_power", min),
    CdrDimensionType.MAX_POWER: ("max_power", max),
}


def charging_period_from_json(raw: object, path: str) -> ChargingPeriod:
    """Parse one OCPI ChargingPeriod; a repeated volume dimension is summed, a repeated extreme kept extreme."""
    if not isinstance(raw, Mapping):
        raise TariffValidationError(path, "must be a JSON object.")
    start = parse_datetime(raw.get("start_date_time"), f"{path}.start_date_time")
    dims_raw = raw.get("dimensions")
    if not isinstance(dims_raw, list) or not dims_raw:
        raise TariffValidationError(f"{path}.dimensions", "must be a non-empty list of dimensions.")
    values: dict[str, Any] = {}
    for i, dim in enumerate(dims_raw):
        dim_path = f"{path}.dimensions[{i}]"
        if not isinstance(dim, Mapping):
            raise TariffValidationError(dim_path, "must be a JSON object.")
        try:
            kind = CdrDimensionType(str(dim.get("type")))
        except ValueError:
            allowed = ", ".join(CdrDimensionType)
            raise TariffValidationError(
                f"{dim_path}.type", f"unknown value {dim.get('type')!r}; expected one of {allowed}."
            ) from None
        volume = decimal_from_json(dim.get("volume"), f"{dim_path}.volume")
        if volume < 0:
            raise TariffValidationError(f"{dim_path}.volume", f"must not be negative, got {volume}.")
        if kind in _VOLUME_FIELDS:
            name = _VOLUME_FIELDS[kind]
            values[name] = values.get(name, ZERO) + volume
        else:
            name, pick = _EXTREME_FIELDS[kind]
            values[name] = volume if name not in values else pick(values[name], volume)
    tariff_id = raw.get("tariff_id")
    if tariff_id is not None and not isinstance(tariff_id, str):
        raise TariffValidationError(f"{path}.tariff_id", "must be a string.")
    return ChargingPeriod(start_date_time=start, tariff_id=tariff_id, **values)


def charging_period_to_json(period: ChargingPeriod) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start_date_time": format_datetime(period.start_date_time),
        "dimensions": [{"type": d.type.value, "volume": d.volume} for d in period.dimensions()],
    }
    if period.tariff_id is not None:
        out["tariff_id"] = period.tariff_id
    return out
