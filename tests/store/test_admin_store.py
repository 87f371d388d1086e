"""The chargers admin pages' store reads on SQLite and PostgreSQL: the charger list's filters and paging, the raw
message log's filters (direction, action with its answers, message id, time range, text with LIKE wildcards taken
literally), its paging and the CALL/answer pairing; settings, password and removal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, insert, select

from chargewatch.store import admin, schema
from chargewatch.store.database import create_db_engine, migrate
from chargewatch.store.registry import RegistryError

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    engine = create_db_engine(db_url)
    with engine.begin() as connection:
        connection.execute(insert(schema.chargers), [
            {"id": f"CP-{n:02d}", "registered": True, "timezone": "Europe/Berlin", "connected": n == 1,
             "heartbeat_interval": 300, "created_at": NOW, "vendor": "ABB" if n % 2 else "Alpitronic",
             "model": "Terra 50%" if n % 2 else "HYC50", "firmware_version": f"1.{n % 3}", "site_id": f"S{n % 2}",
             "last_seen_at": None if n == 0 else NOW - timedelta(hours=n * 20)} for n in range(12)])
        connection.execute(insert(schema.connectors), [
            {"charger_id": "CP-03", "connector_id": 1, "status": "Available", "error_code": "GroundFailure",
             "status_at": NOW},
            {"charger_id": "CP-04", "connector_id": 1, "status": "Available", "error_code": "NoError",
             "status_at": NOW}])
        frames = []
        for n in range(30):  # a Heartbeat CALL and its CALLRESULT a second apart, every minute
            at = NOW - timedelta(minutes=30 - n)
            frames.append({"charger_id": "CP-01", "at": at, "direction": "in", "message_type": 2,
                           "message_id": f"hb-{n}", "action": "Heartbeat", "payload": f'[2,"hb-{n}","Heartbeat",{{}}]'})
            frames.append({"charger_id": "CP-01", "at": at + timedelta(seconds=1), "direction": "out",
                           "message_type": 3, "message_id": f"hb-{n}", "action": None,
                           "payload": f'[3,"hb-{n}",{{"currentTime":"x"}}]'})
        frames += [
            {"charger_id": "CP-01", "at": NOW, "direction": "out", "message_type": 2, "message_id": "cfg-1",
             "action": "ChangeConfiguration", "payload": '[2,"cfg-1","ChangeConfiguration",{"key":"A_B%"}]'},
            {"charger_id": "CP-01", "at": NOW, "direction": "in", "message_type": 4, "message_id": "cfg-1",
             "action": None, "payload": '[4,"cfg-1","InternalError","",{}]'},
            {"charger_id": "CP-02", "at": NOW, "direction": "in", "message_type": 2, "message_id": "cfg-1",
             "action": "Heartbeat", "payload": '[2,"cfg-1","Heartbeat",{}]'},  # another charger, same id
            {"charger_id": "CP-01", "at": NOW, "direction": "in", "message_type": None, "message_id": None,
             "action": None, "payload": "not json"}]
        connection.execute(insert(schema.ocpp_messages), frames)
    yield engine
    engine.dispose()


def _ids(engine: Engine, links: set[str] = frozenset(), limit: int = 25, offset: int = 0,  # type: ignore[assignment]
         **flt: str) -> tuple[list[str], int]:
    with engine.connect() as connection:
        page = admin.charger_page(connection, admin.ChargerFilter(**flt), links=links, now=NOW, limit=limit,
                                  offset=offset)
    return [r["id"] for r in page.items], page.total


def test_charger_filters_and_paging(engine: Engine) -> None:
    assert _ids(engine, limit=5) == ([f"CP-{n:02d}" for n in range(5)], 12)
    assert _ids(engine, limit=5, offset=10) == (["CP-10", "CP-11"], 12)
    assert _ids(engine, {"CP-02"}, status="online") == (["CP-01", "CP-02"], 2)  # connected, or linked here
    assert _ids(engine, {"CP-02"}, status="offline")[1] == 10
    assert _ids(engine, status="faulted") == (["CP-03"], 1)
    assert _ids(engine, site="S1", model="Terra 50%", firmware="1.0") == (["CP-03", "CP-09"], 2)
    assert _ids(engine, q="50%") == ([f"CP-{n:02d}" for n in range(1, 12, 2)], 6)  # % is a character here
    assert _ids(engine, q="5_%")[1] == 0
    assert _ids(engine, q="alpi")[1] == 6 and _ids(engine, q="cp-1") == (["CP-10", "CP-11"], 2)
    assert _ids(engine, seen="never") == (["CP-00"], 1)
    assert _ids(engine, q="cp-1\x00")[1] == 2  # a NUL (PostgreSQL refuses it in text) is dropped
    assert _ids(engine, seen="24h") == (["CP-01"], 1)  # 20 h ago; CP-02 40 h
    assert _ids(engine, seen="7d")[1] == 8  # CP-01 … CP-08 (160 h)
    assert _ids(engine, seen="stale")[0] == ["CP-00", "CP-09", "CP-10", "CP-11"]  # never, or 180 h ago and more
    with pytest.raises(ValueError, match="status 'up'"):
        _ids(engine, status="up")
    with pytest.raises(ValueError, match="last seen '2d'"):
        _ids(engine, seen="2d")
    with engine.connect() as connection:
        facets = admin.facets(connection)
    assert facets["site"] == ["S0", "S1"] and facets["model"] == ["HYC50", "Terra 50%"]
    assert facets["firmware"] == ["1.0", "1.1", "1.2"]


def _log(engine: Engine, before: int | None = None, limit: int = 50, **flt: object) -> admin.MessagePage:
    with engine.connect() as connection:
        return admin.message_page(connection, "CP-01", admin.MessageFilter(**flt),  # type: ignore[arg-type]
                                  before=before, limit=limit)


def test_message_log_filters_paging_and_pairs(engine: Engine) -> None:
    page = _log(engine, limit=20)
    assert len(page.items) == 20 and page.older is not None
    assert page.items[0]["payload"] == "not json" and page.actions == ["ChangeConfiguration", "Heartbeat"]
    rest = _log(engine, before=page.older, limit=100)
    assert len(rest.items) == 63 - 20 and rest.older is None
    assert max(r["id"] for r in rest.items) < min(r["id"] for r in page.items)

    configuration = _log(engine, action="ChangeConfiguration")  # the CALL and its CALLERROR, not CP-02's
    assert [(r["message_type"], r["direction"]) for r in configuration.items] == [(4, "in"), (2, "out")]
    assert configuration.answers["cfg-1"]["message_type"] == 4
    assert configuration.calls["cfg-1"]["action"] == "ChangeConfiguration"
    assert len(_log(engine, action="Heartbeat").items) == 50

    answers = _log(engine, direction="out", text="currenttime", limit=5)  # answers only: their CALLs paired
    assert all(r["message_type"] == 3 for r in answers.items)
    assert len(answers.calls) == 5 and all(
        answers.calls[r["message_id"]]["direction"] == "in" and answers.calls[r["message_id"]]["id"] < r["id"]
        and answers.calls[r["message_id"]]["action"] == "Heartbeat" for r in answers.items)
    assert [r["message_id"] for r in _log(engine, text="a_b%").items] == ["cfg-1"]  # literal, not a wildcard
    assert _log(engine, text="a_b_").items == []
    assert len(_log(engine, text="a_b%\x00", message_id="cfg-1\x00").items) == 1
    assert {r["message_id"] for r in _log(engine, message_id="hb-7").items} == {"hb-7"}
    window = _log(engine, since=NOW - timedelta(minutes=5), until=NOW - timedelta(minutes=2))
    assert sorted(r["message_id"] for r in window.items) == ["hb-25", "hb-25", "hb-26", "hb-26", "hb-27", "hb-27"]
    with pytest.raises(ValueError, match="ends before it starts"):
        _log(engine, since=NOW, until=NOW - timedelta(minutes=1))
    with pytest.raises(ValueError, match="direction 'both'"):
        _log(engine, direction="both")


def test_settings_password_and_removal(engine: Engine) -> None:
    with engine.begin() as connection:
        with pytest.raises(RegistryError, match="not an IANA time zone"):
            admin.update_settings(connection, "CP-01", timezone="Mars/Base", tariff_id=None)
        with pytest.raises(RegistryError, match="no tariff 'NONE'"):
            admin.update_settings(connection, "CP-01", timezone="UTC", tariff_id="NONE")
        assert admin.update_settings(connection, "CP-01", timezone="Asia/Tokyo", tariff_id=None)
        assert not admin.update_settings(connection, "CP-99", timezone="UTC", tariff_id=None)
        with pytest.raises(RegistryError, match="8 to 64 characters"):
            admin.set_password(connection, "CP-01", "short")
        assert admin.set_password(connection, "CP-01", "long-enough-secret")
        found = admin.charger(connection, "CP-01")
        assert found is not None and "password_hash" not in found and found["has_password"] is True
        stored = connection.execute(select(schema.chargers.c.password_hash)
                                    .where(schema.chargers.c.id == "CP-01")).scalar_one()
        assert PasswordHasher().verify(stored, "long-enough-secret")
        assert admin.delete_charger(connection, "CP-03") and not admin.delete_charger(connection, "CP-03")
        assert connection.execute(select(schema.connectors).where(
            schema.connectors.c.charger_id == "CP-03")).first() is None
        assert admin.charger(connection, "CP-01")["timezone"] == "Asia/Tokyo"  # type: ignore[index]
