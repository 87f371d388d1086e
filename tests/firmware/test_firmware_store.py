"""The firmware store on SQLite and PostgreSQL: a boot with another version than the campaign expects fails the
install, an update the charger never answers fails after the allowed sends, a timeout fails only the silent ones,
and a progress report names its request (2.0.1, signed 1.6) or the charger's latest update (1.6 Core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from chargewatch.store import firmware as store
from chargewatch.store import schema
from chargewatch.store.database import create_db_engine, migrate

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def _campaign(engine, chargers, **values):  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        for charger_id in chargers:
            connection.execute(insert(schema.chargers).values(id=charger_id, registered=True, timezone="UTC",
                                                              heartbeat_interval=300, connected=False,
                                                              created_at=T0))
        campaign_id = store.create_campaign(connection, {
            "name": "test", "location": "https://fw.example/2.bin", "retrieve_at": T0, "timeout_seconds": 60,
            **values}, chargers, T0)
        return campaign_id, {t["charger_id"]: t["id"] for t in store.campaign(connection, campaign_id)["targets"]}


def test_boot_confirmation_timeout_and_unanswered_sends(db_url):  # type: ignore[no-untyped-def]
    migrate(db_url)
    engine = create_db_engine(db_url)
    try:
        campaign_id, ids = _campaign(engine, ["S-A", "S-B", "S-C", "S-D"], expected_version="2.0")
        with engine.begin() as connection:
            for target_id in ids.values():
                assert store.claim(connection, target_id, T0)
            assert not store.claim(connection, ids["S-A"], T0), "a target is sent once"
            for charger_id in ("S-A", "S-B"):
                store.record_answer(connection, ids[charger_id], "UpdateFirmware", None, False, T0)
                for status in ("Downloading", "Downloaded", "Installing"):
                    store.record_status(connection, charger_id, "firmware", status, None, T0)
            assert store.record_boot(connection, "S-A", "2.0", T0) == []
            [mismatch] = store.record_boot(connection, "S-B", "1.0", T0)
            assert mismatch["reason"] == "FirmwareVersionMismatch"
            # S-C never answers: sent again until the third unanswered send fails it.
            assert store.record_answer(connection, ids["S-C"], "UpdateFirmware", None, True, T0, 3) is None
            for _ in range(2):
                assert store.claim(connection, ids["S-C"], T0)
                unanswered = store.record_answer(connection, ids["S-C"], "UpdateFirmware", None, True, T0, 3)
            assert unanswered == "Unanswered"
            # S-D took it and went silent.
            store.record_answer(connection, ids["S-D"], "UpdateFirmware", None, False, T0)
            assert store.time_out(connection, T0 + timedelta(seconds=59)) == []
            [silent] = store.time_out(connection, T0 + timedelta(seconds=60))
            assert (silent["charger_id"], silent["reason"]) == ("S-D", "Timeout(sent)")
            found = store.campaign(connection, campaign_id)
        assert {t["charger_id"]: (t["phase"], t["reason"], t["confirmed"]) for t in found["targets"]} == {
            "S-A": ("installed", None, True), "S-B": ("failed", "FirmwareVersionMismatch", False),
            "S-C": ("failed", "Unanswered", False), "S-D": ("failed", "Timeout(sent)", False)}
        assert (found["summary"]["installed"], found["summary"]["failed"], found["summary"]["finished"]) == (1, 3, True)
    finally:
        engine.dispose()


def test_a_report_naming_another_request_changes_only_that_one(db_url):  # type: ignore[no-untyped-def]
    migrate(db_url)
    engine = create_db_engine(db_url)
    try:
        _, first = _campaign(engine, ["S-E"])
        with engine.begin() as connection:
            second = store.create_campaign(connection, {"name": "again", "location": "https://fw.example/3.bin",
                                                        "retrieve_at": T0, "timeout_seconds": 60}, ["S-E"], T0)
            second_id = store.campaign(connection, second)["targets"][0]["id"]
            for target_id in (first["S-E"], second_id):
                store.claim(connection, target_id, T0)
            store.record_status(connection, "S-E", "signed_firmware", "InvalidSignature", first["S-E"], T0)
            store.record_status(connection, "S-E", "firmware", "Downloading", None, T0)  # Core: the latest
            targets = {t["id"]: t for t in store.charger_firmware(connection, "S-E")["targets"]}
            statuses = store.charger_firmware(connection, "S-E")["statuses"]
        assert (targets[first["S-E"]]["phase"], targets[first["S-E"]]["reason"]) == ("failed", "InvalidSignature")
        assert targets[second_id]["phase"] == "downloading"
        assert [(s["status"], s["target_id"]) for s in reversed(statuses)] == [
            ("InvalidSignature", first["S-E"]), ("Downloading", second_id)]
    finally:
        engine.dispose()
