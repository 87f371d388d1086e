"""One error body everywhere: RFC 9457 problem details (`api/errors.py`), and the OpenAPI document says so."""

from __future__ import annotations

import httpx
import pytest

from helpers import http_url

PROBLEM_KEYS = {"status", "title", "detail", "errors"}


def _is_problem(response: httpx.Response) -> bool:
    body = response.json()
    return (response.headers["content-type"] == "application/problem+json" and set(body) == PROBLEM_KEYS
            and body["status"] == response.status_code and isinstance(body["detail"], str)
            and all(set(e) == {"field", "reason"} for e in body["errors"]))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_kind_of_error_has_the_problem_shape(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        unknown_path = await api.get("/api/v1/no-such-thing")
        not_found = await api.get("/api/v1/chargers/CP-NOPE")
        invalid_query = await api.get("/api/v1/sessions", params={"limit": "0"})
        invalid_body = await api.post("/api/v1/chargers", json={"id": "CP-1", "timezone": "Mars/Olympus"})
        wrong_method = await api.delete("/api/v1/sessions")
    for response in (unknown_path, not_found, invalid_query, invalid_body, wrong_method):
        assert _is_problem(response), response.text
    assert invalid_query.status_code == 422 and invalid_query.json()["errors"][0]["field"] == "limit"
    assert invalid_body.json()["errors"] == [
        {"field": "timezone", "reason": "'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)"}]
    assert not_found.json()["detail"] == "charger 'CP-NOPE' not found"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_openapi_document_declares_the_problem_body_for_every_error(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        document = (await api.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(document["components"]["schemas"]["Problem"]["properties"]) == PROBLEM_KEYS
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            if path.startswith("/api/v1/") and "{token}" not in path and not path.startswith("/api/v1/driver/"):
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_driver_link_with_a_non_ascii_digit_is_not_found_not_a_server_error(server):
    """"²" passes str.isdigit() and fails int(): the public driver page and its API answer 404, as for any forgery."""
    async with httpx.AsyncClient(base_url=http_url(server)) as client:
        for path in ("/s/²-AAAAAAAAAAAAAAAAAAAAAA", "/api/v1/driver/²-AAAAAAAAAAAAAAAAAAAAAA/guidance"):
            response = await client.get(path)
            assert response.status_code == 404, (path, response.status_code, response.text[:200])
