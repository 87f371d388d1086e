"""The history pages' queries (issue 15 item 7) on SQLite and PostgreSQL: filters, the operator's local days across
a DST change, and the monthly sessions / energy / revenue per site, every expected figure worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from chargewatch.api.history_pages import (
    csv_cell,
    invoice_filter,
    local_day_bounds,
    local_iso,
    month_bounds,
    session_filter,
)
from chargewatch.store import history, schema
from chargewatch.store.billing_tables import invoices, session_bills
from chargewatch.store.database import create_db_engine, migrate

BERLIN = "Europe/Berlin"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    engine = create_db_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _charger(charger_id: str, site: str | None, zone: str = BERLIN) -> dict[str, Any]:
    return {"id": charger_id, "registered": True, "timezone": zone, "site_id": site, "connected": False,
            "heartbeat_interval": 300, "created_at": utc(2026, 1, 1)}


def _session(tx: int, charger: str, tag: str, started: datetime, energy_wh: int, status: str = "completed",
             flags: list[str] | None = None) -> dict[str, Any]:
    return {"transaction_id": tx, "charger_id": charger, "connector_id": 1, "id_tag": tag, "status": status,
            "started_at": started, "stopped_at": started if status == "completed" else None, "meter_start_wh": 0,
            "meter_stop_wh": energy_wh, "energy_wh": energy_wh, "flags": flags or [], "start_key": f"k{tx}",
            "charging_seconds": 0, "idle_seconds": 0, "max_power_w": 0, "offset_wh": 0, "updated_at": started}


def _invoice(number: str, tx: int, charger: str, gross: str, net: str, issued: datetime, kind: str = "invoice",
             credit_for: str | None = None, currency: str = "EUR") -> dict[str, Any]:
    return {"number": number, "operator_id": "CW", "sequence": int(number[3:]), "kind": kind, "transaction_id": tx,
            "charger_id": charger, "credit_note_for": credit_for, "cdr_id": f"CDR-{number}", "currency": currency,
            "total_net": Decimal(net), "total_vat": Decimal(gross) - Decimal(net), "total_gross": Decimal(gross),
            "meter_verification": "NOT_SIGNED", "reason": None, "issued_at": issued, "body": "{}"}


# Berlin switches to summer time on 2026-03-29 at 02:00 CET (01:00 UTC) and back on 2026-10-25 at 03:00 CEST.
SESSIONS = [
    _session(1, "CP-A1", "TAG-1", utc(2026, 3, 28, 22, 59), 10_000),  # 23:59 CET on the 28th
    _session(2, "CP-A1", "TAG-1", utc(2026, 3, 28, 23, 0), 12_345),   # 00:00 CET on the 29th
    _session(3, "CP-A2", "=HYPERLINK(1)", utc(2026, 3, 29, 21, 59), 7_000, flags=["missing_stop"]),  # 23:59 CEST
    _session(4, "CP-A2", "TAG-2", utc(2026, 3, 29, 22, 0), 1_000),    # 00:00 CEST on the 30th
    _session(5, "CP-B1", "TAG-2", utc(2026, 2, 28, 23, 30), 20_000, flags=["late_samples", "missing_stop"]),
    _session(6, "CP-X", "TAG-3", utc(2026, 3, 31, 22, 30), 500, status="active"),  # 00:30 CEST on April 1st
    _session(7, "CP-B1", "TAG-3", utc(2025, 12, 31, 22, 59), 900),  # 23:59 CET on 2025-12-31: not in 2026
]
INVOICES = [
    _invoice("CW-1", 1, "CP-A1", "11.90", "10.00", utc(2026, 3, 28, 23, 30)),
    _invoice("CW-2", 2, "CP-A1", "0.10", "0.08", utc(2026, 3, 29, 12, 0)),
    _invoice("CW-3", 2, "CP-A1", "-0.10", "-0.08", utc(2026, 4, 1, 8, 0), "credit_note", "CW-2"),
    _invoice("CW-4", 3, "CP-A2", "3.33", "2.80", utc(2026, 3, 31, 21, 59)),  # 23:59 CEST on March 31st
    _invoice("CW-5", 5, "CP-B1", "7.77", "6.53", utc(2026, 2, 28, 23, 59)),  # 00:59 CET on March 1st
    _invoice("CW-6", 4, "CP-A2", "5.00", "4.20", utc(2026, 3, 30, 10, 0), currency="CHF"),
]


@pytest.fixture
def filled(engine: Engine) -> Engine:
    with engine.begin() as connection:
        connection.execute(insert(schema.chargers), [_charger("CP-A1", "SITE-A"), _charger("CP-A2", "SITE-A"),
                                                     _charger("CP-B1", "SITE-B"), _charger("CP-X", None)])
        connection.execute(insert(schema.sessions), SESSIONS)
        connection.execute(insert(invoices), INVOICES)
        connection.execute(insert(session_bills), [
            {"transaction_id": 1, "status": "issued", "reason": "", "meter_verification": "NOT_SIGNED",
             "invoice_number": "CW-1", "created_at": utc(2026, 3, 29), "updated_at": utc(2026, 3, 29)}])
    return engine


def _ids(rows: list[dict[str, Any]], key: str = "transaction_id") -> list[Any]:
    return [r[key] for r in rows]


def test_local_days_across_the_spring_dst_change_and_the_filters(filled: Engine) -> None:
    # March 29th in Berlin is 23 hours long: from 23:00 UTC on the 28th to 22:00 UTC on the 29th.
    since, until = local_day_bounds(date(2026, 3, 29), date(2026, 3, 29), BERLIN)
    assert (since, until) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    # October 25th is 25 hours long: 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    assert local_day_bounds(date(2026, 10, 25), date(2026, 10, 25), BERLIN) == (utc(2026, 10, 24, 22),
                                                                                 utc(2026, 10, 25, 23))
    checked, wanted = session_filter({"from": "2026-03-29", "to": "2026-03-29"}, BERLIN)
    assert checked.errors == []
    with filled.connect() as connection:
        rows, total = history.find_sessions(connection, wanted)
        assert (_ids(rows), total) == ([3, 2], 2)  # not #1 (23:59 on the 28th) nor #4 (00:00 on the 30th)
        # The same day in New York is 04:00 UTC on the 29th to 04:00 UTC on the 30th: #3 and #4.
        _, wanted = session_filter({"from": "2026-03-29", "to": "2026-03-29"}, "America/New_York")
        assert _ids(history.find_sessions(connection, wanted)[0]) == [4, 3]

        def find(**query: str) -> list[int]:
            checked, wanted = session_filter(query, BERLIN)
            assert checked.errors == [], checked.errors
            return _ids(history.find_sessions(connection, wanted)[0])

        assert find(site="SITE-A") == [4, 3, 2, 1]
        assert find(site="(none)") == [6]
        assert find(charger="CP-B1") == [5, 7]
        assert find(id_tag="TAG-2") == [4, 5]
        assert find(status="active") == [6]
        assert find(flag="missing_stop") == [3, 5]
        assert find(flag="late_samples") == [5]
        assert find(site="SITE-A", flag="missing_stop", id_tag="=HYPERLINK(1)") == [3]
        rows, total = history.find_sessions(connection, history.SessionFilter(), limit=2, offset=2)
        assert (_ids(rows), total) == ([3, 2], 7)  # page 2 of 2: newest first is 6, 4, 3, 2, 1, 5, 7
        assert rows[1]["invoice_number"] is None and history.find_sessions(
            connection, history.SessionFilter(charger_id="CP-A1"))[0][1]["invoice_number"] == "CW-1"
    # Chunked export walks the same order as the pages, across chunk boundaries.
    assert [r["transaction_id"] for r in history.iter_sessions(filled, history.SessionFilter(), chunk=3)] == [
        6, 4, 3, 2, 1, 5, 7]


def test_bad_filter_input_is_a_message() -> None:
    checked, _ = session_filter({"from": "29.03.2026", "to": "2026-02-30", "status": "paid", "flag": "x",
                                 "page": "-1", "charger": "a" * 65}, BERLIN)
    text = " | ".join(checked.errors)
    for expected in ("from date: '29.03.2026' is not a date", "to date: '2026-02-30' is not a date",
                     "status: 'paid'", "flag: 'x' is not a session flag", "page: '-1'", "charger:"):
        assert expected in text, text
    checked, _ = session_filter({"from": "2026-04-02", "to": "2026-04-01"}, BERLIN)
    assert checked.errors == ["the from date (2026-04-02) is after the to date (2026-04-01)"]
    checked, _ = invoice_filter({"kind": "bill", "state": "void", "from": "1999-12-31"}, BERLIN)
    assert len(checked.errors) == 3, checked.errors


def test_invoice_filters_states_and_exact_totals(filled: Engine) -> None:
    with filled.connect() as connection:
        def find(**query: str) -> tuple[list[str], int, dict[str, Decimal]]:
            checked, wanted = invoice_filter(query, BERLIN)
            assert checked.errors == []
            rows, total, totals = history.find_invoices(connection, wanted)
            return _ids(rows, "number"), total, {t["currency"]: t["total_gross"] for t in totals}

        # In March (Berlin): CW-5 (00:59 on March 1st) … CW-4 (23:59 on the 31st); not CW-3 (April 1st).
        numbers, total, gross = find(**{"from": "2026-03-01", "to": "2026-03-31"})
        assert set(numbers) == {"CW-1", "CW-2", "CW-4", "CW-5", "CW-6"} and total == 5
        assert gross == {"EUR": Decimal("11.90") + Decimal("0.10") + Decimal("3.33") + Decimal("7.77"),  # 23.10
                         "CHF": Decimal("5.00")}
        assert find(site="SITE-A", kind="invoice")[0] == ["CW-4", "CW-6", "CW-2", "CW-1"]
        assert find(state="credited")[0] == ["CW-2"]
        assert find(state="in_force")[0] == ["CW-4", "CW-6", "CW-1", "CW-5"]
        assert find(number="CW-2")[0] == ["CW-3", "CW-2"]  # the invoice and the credit note that cancels it
        assert find(id_tag="TAG-1")[2] == {"EUR": Decimal("11.90")}  # 11.90 + 0.10 - 0.10
        rows, _, _ = history.find_invoices(connection, history.InvoiceFilter(number="CW-2"))
        assert {r["number"]: r["credited_by"] for r in rows} == {"CW-3": None, "CW-2": "CW-3"}
    assert len(list(history.iter_invoices(filled, history.InvoiceFilter(), chunk=4))) == 6


def test_monthly_sessions_energy_and_revenue_per_site(filled: Engine) -> None:
    bounds = month_bounds(2026, BERLIN)
    assert bounds[0] == utc(2025, 12, 31, 23) and bounds[3] == utc(2026, 3, 31, 22) and bounds[12] == utc(
        2026, 12, 31, 23)
    with filled.connect() as connection:
        table = history.monthly(connection, bounds)
    cells = table["cells"]
    assert table["sites"] == ["", "SITE-A", "SITE-B"]
    # SITE-A in March: sessions 1-4, 10000 + 12345 + 7000 + 1000 Wh; EUR 11.90 + 0.10 + 3.33 (CW-1, 2, 4),
    # CHF 5.00 (CW-6); the credit note CW-3 of April 1st counts in April.
    march = cells[("SITE-A", 2)]
    assert (march["sessions"], march["energy_wh"]) == (4, 30_345)
    assert march["revenue"]["EUR"] == {"gross": Decimal("15.33"), "net": Decimal("12.88"), "invoices": 3,
                                       "credit_notes": 0}
    assert march["revenue"]["CHF"]["gross"] == Decimal("5.00")
    april = cells[("SITE-A", 3)]
    assert april["sessions"] == 0 and april["revenue"]["EUR"] == {"gross": Decimal("-0.10"),
                                                                  "net": Decimal("-0.08"), "invoices": 0,
                                                                  "credit_notes": 1}
    # SITE-B: session 5 at 00:30 CET on March 1st and its invoice at 00:59 CET: both March, not February;
    # session 7 is 2025 in Berlin (23:59 on New Year's Eve) and so in no month of 2026.
    site_b = cells[("SITE-B", 2)]
    assert site_b["sessions"] == 1 and site_b["energy_wh"] == 20_000
    assert site_b["revenue"]["EUR"]["gross"] == Decimal("7.77")
    assert ("SITE-B", 1) not in cells and ("SITE-B", 0) not in cells
    # The charger without a site: session 6 at 00:30 CEST on April 1st.
    assert cells[("", 3)]["sessions"] == 1 and cells[("", 3)]["energy_wh"] == 500
    with filled.connect() as connection:
        only_b = history.monthly(connection, bounds, "SITE-B")
    assert only_b["sites"] == ["SITE-B"]


def test_csv_cells_are_not_formulas_and_times_carry_their_offset() -> None:
    assert [csv_cell(v) for v in ("=1+1", "+49", "-2", "@SUM(A1)", "\tx", "TAG-1", None, 42)] == [
        "'=1+1", "'+49", "'-2", "'@SUM(A1)", "'\tx", "TAG-1", "", "42"]
    assert local_iso(utc(2026, 3, 29, 0, 30), BERLIN) == "2026-03-29T01:30:00+01:00"
    assert local_iso(utc(2026, 3, 29, 1, 30), BERLIN) == "2026-03-29T03:30:00+02:00"
