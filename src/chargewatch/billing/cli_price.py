"""`chargewatch price TARIFF.json CDR.json [--timezone TZ]`: price one OCPI 2.2.1 CDR with one tariff.

The main CLI parses arguments and calls `price_command`; this module owns reading, pricing and the
output contract (ARCHITECTURE.md): JSON with amounts as decimal strings with 4 decimals.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chargewatch.billing.cdr import cdr_for_pricing
from chargewatch.billing.price import round_ocpi
from chargewatch.billing.pricing import price_session
from chargewatch.billing.tariff import TariffValidationError, tariff_from_json

EXIT_OK = 0
EXIT_INVALID_INPUT = 2


def price_command(tariff_path: str, cdr_path: str, timezone: str | None) -> int:
    """Print the CDR's totals priced with the tariff; 2 with a message naming file and JSON path on bad input.

    Time zone: the CDR's cdr_location.time_zone, else `timezone`, else UTC.
    """
    try:
        tariff_doc = _load(tariff_path)
        cdr_doc = _load(cdr_path)
    except _InputError as exc:
        print(f"chargewatch price: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    try:
        tariff = tariff_from_json(tariff_doc)
    except TariffValidationError as exc:
        print(f"chargewatch price: {tariff_path}: {exc.field}: {exc.reason}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    try:
        cdr = cdr_for_pricing(cdr_doc)
    except TariffValidationError as exc:
        print(f"chargewatch price: {cdr_path}: {exc.field}: {exc.reason}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    zone_name = cdr.time_zone or timezone or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        source = f"{cdr_path}: cdr_location.time_zone" if cdr.time_zone else "--timezone"
        print(f"chargewatch price: {source}: unknown IANA time zone {zone_name!r}.", file=sys.stderr)
        return EXIT_INVALID_INPUT
    priced = price_session(tariff, cdr.periods, time_zone=zone, session_start=cdr.start)
    result = {
        "total_cost": priced.total_cost.to_json(),
        "total_energy_cost": priced.total_energy_cost.to_json(),
        "total_time_cost": priced.total_time_cost.to_json(),
        "total_parking_cost": priced.total_parking_cost.to_json(),
        "total_fixed_cost": priced.total_fixed_cost.to_json(),
        "total_reservation_cost": priced.total_reservation_cost.to_json(),
        "total_energy": _number(priced.total_energy),
        "total_time": _number(priced.total_time),
        "total_parking_time": _number(priced.total_parking_time),
    }
    print(json.dumps(result, indent=2))
    return EXIT_OK


class _InputError(Exception):
    pass


def _load(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _InputError(f"{path}: cannot read file ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise _InputError(f"{path}: is not UTF-8 text.") from exc
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _InputError(f"{path}: $: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).") from exc


def _number(value: Decimal) -> str:
    """Volumes as decimal strings too, 4 decimals like every OCPI number."""
    return str(round_ocpi(value))
