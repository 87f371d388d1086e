"""OCPP 2.0.1 meterValue → the canonical readings the session machine and the store use.

2.0.1 sends numbers (not strings) with ``unitOfMeasure`` {unit (default Wh), multiplier (power of ten,
default 0)} and, beside the plain value, an optional ``signedMeterValue``. The plain value is scaled and
handed to the 1.6 normaliser (same measurands, contexts, phases, locations, units); a signed value becomes
a second, SignedData reading whose text is the SignedMeterValueType object — the shape the OCA application
note uses for 1.6 signed values, so billing verifies both the same way.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from ...sessions.meter import MeterValueError, Reading, normalise


def _scaled(value: Any, multiplier: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MeterValueError(f"{where}.value: not a number")
    try:
        number = Decimal(str(value))  # str() of a float is its shortest repr: 2003.75 stays 2003.75
    except InvalidOperation:
        raise MeterValueError(f"{where}.value: {value!r} is not a number") from None
    if not isinstance(multiplier, int) or isinstance(multiplier, bool):
        raise MeterValueError(f"{where}.unitOfMeasure.multiplier: must be an integer")
    return str(number.scaleb(multiplier))


def readings(meter_values: list[dict[str, Any]]) -> list[Reading]:
    """Canonical readings of a TransactionEvent/MeterValues ``meterValue`` list (MeterValueError if unreadable)."""
    as_16: list[dict[str, Any]] = []
    for index, meter_value in enumerate(meter_values):
        sampled_16 = []
        for position, sampled in enumerate(meter_value.get("sampledValue") or []):
            where = f"meterValue[{index}].sampledValue[{position}]"
            unit_of_measure = sampled.get("unitOfMeasure") or {}
            common = {k: sampled[k] for k in ("measurand", "phase", "location", "context") if sampled.get(k)}
            sampled_16.append({
                **common, "unit": unit_of_measure.get("unit") or "Wh",
                "value": _scaled(sampled.get("value"), unit_of_measure.get("multiplier", 0), where),
            })
            signed = sampled.get("signedMeterValue")
            if signed:
                sampled_16.append({**common, "format": "SignedData",
                                   "value": json.dumps(signed, separators=(",", ":"), ensure_ascii=False)})
        as_16.append({"timestamp": meter_value.get("timestamp"), "sampledValue": sampled_16})
    return normalise(as_16)
