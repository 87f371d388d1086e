"""`chargewatch price [TARIFF.json] CDR.json [--timezone TZ]`: price one OCPI 2.2.1 CDR.

The main CLI parses arguments and calls `price_command`; this module owns reading, pricing and the
output contract (ARCHITECTURE.md): JSON with amounts as decimal strings with 4 decimals.

Real CDRs carry their tariffs (`tariffs`) and arrive inside an OCPI response envelope; both are
handled. A CDR's location has no time zone field in OCPI 2.2.1, so the zone is, in this order:
`--timezone`, the CDR's own `cdr_location.time_zone` (which chargewatch's CDRs add), the country's
zone (Babel's CLDR territory→zone table), or for a country with several zones the zone at the
coordinates (timezonefinder's boundary polygons); failing all, UTC, and stderr says so.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chargewatch.billing.cdr import CdrForPricing, cdr_for_pricing, unwrap_envelope
from chargewatch.billing.price import round_ocpi
from chargewatch.billing.pricing import price_session
from chargewatch.billing.tariff import TariffValidationError, tariff_from_json

EXIT_OK = 0
EXIT_INVALID_INPUT = 2


def price_command(tariff_path: str | None, cdr_path: str, timezone: str | None) -> int:
    """Print the CDR's totals; 2 with a message naming file and JSON path on bad input.

    Without `tariff_path` the CDR's embedded tariffs are used.
    """
    try:
        return _price(tariff_path, cdr_path, timezone)
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, and keep Python from complaining at exit too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _price(tariff_path: str | None, cdr_path: str, timezone: str | None) -> int:
    try:
        cdr_doc = _load(cdr_path)
        tariff_doc = _load(tariff_path) if tariff_path is not None else None
    except _InputError as exc:
        return _fail(str(exc))
    try:
        cdr = cdr_for_pricing(cdr_doc)
    except TariffValidationError as exc:
        return _fail(f"{cdr_path}: {exc.field}: {exc.reason}" if exc.field != "$" else f"{cdr_path}: {exc.reason}")
    if tariff_doc is not None:
        try:
            tariff = tariff_from_json(unwrap_envelope(tariff_doc))  # type: ignore[arg-type]
        except TariffValidationError as exc:
            return _fail(f"{tariff_path}: {exc.field}: {exc.reason}")
    else:
        try:
            found = cdr.tariff()
        except TariffValidationError as exc:
            return _fail(f"{cdr_path}: {exc.field}: {exc.reason}")
        if found is None:
            return _fail(f"{cdr_path}: tariffs: the CDR has no tariffs; pass a TARIFF.json before the CDR.")
        tariff = found
    zone_name, source = _zone(cdr, timezone)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        where = "--timezone" if source == "--timezone" else f"{cdr_path}: cdr_location.time_zone"
        return _fail(f"{where}: unknown IANA time zone {zone_name!r}.")
    if source == "fallback":
        print(f"chargewatch price: {cdr_path}: no time zone for the CDR's location (give --timezone); "
              "restrictions are evaluated in UTC.", file=sys.stderr)
    priced = price_session(tariff, cdr.periods, time_zone=zone, session_start=cdr.start, session_end=cdr.end)
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
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def _fail(message: str) -> int:
    print(f"chargewatch price: {message}", file=sys.stderr)
    return EXIT_INVALID_INPUT


def _zone(cdr: CdrForPricing, option: str | None) -> tuple[str, str]:
    """The zone name and where it came from: --timezone, cdr, location, or fallback (UTC)."""
    if option:
        return option, "--timezone"
    if cdr.time_zone:
        return cdr.time_zone, "cdr"
    found = location_time_zone(cdr.country, cdr.latitude, cdr.longitude, cdr.start)
    return (found, "location") if found else ("UTC", "fallback")


def location_time_zone(country: str | None, latitude: Decimal | None, longitude: Decimal | None,
                       at: datetime) -> str | None:
    """The IANA zone of a place from its ISO 3166 country (alpha-3 or alpha-2) and coordinates, if it can tell.

    A country with one zone has it. With several, the coordinates decide (when they fall in one of the
    country's zones); without usable coordinates, the country's zones decide only if they all keep the
    same UTC offset at `at` (Germany's Europe/Busingen, say), else None.
    """
    from babel.core import get_global

    if not country:
        return None
    code = country.upper()
    if len(code) == 3:
        aliases = get_global("territory_aliases").get(code) or []
        code = aliases[0] if aliases else code
    zones: list[str] = list(get_global("territory_zones").get(code) or [])
    if not zones:
        return None
    if len(zones) == 1:
        return zones[0]
    if latitude is not None and longitude is not None:
        from timezonefinder import TimezoneFinder

        found = TimezoneFinder().timezone_at(lat=float(latitude), lng=float(longitude))
        if found in zones:
            return found
    offsets = {at.astimezone(ZoneInfo(z)).utcoffset() for z in zones}
    return zones[0] if len(offsets) == 1 else None


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
