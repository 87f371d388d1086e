"""The writer's precompiled bulk statements (store/bulk.py) store exactly what SQLAlchemy's own executemany stores:
the same values read back through the same column types (aware UTC datetimes, exact decimals, JSON flags), a
duplicate reading ignored, the last-seen time of a charger the last of its batch. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update

from chargewatch.store import schema, writes
from chargewatch.store.bulk import BulkStatement
from chargewatch.store.database import create_db_engine, migrate
from chargewatch.store.upsert import insert_ignoring_duplicates

AT = datetime(2026, 12, 2, 18, 0, 0, 123456, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def _reading(charger_id: str, i: int, value: str) -> dict[str, object]:
    return {"charger_id": charger_id, "connector_id": 1, "transaction_id": 7, "timestamp": AT + timedelta(seconds=i),
            "measurand": "Energy.Active.Import.Register", "phase": "", "location": "", "context": "Sample.Periodic",
            "unit": "Wh", "value": Decimal(value), "signed_data": None, "format": "Raw"}


def _session(transaction_id: int, charger_id: str, energy: int) -> dict[str, object]:
    return {"transaction_id": transaction_id, "charger_id": charger_id, "connector_id": 1, "id_tag": "T",
            "status": "Charging", "started_at": AT, "stopped_at": None, "meter_start_wh": 0, "meter_stop_wh": None,
            "energy_wh": 0, "stop_reason": None, "power_w": None, "max_power_w": 0, "soc": None,
            "charging_seconds": 0, "idle_seconds": 0, "last_sample_at": None, "last_register_wh": None,
            "baseline_wh": None, "offset_wh": 0, "flags": [], "reservation_id": None, "start_key": f"k{energy}",
            "transaction_ref": str(transaction_id), "last_seq_no": None, "start_status": None,
            "evse_connector_id": 1, "updated_at": AT}


def test_bulk_statements_store_what_sqlalchemy_stores(db_url):
    migrate(db_url)
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as connection:
            for charger_id in ("fast", "slow"):
                connection.execute(insert(schema.chargers), {"id": charger_id, "registered": True, "timezone": "UTC",
                                                             "heartbeat_interval": 60, "connected": True,
                                                             "created_at": AT})
                connection.execute(insert(schema.sessions), _session(1 if charger_id == "fast" else 2, charger_id, 0))
        messages = [writes.message_row(c, AT.astimezone(CET), "in", '[2,"1","MeterValues",{"é":"\\u0000"}]', 2,
                                       "1", "MeterValues", "node", "ocpp1.6") for c in ("fast", "slow")]
        readings = {c: [_reading(c, 0, "1234.5678"), _reading(c, 1, "0.0001"), _reading(c, 0, "1234.5678")]
                    for c in ("fast", "slow")}
        progress = {c: {**_session(1 if c == "fast" else 2, c, 0), "energy_wh": 42, "power_w": 7000, "soc": 55,
                        "last_sample_at": AT + timedelta(seconds=1), "flags": ["meter_reset", "é"],
                        "updated_at": AT + timedelta(seconds=2), "_key": 1 if c == "fast" else 2}
                    for c in ("fast", "slow")}
        for p in progress.values():
            del p["start_key"]
        seen = {c: [{"_key": c, "last_seen_at": AT + timedelta(seconds=s)} for s in (5, 9, 7)]
                for c in ("fast", "slow")}
        with engine.begin() as connection:
            BulkStatement(schema.ocpp_messages)(connection, [messages[0]])
            connection.execute(insert(schema.ocpp_messages), [messages[1]])
            BulkStatement(schema.meter_readings, ignore_duplicates=True)(connection, readings["fast"])
            insert_ignoring_duplicates(connection, schema.meter_readings, readings["slow"])
            BulkStatement(schema.sessions, update_key="transaction_id")(connection, [progress["fast"]])
            connection.execute(update(schema.sessions).where(schema.sessions.c.transaction_id == bindparam("_key")),
                               [progress["slow"]])
            BulkStatement(schema.chargers, update_key="id", last_per_key=True)(connection, seen["fast"])
            connection.execute(update(schema.chargers).where(schema.chargers.c.id == bindparam("_key")),
                               seen["slow"])
        with engine.connect() as connection:
            def rows(table, key, *drop):
                out = {}
                for row in connection.execute(select(table)).mappings():
                    out[row[key]] = {k: v for k, v in row.items() if k not in ("id", key, *drop)}
                return out

            stored = rows(schema.ocpp_messages, "charger_id")
            assert stored["fast"] == stored["slow"] and stored["fast"]["at"] == AT
            assert stored["fast"]["payload"] == messages[0]["payload"]
            # What the column holds, below the column types: the same text (SQLite) or instant (PostgreSQL).
            raw = dict(connection.exec_driver_sql("SELECT charger_id, at FROM ocpp_messages").all())
            assert raw["fast"] == raw["slow"]
            raw = dict(connection.exec_driver_sql("SELECT id, last_seen_at FROM chargers").all())
            assert raw["fast"] == raw["slow"]
            readings_of = select(schema.meter_readings).where(schema.meter_readings.c.charger_id == bindparam("c"))
            stored_readings = {c: sorted((r.timestamp, r.value) for r in connection.execute(readings_of, {"c": c}))
                               for c in ("fast", "slow")}
            assert stored_readings["fast"] == stored_readings["slow"] == [
                (AT, Decimal("1234.5678")), (AT + timedelta(seconds=1), Decimal("0.0001"))]
            assert all(t.tzinfo is not None for t, _ in stored_readings["fast"])
            sessions = rows(schema.sessions, "charger_id", "transaction_id", "transaction_ref", "start_key")
            assert sessions["fast"] == sessions["slow"]
            assert sessions["fast"]["flags"] == ["meter_reset", "é"] and sessions["fast"]["energy_wh"] == 42
            chargers = rows(schema.chargers, "id")
            assert chargers["fast"] == chargers["slow"]
            assert chargers["fast"]["last_seen_at"] == AT + timedelta(seconds=7)  # the batch's last row wins
    finally:
        engine.dispose()


def test_rows_lacking_a_column_take_sqlalchemys_path_with_its_defaults(db_url):
    """A reading without phase/location/format gets the columns' defaults, as through Connection.execute."""
    migrate(db_url)
    engine = create_db_engine(db_url)
    try:
        reading = _reading("c", 0, "1")
        for key in ("phase", "location", "format"):
            del reading[key]
        with engine.begin() as connection:
            BulkStatement(schema.meter_readings, ignore_duplicates=True)(connection, [reading])
        with engine.connect() as connection:
            row = connection.execute(select(schema.meter_readings)).mappings().one()
        assert (row["phase"], row["location"], row["format"], row["value"]) == ("", "", "Raw", Decimal("1"))
    finally:
        engine.dispose()
