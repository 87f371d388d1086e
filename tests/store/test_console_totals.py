"""The overview's totals come from one aggregate query, exact to the cent, however many documents there are
(issue 15 item 2: "Revenue today" used to sum the first 500 invoices of an API page)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import event, insert

from chargewatch.runtime import Chargewatch
from chargewatch.store import console
from chargewatch.store.billing_tables import invoices
from chargewatch.store.faults_tables import fault_incidents

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - timedelta(hours=6)


def _documents(count: int, seed: int = 15) -> tuple[list[dict[str, object]], Decimal]:
    """``count`` invoices (amounts with cents that a float would drift on) and 7 credit notes in EUR, two CHF
    invoices, one EUR invoice issued before ``SINCE``; and the exact EUR gross total of the period."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    total = Decimal(0)

    def add(kind: str, gross: Decimal, currency: str = "EUR", at: datetime = NOW - timedelta(minutes=5)) -> None:
        net = (gross / Decimal("1.19")).quantize(Decimal("0.01"))
        rows.append({"number": f"CW-{len(rows) + 1:06d}", "operator_id": "CW", "sequence": len(rows) + 1,
                     "kind": kind, "transaction_id": len(rows) + 1, "charger_id": "CP-1",
                     "credit_note_for": None, "cdr_id": f"CDR{len(rows) + 1}", "currency": currency,
                     "total_net": net, "total_vat": gross - net, "total_gross": gross, "meter_verification": "VALID",
                     "reason": None, "issued_at": at, "body": "{}"})

    for _ in range(count):
        gross = Decimal(rng.randint(1, 99_999)) / 100  # 0.01 … 999.99: cents a float sum would drift on
        add("invoice", gross)
        total += gross
    for index in range(7):
        credit = -Decimal(rows[index]["total_gross"])  # type: ignore[arg-type]
        add("credit_note", credit)
        total += credit
    add("invoice", Decimal("12.34"), "CHF")
    add("invoice", Decimal("0.66"), "CHF")
    add("invoice", Decimal("99.99"), at=SINCE - timedelta(seconds=1))  # yesterday's, not counted
    return rows, total


def _count_statements(engine: object) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


async def test_600_invoices_sum_exactly_in_one_query(server: Chargewatch) -> None:
    rows, expected = _documents(600)
    with server.engine.begin() as connection:
        connection.execute(insert(invoices), rows)
    seen = _count_statements(server.engine)
    with server.engine.connect() as connection:
        totals = {t["currency"]: t for t in console.revenue_totals(connection, SINCE)}
    assert len([s for s in seen if "invoices" in s]) == 1, "one aggregate query, not a page of rows"
    eur = totals["EUR"]
    assert eur["total_gross"] == expected and isinstance(eur["total_gross"], Decimal)
    assert (eur["documents"], eur["invoices"], eur["credit_notes"]) == (607, 600, 7)
    assert eur["total_net"] + eur["total_vat"] == eur["total_gross"]
    assert totals["CHF"]["total_gross"] == Decimal("13.00") and totals["CHF"]["documents"] == 2
    with server.engine.connect() as connection:
        before = console.revenue_totals(connection, SINCE - timedelta(days=1), SINCE)
    assert [(t["currency"], t["total_gross"]) for t in before] == [("EUR", Decimal("99.99"))]

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as api:
        answer = await api.get("/api/v1/revenue", params={"since": SINCE.isoformat()})
        assert answer.status_code == 200, answer.text
        body = {c["currency"]: c for c in answer.json()["currencies"]}
        assert Decimal(body["EUR"]["total_gross"]) == expected and body["EUR"]["invoices"] == 600
        bad = await api.get("/api/v1/revenue", params={"since": "yesterday"})
        assert bad.status_code == 422, bad.text


async def test_no_invoice_is_no_currency_and_incidents_count_per_severity(server: Chargewatch) -> None:
    with server.engine.connect() as connection:
        assert console.revenue_totals(connection, SINCE) == []
        assert console.incident_counts(connection) == {"critical": 0, "fault": 0, "warning": 0, "info": 0}
    base = {"kind": "connector_fault", "charger_id": "CP-1", "connector_id": 1, "first_seen": NOW, "outage": False,
            "last_seen": NOW, "occurrences": 1, "opened_at": NOW, "evidence": [], "escalation_level": 0,
            "notes": [], "updated_at": NOW}
    states = [("fault", "open"), ("fault", "acknowledged"), ("warning", "open"), ("critical", "resolved"),
              ("info", "open")]
    with server.engine.begin() as connection:
        for index, (severity, status) in enumerate(states):
            row = {**base, "id": f"incident-{index}", "severity": severity, "status": status}
            connection.execute(insert(fault_incidents), row)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as api:
        counts = (await api.get("/api/v1/incident-counts")).json()
    assert counts == {"active": 4, "by_severity": {"critical": 0, "fault": 2, "warning": 1, "info": 1}}
