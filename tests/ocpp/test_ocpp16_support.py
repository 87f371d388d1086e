"""docs/OCPP16.md lists every OCPP 1.6J message (Core, the feature profiles, the security extension) once per direction
it travels, says what chargewatch does with it, and names the API routes that send it: checked here against the
official schemas, the 1.6 adapter's own action lists, the command API and the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import ocpp.v16
import pytest

from chargewatch.api.models import CommandIn
from chargewatch.ocpp.v16 import core

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "OCPP16.md").read_text(encoding="utf-8")
SCHEMAS = Path(ocpp.v16.__file__).parent / "schemas"


def _table(heading: str) -> dict[str, list[str]]:
    section = DOC.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("message", "---"):
            assert cells[0] not in rows, f"{cells[0]} listed twice under {heading}"
            rows[cells[0]] = cells
    return rows


CHARGER = _table("Charge point → central system")
CENTRAL = _table("Central system → charge point")
OFFICIAL = {path.stem for path in SCHEMAS.glob("*.json") if not path.stem.endswith("Response")}


def test_every_official_message_is_listed_in_each_direction_it_travels():
    assert len(OFFICIAL) == 39, sorted(OFFICIAL)  # 28 Core + profiles, 11 of the security extension
    both = {"DataTransfer"}
    assert set(CHARGER) == core.CHARGER_ACTIONS, "the charger-side table is the adapter's list"
    assert set(CENTRAL) == core.CENTRAL_ACTIONS | both, "the central-side table is the adapter's list"
    assert set(CHARGER) | set(CENTRAL) == OFFICIAL
    assert set(CHARGER) & set(CENTRAL) == both


def test_every_message_is_supported_and_every_central_one_is_sendable_through_the_command_api():
    assert {row[2] for row in [*CHARGER.values(), *CENTRAL.values()]} == {"supported"}
    sendable = set(get_args(CommandIn.model_fields["action"].annotation))
    assert set(CENTRAL) <= sendable


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_route_the_table_names_exists(server):
    import httpx

    from helpers import http_url

    async with httpx.AsyncClient(base_url=http_url(server)) as client:
        document = (await client.get("/openapi.json")).json()
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    named = {(method, path) for row in CENTRAL.values()
             for method, path in re.findall(r"`(GET|POST|PUT|DELETE) (/[^`]+)`", row[3])}
    assert len(named) >= 20
    assert named - operations == set(), "routes named in docs/OCPP16.md that the API does not have"
