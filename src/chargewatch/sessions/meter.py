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
ENERGY_INTERVAL = "Energy.Active.Import.Interval"
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
    interval_wh: Decimal | None = None  # Energy.Active.Import.Interval: energy of the interval ending here
    inlet: bool = False  # register_wh is the grid-side (Inlet) register: the charger sent no Outlet one


# Where the energy the EV received is measured, best first (OCPP 1.6 Location; absent means Outlet). The Inlet
# is the grid side (losses, other loads): only a fallback, and the session says so.
_LOCATIONS = (("", "Outlet"), ("EV",), ("Inlet",))
# Line phases whose values add up to the total (L1-N style is the same phase measured against neutral).
_LINE_PHASES = (("L1", "L2", "L3"), ("L1-N", "L2-N", "L3-N"))


def summarise(readings: list[Reading]) -> list[Sample]:
    """Group readings by timestamp: energy register, interval energy, total active power, SoC.

    A total is the phase-less value, else the sum of the line phases; the Outlet side wins over the Inlet.
    """
    by_time: dict[datetime, list[Reading]] = {}
    for reading in readings:
        if reading.signed is None:
            by_time.setdefault(reading.timestamp, []).append(reading)
    samples = []
    for timestamp in sorted(by_time):
        group = by_time[timestamp]
        register = _pick(group, ENERGY_IMPORT)
        interval = _pick(group, ENERGY_INTERVAL)
        power = _pick(group, POWER_IMPORT)
        soc = [r for r in group if r.measurand == SOC]
        samples.append(
            Sample(
                timestamp=timestamp,
                register_wh=register[0] if register else None,
                power_w=int(power[0]) if power else None,
                soc=int(soc[-1].value) if soc else None,
                declared_unit=register[1] if register else "Wh",
                interval_wh=interval[0] if interval else None,
                inlet=register is not None and register[2] == "Inlet",
            )
        )
    return samples


def _pick(group: list[Reading], measurand: str) -> tuple[Decimal, str, str] | None:
    """The total of ``measurand`` at the best location: (value, unit, location)."""
    for locations in _LOCATIONS:
        total = _total([r for r in group if r.measurand == measurand and r.location in locations])
        if total is not None:
            return (*total, locations[-1])
    return None


def _total(matching: list[Reading]) -> tuple[Decimal, str] | None:
    totals = [r for r in matching if r.phase == ""]
    if totals:
        return totals[-1].value, totals[-1].unit
    for names in _LINE_PHASES:
        phases = {r.phase: r for r in matching if r.phase in names}
        if phases:
            return sum((r.value for r in phases.values()), Decimal(0)), next(iter(phases.values())).unit
    return None  # only neutral or line-to-line values: not a total


def register_series(samples: list[Sample], meter_start_wh: int) -> list[tuple[datetime, Decimal, int | None]]:
    """The register curve (timestamp, register Wh, power W) of a session's samples in time order.

    Interval energy extends the curve from the last register reading, as in the session machine, so a charger
    that sends only ``Energy.Active.Import.Interval`` gets a rising curve; a register that did not move since
    the last one (a static or absent meter) leaves the interval sum standing. Registers stay raw otherwise, so
    resets remain visible to whoever repairs them.
    """
    curve: list[tuple[datetime, Decimal, int | None]] = []
    register, level = Decimal(meter_start_wh), Decimal(meter_start_wh)
    for sample in samples:
        if sample.register_wh is not None:
            if sample.register_wh != register:
                register = level = sample.register_wh
        elif sample.interval_wh is not None:
            level += max(Decimal(0), sample.interval_wh)
        else:
            continue
        curve.append((sample.timestamp, level, sample.power_w))
    return curve
