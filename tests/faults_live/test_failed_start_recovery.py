"""A start with an unknown card is the driver's failed start, for a 1.6 charger and a 2.0.1 station alike: info
failed-start incidents on that connector, the refused session ended by the charger is rejected (never billed,
no aborted-session fault), and the driver then starting with a valid card on the same connector ends them."""

from __future__ import annotations

from faults_live.live import api, eventually, fast_config, incidents
from helpers import ocpp_url
from peers.chargers import LibraryCharger, versions


def _summary(found: list[dict]) -> list[tuple]:
    return sorted((i["kind"], i["code"], i["severity"], i["connector_id"], i["status"]) for i in found)


@versions()
async def test_an_unknown_card_then_a_valid_start_on_the_same_connector(db_url, ocpp_version, start_server):
    app = await start_server(db_url, fast_config(detection={"stall_after": 120}))
    cp = LibraryCharger(ocpp_url(app), "CARD-2", ocpp_version)
    await cp.connect()
    await cp.boot()
    refused = await cp.start(1, "UNKNOWN-TAG-9")  # the station starts before the CSMS's answer says Invalid
    await cp.stop(refused, "DeAuthorized", id_tag=None)
    await cp.status(1, "Finishing")  # the cable still in
    failed = [("failed_start", code, "info", 1, "open") for code in ("Authorize.Invalid", "StartTransaction.Invalid")]

    async def opened() -> list[tuple]:
        found = _summary(await incidents(app))
        return found if len(found) >= 2 else []

    assert await eventually(opened) == failed  # and no aborted_session fault for the driver's wrong card
    session = (await api(app).get(f"/api/v1/sessions/{refused}")).json()
    assert (session["status"], session["energy_wh"], "start_refused" in session["flags"]) == ("rejected", 0, True)

    transaction_id = await cp.start(1)  # the right card, same connector, still plugged in

    async def resolved() -> list[tuple]:
        found = _summary(await incidents(app))
        return found if all(i[-1] == "resolved" for i in found) else []

    assert await eventually(resolved) == [(*i[:-1], "resolved") for i in failed]
    await cp.meter(1, transaction_id, 7_000)
    await cp.close()

