"""The demo's Eichrecht chargers: their meters sign, the demo registered their keys, so a newcomer sees VALID."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from billing_live.live_billing import wait_for_bill
from chargewatch import demo
from chargewatch.sim.charger import Behaviour, SimulatedCharger
from helpers import http_url, ocpp_url


def test_every_other_demo_charger_signs_half_of_them_in_the_oca_shape():
    signers = demo.eichrecht_signers(8)
    assert sorted(signers) == ["DEMO-00001", "DEMO-00003", "DEMO-00005", "DEMO-00007"]
    assert [signers[c].shape for c in sorted(signers)] == ["OCMF", "OCA", "OCMF", "OCA"]
    # Keys derive from the charger id, so the simulator and `prepare` agree without sharing state.
    assert demo.eichrecht_signers(8)["DEMO-00003"].public_key_hex == signers["DEMO-00003"].public_key_hex


@pytest.mark.parametrize("charger_id", ["DEMO-00001", "DEMO-00003"])
async def test_a_demo_eichrecht_charger_session_is_valid_on_the_invoice_driver_page_and_dashboard(
        server, charger_id):
    login = demo.prepare(server.engine, datetime.now(UTC), 4)  # the demo's operator account: the API needs it now
    server.gateway.id_tags.refresh()
    async with httpx.AsyncClient(base_url=http_url(server), auth=login, timeout=10) as api:
        await _session_is_valid_everywhere(server, api, charger_id)


async def _session_is_valid_everywhere(server, api, charger_id: str) -> None:  # type: ignore[no-untyped-def]
    behaviour = Behaviour(meter_interval=0.05, charge_time=(0.3, 0.3), idle_time=(0.1, 0.1),
                          signer=demo.eichrecht_signers(4)[charger_id])
    charger = SimulatedCharger(ocpp_url(server), charger_id, connectors=1, behaviour=behaviour)
    await charger.connect()
    await charger.boot()
    tx = await charger.charge_once(1)
    assert charger.connection is not None and tx is not None
    await charger.connection.close()
    bill = await wait_for_bill(api, tx)
    assert (bill["status"], bill["meter_verification"]) == ("issued", "VALID"), bill["reason"]
    assert bill["invoice"]["signed_data"]["verdict"] == "VALID"
    session = (await api.get(f"/api/v1/sessions/{tx}")).json()
    driver = await api.get(session["driver_path"])
    assert "<strong>VALID</strong>" in driver.text
    cost = (await api.get(f"/api/v1/sessions/{tx}/cost")).json()
    assert cost["meter_verification"] == "VALID"  # what the dashboard's session page shows
