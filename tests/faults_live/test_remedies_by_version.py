"""Remedies are protocol-neutral intents rendered by the charger's adapter: a 2.0.1 station (the `ocpp` library's
v201 ChargePoint, which validates every CALL it receives against the 2.0.1 schemas) gets 2.0.1 words, and the
incident's action rows record what was really sent; the once-per-incident rule and the budget read those rows."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from faults_live.live import api, eventually, fast_config, incident, incidents
from gateway.v201_peer import boot, energy, station, transaction_event
from helpers import ocpp_url, ts


class RemedyStation(ChargePoint):
    """Answers every remedy a CSMS may send and remembers it (in the library's snake_case)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on("UnlockConnector")
    def on_unlock(self, **kwargs: Any) -> call_result.UnlockConnector:
        self.received.append(("UnlockConnector", kwargs))
        return call_result.UnlockConnector(status="Unlocked")

    @on("ChangeAvailability")
    def on_availability(self, **kwargs: Any) -> call_result.ChangeAvailability:
        self.received.append(("ChangeAvailability", kwargs))
        return call_result.ChangeAvailability(status="Accepted")

    @on("RequestStopTransaction")
    def on_stop(self, **kwargs: Any) -> call_result.RequestStopTransaction:
        self.received.append(("RequestStopTransaction", kwargs))
        return call_result.RequestStopTransaction(status="Accepted")

    @on("Reset")
    def on_reset(self, **kwargs: Any) -> call_result.Reset:
        self.received.append(("Reset", kwargs))
        return call_result.Reset(status="Scheduled")

    @on("SetDisplayMessage")
    def on_display(self, **kwargs: Any) -> call_result.SetDisplayMessage:
        return call_result.SetDisplayMessage(status="Accepted")


def lock_failure(event_id: int, minutes: float, evse: int) -> dict[str, Any]:
    return {"event_id": event_id, "timestamp": ts(minutes), "trigger": "Alerting", "actual_value": "true",
            "event_notification_type": "HardWiredNotification", "tech_code": "LOCK-7",
            "component": {"name": "ConnectorPlugRetentionLock", "evse": {"id": evse, "connector_id": 1}},
            "variable": {"name": "Problem"}}


async def test_a_201_station_gets_its_remedies_in_201_words_and_the_actions_say_so(db_url, start_server):
    config = fast_config(remediation={"enabled": True, "max_actions_per_charger": 1, "window": 3600, "rules": [
        {"name": "unlock-stuck-plug", "kind": "connector_error", "code": "ConnectorLockFailure",
         "action": "UnlockConnector", "after": 0.2}]})
    app = await start_server(db_url, config)
    http = api(app)
    async with station(ocpp_url(app), "V201-REMEDY", cls=RemedyStation) as cp:
        await boot(cp)
        for evse in (1, 2):
            await cp.call(call.StatusNotification(timestamp=ts(0), connector_status="Available", evse_id=evse,
                                                  connector_id=1))
        await cp.call(transaction_event("Started", 0, 1, "TX-REMEDY-7", trigger="Authorized",
                                        charging_state="Charging", meter=[energy(10.0, 1, "Transaction.Begin")]))
        await cp.call(call.NotifyEvent(generated_at=ts(2), seq_no=0, event_data=[lock_failure(1, 2, evse=1)]))
        [opened] = await eventually(lambda: incidents(app, status="open"))
        number = opened["number"]
        assert (opened["code"], opened["connector_id"]) == ("ConnectorLockFailure", 1)

        # The remediation rule fired once, in 2.0.1 words, and its row says so.
        async def unlocked() -> list[dict[str, Any]]:
            return [a for a in (await incident(app, number))["actions"] if a["status"] == "answered"]

        [auto] = await eventually(unlocked)
        assert (auto["rule"], auto["ocpp_action"], auto["payload"], auto["response"]) == (
            "unlock-stuck-plug", "UnlockConnector", {"evseId": 1, "connectorId": 1}, {"status": "Unlocked"})
        assert cp.received == [("UnlockConnector", {"evse_id": 1, "connector_id": 1})]

        # The budget (one per charger) counts that 2.0.1 row: the second EVSE's incident is held.
        await cp.call(call.NotifyEvent(generated_at=ts(3), seq_no=1, event_data=[lock_failure(2, 3, evse=2)]))
        second = await eventually(lambda: _open_on(app, 2))

        async def held() -> str | None:
            return (await incident(app, second["number"]))["remediation_held"]

        assert "budget" in await eventually(held)

        # The operator's actions, in the station's words.
        sent = {}
        for action in ("make_inoperative", "remote_stop", "soft_reset"):
            response = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": action, "by": "ops"})
            assert response.status_code == 200, response.text
            sent[action] = (response.json()["ocpp_action"], response.json()["payload"], response.json()["status"])
    assert sent == {
        "make_inoperative": ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}},
                             "answered"),
        "remote_stop": ("RequestStopTransaction", {"transactionId": "TX-REMEDY-7"}, "answered"),
        "soft_reset": ("Reset", {"type": "OnIdle"}, "answered"),
    }
    assert cp.received[1:] == [
        ("ChangeAvailability", {"operational_status": "Inoperative", "evse": {"id": 1}}),
        ("RequestStopTransaction", {"transaction_id": "TX-REMEDY-7"}),
        ("Reset", {"type": "OnIdle"}),
    ]
    rows = (await incident(app, number))["actions"]
    assert [a["ocpp_action"] for a in rows] == ["UnlockConnector", "ChangeAvailability", "RequestStopTransaction",
                                                 "Reset"]


async def _open_on(app: Any, connector_id: int) -> dict[str, Any] | None:
    return next((i for i in await incidents(app, status="open") if i["connector_id"] == connector_id), None)
