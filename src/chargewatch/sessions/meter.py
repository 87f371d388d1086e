"""Normalise OCPP 1.6 sampledValues: units to Wh / W / A / V, default measurand, phases, contexts.

Signed readings (format SignedData) keep their value verbatim so billing can verify them later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..timeutil import parse_timestamp

ENERGY_IMPORT = "Energy.Active.Import.Register"
POWER_IMPORT = "Power.Active.Import"
SOC = "SoC"

# unit → (canonical unit, multiplier); OCPP 1.6 UnitOfMeasure.
_UNITS: dict[str, tuple[str, Decimal]] = {
    "Wh": ("Wh", Decimal(1)),
    "kWh": ("Wh", Decimal(1000)),
    "varh": ("varh", Decimal(1)),
    "kvarh": ("varh", Decimal(1000)),
    "W": ("W", Decimal(1)),
    "kW": ("W", Decimal(1000)),
    "VA": ("VA", Decimal(1)),
    "kVA": ("VA", Decimal(1000)),
    "var": ("var", Decimal(1)),
    "kvar": ("var", Decimal(1000)),
    "A": ("A", Decimal(1)),
    "V": ("V", Decimal(1)),
    "Celsius": ("Celsius", Decimal(1)),
    "Fahrenheit": ("Fahrenheit", Decimal(1)),
    "K": ("K", Decimal(1)),
    "Percent": ("Percent", Decimal(1)),
}
_UNITS_LOWER = {k.lower(): v for k, v in _UNITS.items()}
_DEFAULT_UNIT = {"Energy": "Wh", "Power": "W", "Current": "A", "Voltage": "V", "SoC": "Percent",
                 "Temperature": "Celsius", "Frequency": "Hz", "RPM": "RPM"}


@dataclass(frozen=True, slots=True)
class Reading:
    """One sampled value, in canonical units."""

    timestamp: datetime
    measurand: str
    value: Decimal
    unit: str
    phase: str = ""
    location: str = ""
    context: str = "Sample.Periodic"
    signed: str | None = None  # the verbatim SignedData value, e.g. an OCMF string

    @property
    def is_energy_register(self) -> bool:
        return self.measurand == ENERGY_IMPORT and self.location in ("", "Outlet", "Inlet", "EV")


class MeterValueError(ValueError):
    """A sampledValue we cannot interpret (non-numeric raw value, bad timestamp)."""


def _canonical_unit(unit: str | None, measurand: str) -> tuple[str, Decimal]:
    if unit is None:
        family = measurand.split(".", 1)[0]
        return _DEFAULT_UNIT.get(family, ""), Decimal(1)
    # Odd casing ("kwh", "KWH") is a frequent field deviation; accept it.
    return _UNITS.get(unit) or _UNITS_LOWER.get(unit.lower()) or (unit, Decimal(1))


def normalise(meter_values: list[dict[str, Any]]) -> list[Reading]:
    """Flatten a MeterValues/StopTransaction ``meterValue`` list into canonical :class:`Reading` objects."""
    readings: list[Reading] = []
    for index, meter_value in enumerate(meter_values):
        try:
            timestamp = parse_timestamp(meter_value["timestamp"])
        except (KeyError, ValueError) as exc:
            raise MeterValueError(f"meterValue[{index}].timestamp: not a valid timestamp") from exc
        for sampled in meter_value.get("sampledValue", []):
            measurand = sampled.get("measurand") or ENERGY_IMPORT
            fmt = sampled.get("format") or "Raw"
            raw = str(sampled.get("value", ""))
            unit, factor = _canonical_unit(sampled.get("unit"), measurand)
            signed = raw if fmt == "SignedData" else None
            if signed is not None:
                value = Decimal(0)
            else:
                try:
                    value = Decimal(raw.strip()) * factor
                except InvalidOperation as exc:
                    raise MeterValueError(f"meterValue[{index}]: value {raw!r} is not a number") from exc
                if not value.is_finite():
                    raise MeterValueError(f"meterValue[{index}]: value {raw!r} is not finite")
            readings.append(
                Reading(
                    timestamp=timestamp,
                    measurand=measurand,
                    value=value,
                    unit=unit,
                    phase=sampled.get("phase") or "",
                    location=sampled.get("location") or "",
                    context=sampled.get("context") or "Sample.Periodic",
                    signed=signed,
                )
            )
    return readings


@dataclass(frozen=True, slots=True)
class Sample:
    """What the session machine needs from one timestamp's readings."""

    timestamp: datetime
    register_wh: Decimal | None
    power_w: int | None
    soc: int | None
    declared_unit: str = "Wh"


def summarise(readings: list[Reading]) -> list[Sample]:
    """Group readings by timestamp: energy register, total active power (sum of phases if no total), SoC."""
    by_time: dict[datetime, list[Reading]] = {}
    for reading in readings:
        if reading.signed is None:
            by_time.setdefault(reading.timestamp, []).append(reading)
    samples = []
    for timestamp in sorted(by_time):
        group = by_time[timestamp]
        register = _pick(group, ENERGY_IMPORT, sum_phases=False)
        power = _pick(group, POWER_IMPORT, sum_phases=True)
        soc = _pick(group, SOC, sum_phases=False)
        samples.append(
            Sample(
                timestamp=timestamp,
                register_wh=register[0] if register else None,
                power_w=int(power[0]) if power else None,
                soc=int(soc[0]) if soc else None,
                declared_unit=register[1] if register else "Wh",
            )
        )
    return samples


def _pick(group: list[Reading], measurand: str, *, sum_phases: bool) -> tuple[Decimal, str] | None:
    """Prefer the phase-less (total) value; for power fall back to the sum of line phases."""
    matching = [r for r in group if r.measurand == measurand and r.location in ("", "Outlet", "EV", "Inlet")]
    if not matching:
        return None
    totals = [r for r in matching if r.phase == ""]
    if totals:
        return totals[-1].value, totals[-1].unit
    if sum_phases:
        line_phases = [r for r in matching if r.phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")]
        if line_phases:
            return sum((r.value for r in line_phases), Decimal(0)), line_phases[0].unit
    return matching[-1].value, matching[-1].unit
