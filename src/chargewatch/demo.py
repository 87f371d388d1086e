"""What `chargewatch demo` (and so `make run`) sets up before the simulated fleet drives in: registered
demo chargers in Europe/Berlin, the demo drivers' id tags, a day/night tariff with a parking fee as the
operator default, and the dashboard's demo admin account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from .api.auth import DEMO_PASSWORD, ensure_demo_operator
from .billing.tariff import tariff_from_json
from .sim.charger import DEMO_ID_TAGS
from .sim.ocmf import OcmfSigner
from .store import schema
from .store.billing import assign_tariff, set_ocmf_key, store_tariff_version, tariff_row
from .store.registry import put_id_tag, register_charger

DEMO_TIMEZONE = "Europe/Berlin"
DEMO_OCPP = "mixed"  # every fourth demo charger (DEMO-00004, 00008 …) speaks OCPP 2.0.1, the others 1.6J
DEMO_TARIFF_ID = "DEMO-AC"
# OCPI 2.2.1: 0.39 EUR/kWh by day, 0.29 at night, a 0.50 start fee, and 6.00 EUR/h for a car left plugged in
# after it is full (PARKING_TIME), 19 % VAT on everything.
DEMO_TARIFF = {
    "country_code": "DE", "party_id": "CWD", "id": DEMO_TARIFF_ID, "currency": "EUR",
    "type": "REGULAR", "last_updated": "2026-11-01T00:00:00Z",
    "tariff_alt_text": [{"language": "en", "text": "0.39 EUR/kWh 07-22h, 0.29 EUR/kWh at night, 0.50 EUR start, "
                                                   "6.00 EUR/h when parked after charging"}],
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1}],
         "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.29, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 60}]},
    ],
}


def eichrecht_signers(chargers: int, prefix: str = "DEMO") -> dict[str, OcmfSigner]:
    """Every other demo charger (1, 3, 5 …) has a calibrated meter that signs begin and end as OCMF (Eichrecht).

    Half of them send the raw `OCMF|…` text, the others the OCA application note's JSON object with the
    key along. Keys derive from the charger id, so `prepare` registers the key the simulator signs with.
    """
    signers = {}
    for number in range(1, chargers + 1, 2):
        charger_id = f"{prefix}-{number:05d}"
        oca = number % 4 == 3
        signers[charger_id] = OcmfSigner.for_demo(charger_id, shape="OCA" if oca else "OCMF", send_public_key=oca)
    return signers


def prepare(engine: Engine, now: datetime, chargers: int, prefix: str = "DEMO",
            operator_password: str = DEMO_PASSWORD) -> tuple[str, str]:
    """Idempotent set-up of a demo database; returns the dashboard login to print (the admin's password is
    set to ``operator_password`` on every start)."""
    with engine.begin() as connection:
        for tag in DEMO_ID_TAGS:
            put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None,
                                    "parent_id_tag": None, "description": "demo driver"})
        known = set(connection.execute(select(schema.chargers.c.id)).scalars())
        for number in range(1, chargers + 1):
            charger_id = f"{prefix}-{number:05d}"
            if charger_id not in known:
                register_charger(connection, charger_id, password=None, timezone=DEMO_TIMEZONE, tariff_id=None,
                                 now=now)
        for charger_id, signer in eichrecht_signers(chargers, prefix).items():
            set_ocmf_key(connection, charger_id, signer.public_key_hex)
        if tariff_row(connection, DEMO_TARIFF_ID) is None:
            store_tariff_version(connection, tariff_from_json(DEMO_TARIFF), now, create_only=True)
            assign_tariff(connection, DEMO_TARIFF_ID, None, None, now)
    return ensure_demo_operator(engine, now, operator_password)
