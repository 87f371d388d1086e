"""SecurityEventNotification (1.6 security extension and 2.0.1) opens a security incident for security-relevant
types, with the catalog's severity and guidance and an alert like any incident; informational types (a startup, a
reboot) open none. Driven by the `ocpp` library's 1.6 and 2.0.1 ChargePoints over a real WebSocket."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from faults_live.live import eventually, fast_config, incident, incidents
from helpers import ocpp_url, ts
from peers.chargers import LibraryCharger

# The same events in each version's words: 1.6's security whitepaper names some differently from 2.0.1.
CERTIFICATE = {"ocpp1.6": "InvalidCentralSystemCertificate", "ocpp2.0.1": "InvalidCsmsCertificate"}


def security_event(version: str, event_type: str, minutes: float, tech_info: str | None = None) -> Any:
    module = call201 if version == "ocpp2.0.1" else call16
    return module.SecurityEventNotification(type=event_type, timestamp=ts(minutes), tech_info=tech_info)


async def test_security_events_open_security_incidents_by_severity_and_informational_ones_none(
        db_url, start_server, ocpp_version, webhook):
    app = await start_server(db_url, fast_config(webhook))
    cp = LibraryCharger(ocpp_url(app), f"SEC-{ocpp_version[4:]}", version=ocpp_version)
    await cp.connect()
    try:
        await cp.boot()
        for event_type in ("StartupOfTheDevice", "ResetOrReboot", "SettingSystemTime"):
            await cp.send(security_event(ocpp_version, event_type, 0))
        await cp.send(security_event(ocpp_version, "TamperDetectionActivated", 1, "enclosure door opened"))
        await cp.send(security_event(ocpp_version, CERTIFICATE[ocpp_version], 2, "unknown issuer"))
        await cp.send(security_event(ocpp_version, "TamperDetectionActivated", 3, "enclosure door opened"))

        async def both() -> list[dict[str, Any]]:
            found = await incidents(app, status="open")
            return found if len(found) == 2 and any(i["occurrences"] == 2 for i in found) else []

        opened = await eventually(both)
        await app.app.state.faults.flush()
        assert sorted((i["kind"], i["code"], i["severity"], i["connector_id"], i["occurrences"])
                      for i in await incidents(app)) == [
            ("security_event", "InvalidCsmsCertificate", "fault", None, 1),
            ("security_event", "TamperDetectionActivated", "critical", None, 2),
        ], "informational events open no incident; both spellings of the certificate event are one code"
        tamper = next(i for i in opened if i["code"] == "TamperDetectionActivated")
        detail = await incident(app, tamper["number"])
        assert detail["guidance"]["en"]["title"] == "Tampering detected"
        assert detail["guidance"]["de"]["operator_checklist"]
        assert detail["evidence"][0]["data"]["techInfo"] == "enclosure door opened"
        assert detail["evidence"][0]["data"]["payload"]["type"] == "TamperDetectionActivated"

        async def alerted() -> list[Any]:
            return [h for h in webhook.of_type("incident.alert") if h.payload["incident"]["code"] ==
                    "TamperDetectionActivated"]

        [alert] = await eventually(alerted)
        alert.verify()
        assert alert.payload["incident"]["severity"] == "critical"
    finally:
        await cp.close()
    # Every event, informational or not, is kept in the charger's security log as sent.
    with app.engine.connect() as connection:
        from sqlalchemy import select

        from chargewatch.store import schema
        rows = connection.execute(select(schema.security_events.c.type).order_by(schema.security_events.c.id)).all()
    assert [row.type for row in rows] == ["StartupOfTheDevice", "ResetOrReboot", "SettingSystemTime",
                                          "TamperDetectionActivated", CERTIFICATE[ocpp_version],
                                          "TamperDetectionActivated"]
