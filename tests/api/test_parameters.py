"""Every query and path parameter is bounded (issue 10, item 13): a number the database cannot hold, a timestamp
that is not an ISO 8601 instant, or one without an offset is a 422 naming the parameter — never a 500."""

from __future__ import annotations

import httpx
import pytest

from helpers import http_url

HUGE = str(10**36)

# (request, the parameter the 422 must name) — the inputs the issue reports, on every route they reached.
REFUSED = [
    (f"/api/v1/incidents/{HUGE}", "number"),
    (f"/api/v1/incidents/{HUGE}/acknowledge", "number"),
    (f"/api/v1/sessions/{HUGE}", "transaction_id"),
    (f"/api/v1/sessions/{HUGE}/cost", "transaction_id"),
    (f"/api/v1/sessions/{HUGE}/invoice", "transaction_id"),
    (f"/api/v1/feedback/sessions/{HUGE}", "transaction_id"),
    ("/api/v1/invoices?offset=1e20", "offset"),
    (f"/api/v1/invoices?offset={10**20}", "offset"),
    (f"/api/v1/cdrs?offset={10**20}", "offset"),
    (f"/api/v1/feedback?offset={10**20}", "offset"),
    (f"/api/v1/alerts/deliveries?incident={HUGE}", "incident"),
    (f"/api/v1/incidents?cursor={HUGE}", "cursor"),
    (f"/api/v1/chargers/CP-1/messages?before={HUGE}", "before"),
    (f"/api/v1/sessions?connector_id={HUGE}", "connector_id"),
    ("/api/v1/sessions?until=0.5", "until"),
    ("/api/v1/sessions?since=2026-11-02T09:00:00", "since"),
    ("/api/v1/invoices?since=2026-11-02T09:00:00", "since"),
    ("/api/v1/incidents?since=2026-11-02T09:00:00", "since"),
    ("/api/v1/feedback?since=2026-11-02T09:00:00", "since"),
    ("/api/v1/feedback?until=0.5", "until"),
    ("/api/v1/sessions?since=0001-01-01T00:00:00%2B05:00", "since"),
]


async def test_an_out_of_range_or_non_iso_parameter_is_a_422_naming_it(server):
    wrong = []
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        for url, parameter in REFUSED:
            method = "POST" if url.endswith("/acknowledge") else "GET"
            response = await api.request(method, url, json={"by": "ops"} if method == "POST" else None)
            named = response.json().get("errors", [{}])[0].get("field") if response.status_code == 422 else None
            if named != parameter:
                wrong.append((url, response.status_code, response.text[:200]))
    assert wrong == []


async def test_an_aware_timestamp_in_any_offset_is_accepted_and_means_the_same_instant(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        utc = await api.get("/api/v1/sessions", params={"since": "2026-11-02T09:00:00Z"})
        berlin = await api.get("/api/v1/sessions", params={"since": "2026-11-02T10:00:00+01:00"})
    assert utc.status_code == berlin.status_code == 200 and utc.json() == berlin.json()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_integer_parameter_in_the_openapi_document_has_both_bounds(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        document = (await api.get("/openapi.json")).json()
    unbounded = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                for option in schema.get("anyOf", [schema]):
                    if option.get("type") == "integer" and not {"minimum", "maximum"} <= set(option):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


async def test_nul_characters_in_a_path_query_or_json_body_are_a_422_not_a_database_error(server):
    """PostgreSQL cannot hold NUL in text; it raised inside the routes (500). Refused up front on both engines."""
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        in_path = await api.get("/api/v1/chargers/CP%00X")
        in_query = await api.get("/api/v1/sessions", params={"charger_id": "a\x00b"})
        in_body = await api.post("/api/v1/chargers", json={"id": "CP\x00X", "timezone": "UTC"})
        escaped_backslash = await api.get("/api/v1/chargers/CP-1", params={"x": "\\u0000"})
    assert [r.json()["errors"][0]["field"] for r in (in_path, in_query, in_body)] == ["path", "charger_id", "body"]
    assert {r.status_code for r in (in_path, in_query, in_body)} == {422}
    assert escaped_backslash.status_code == 404, "a literal backslash-u0000 is text, not a NUL"


async def test_nul_characters_in_a_page_s_path_query_or_form_are_a_422_not_a_database_error(server):
    """The console's pages and forms go to the same database: the login form, a station page and a filter."""
    from web.conftest import ADMIN, add_operators, logged_in

    add_operators(server)
    async with httpx.AsyncClient(base_url=http_url(server)) as anonymous:
        await anonymous.get("/login")
        login = await anonymous.post("/login", data={"username": "ada\x00", "password": "x", "next": "/",
                                                     "csrf_token": anonymous.cookies["cw_login_csrf"]})
    operator = await logged_in(server, ADMIN)
    try:
        station = await operator.get("/stations/CP%00X")
        filtered = await operator.get("/history/sessions", params={"charger": "a\x00b"})
        form = await operator.post("/chargers", data={"charger_id": "CP\x00X", "timezone": "UTC"})
    finally:
        await operator.aclose()
    responses = (login, station, filtered, form)
    assert [r.status_code for r in responses] == [422] * 4, [r.text[:120] for r in responses]
    assert [r.json()["errors"][0]["field"] for r in responses] == ["username", "path", "charger", "charger_id"]
