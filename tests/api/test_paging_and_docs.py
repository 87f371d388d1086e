"""Issue 15 item 11: one paging style (cursor + next_cursor) for chargers, connectors, id tags and tariffs; one name
(`charger_id`); `/docs` and `/redoc` served from our own assets; every operation documented."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from chargewatch.runtime import Chargewatch
from conftest import make_options
from helpers import http_url

TARIFF = '{{"country_code": "DE", "party_id": "CWT", "id": "{id}", "currency": "EUR", ' \
         '"elements": [{{"price_components": [{{"type": "ENERGY", "price": 0.4, "vat": 19, "step_size": 1}}]}}], ' \
         '"last_updated": "2026-01-01T00:00:00Z"}}'


async def _walk(api: httpx.AsyncClient, path: str, key: str, **params: object) -> tuple[list[object], int]:
    """Every item of a paged list, following next_cursor; and how many pages it took."""
    seen: list[object] = []
    cursor = None
    pages = 0
    for _ in range(50):  # bounded: a cursor that never ends fails the test below
        response = await api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        seen += [item[key] if isinstance(key, str) else key(item) for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
    raise AssertionError(f"{path}: more than 50 pages")


async def test_chargers_connectors_id_tags_and_tariffs_page_by_cursor(server: Chargewatch) -> None:
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        for n in range(7):
            assert (await api.post("/api/v1/chargers", json={"charger_id": f"PG-{n:02d}"})).status_code == 201
            assert (await api.put(f"/api/v1/id-tags/TAG{n}", json={"id_tag": f"TAG{n}"})).status_code == 200
            created = await api.post("/api/v1/tariffs", content=TARIFF.format(id=f"T{n}"),
                                     headers={"content-type": "application/json"})
            assert created.status_code == 201, created.text
        chargers, pages = await _walk(api, "/api/v1/chargers", "charger_id", limit=3)
        tags, tag_pages = await _walk(api, "/api/v1/id-tags", "id_tag", limit=3)
        tariffs, tariff_pages = await _walk(api, "/api/v1/tariffs", "id", limit=3)
        first = (await api.get("/api/v1/chargers", params={"limit": 3})).json()
    assert chargers == [f"PG-{n:02d}" for n in range(7)] and pages == 3
    assert tags == [f"TAG{n}" for n in range(7)] and tag_pages == 3
    assert tariffs == [f"T{n}" for n in range(7)] and tariff_pages == 3
    assert all(c["id"] == c["charger_id"] for c in first["items"]), "the old name stays for older clients"


async def test_connectors_page_across_chargers_in_charger_then_connector_order(server: Chargewatch) -> None:
    from helpers import connect

    for charger in ("CN-A", "CN-B"):
        cp = await connect(server, charger)
        for connector in (1, 2, 3):
            await cp.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError",
                                                 "status": "Available"})
        await cp.close()
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        everything, pages = await _walk(api, "/api/v1/connectors", lambda c: (c["charger_id"], c["connector_id"]),
                                        limit=4)
        one, _ = await _walk(api, "/api/v1/connectors", "connector_id", charger_id="CN-B", limit=2)
    assert everything == [(c, n) for c in ("CN-A", "CN-B") for n in (1, 2, 3)] and pages == 2
    assert one == [1, 2, 3]


@pytest.mark.parametrize("path", ["/api/v1/chargers", "/api/v1/connectors", "/api/v1/id-tags", "/api/v1/tariffs"])
async def test_a_cursor_not_from_this_list_is_a_422_naming_it(server: Chargewatch, path: str) -> None:
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        for bad in ("nonsense", "WzEsMl0="):  # not base64 JSON; a key of the wrong shape ([1, 2])
            response = await api.get(path, params={"cursor": bad})
            assert response.status_code == 422
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["errors"] == [{"field": "cursor", "reason": "not a cursor returned by this API"}]


async def test_register_accepts_charger_id_and_the_older_id(server: Chargewatch) -> None:
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        new = await api.post("/api/v1/chargers", json={"charger_id": "NAME-NEW"})
        old = await api.post("/api/v1/chargers", json={"id": "NAME-OLD"})
        missing = await api.post("/api/v1/chargers", json={})
    assert new.status_code == old.status_code == 201
    assert new.json()["charger_id"] == "NAME-NEW" and old.json()["charger_id"] == "NAME-OLD"
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "charger_id"


async def test_docs_and_redoc_load_their_assets_from_this_server_only(server: Chargewatch) -> None:
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        for page in ("/docs", "/redoc"):
            html = (await api.get(page)).text
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
            assert assets, page
            for url in assets:
                assert url.startswith("/"), f"{page} loads {url} from elsewhere"
                asset = await api.get(url)
                assert asset.status_code == 200 and len(asset.content) > 1000, url
            assert "http://" not in html and "https://" not in html, f"{page} names another host"


def test_every_operation_has_a_summary_and_a_description(tmp_path: Path) -> None:
    app = Chargewatch(make_options(f"sqlite:///{tmp_path}/chargewatch.db"))
    document = app.app.openapi()
    undocumented = [f"{method.upper()} {path}" for path, item in document["paths"].items()
                    for method, operation in item.items()
                    if not operation.get("summary", "").strip() or not operation.get("description", "").strip()]
    assert len(document["paths"]) >= 50
    assert undocumented == [], ("each route needs a docstring (its OpenAPI description) or description=: "
                                + ", ".join(undocumented))


async def test_an_id_tag_longer_than_the_limit_is_refused_and_one_stored_before_is_still_listed(
        server: Chargewatch) -> None:
    from sqlalchemy import insert

    from chargewatch.store import schema

    sqlite = server.engine.dialect.name == "sqlite"
    if sqlite:  # as an older CLI stored it, unchecked (PostgreSQL's varchar(20) never let it in)
        with server.engine.begin() as connection:
            connection.execute(insert(schema.id_tags).values(id_tag="L" * 32, status="Accepted"))
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        refused = await api.put(f"/api/v1/id-tags/{'X' * 32}", json={"id_tag": "X" * 32})
        listed = await api.get("/api/v1/id-tags")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "id_tag"
    assert listed.status_code == 200
    assert [t["id_tag"] for t in listed.json()["items"]] == (["L" * 32] if sqlite else [])
