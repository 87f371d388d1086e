"""The operator's session page shows the same physically right numbers and curve as the API."""

from __future__ import annotations

import json
import re

import pytest

from helpers import connect
from sessions_live.live import add_shape_tags
from sessions_live.shapes import SHAPES, drive
from web.conftest import ADMIN, add_operators, logged_in

BY_NAME = {s.name: s for s in SHAPES}


async def page_of(server, name):  # type: ignore[no-untyped-def]
    add_shape_tags(server)
    add_operators(server)
    shape = BY_NAME[name]
    cp = await connect(server, shape.charger_id)
    [tx] = await drive(shape, cp.call)
    await cp.close()
    client = await logged_in(server, ADMIN)
    try:
        response = await client.get(f"/sessions/{tx}")
    finally:
        await client.aclose()
    assert response.status_code == 200
    html = response.text
    points = json.loads(re.search(r'<script type="application/json" id="session-points">(.*?)</script>', html,
                                  re.S).group(1))
    energy = re.search(r'id="live-energy">([^<]*)<', html).group(1)
    return energy, points


@pytest.mark.parametrize("name, energy, curve", [
    ("per_phase", "1.50 kWh", [0.5, 1.0, 1.5]),
    ("outlet_inlet", "0.40 kWh", [0.2, 0.4]),
    ("interval_only", "0.27 kWh", [0.03 * i for i in range(1, 10)]),
])
async def test_the_session_page_shows_the_right_energy_and_curve(server, name, energy, curve):
    shown, points = await page_of(server, name)
    assert shown == energy
    assert [p["kwh"] for p in points if p["kwh"] is not None] == pytest.approx(curve)
