"""Two chargewatch instances on one database: a topic promoted on node A classifies comments on node B within
node B's topics check interval (the topics version row), without a restart."""

from __future__ import annotations

import time

import httpx

from chargewatch.runtime import Chargewatch
from faults_live.live import eventually
from helpers import http_url

from .charging import plug_in, rate
from .conftest import start_options
from .test_comments import ROOF


async def test_a_topic_promoted_on_one_node_is_used_by_the_classifier_on_another(db_url):
    node_a = Chargewatch(start_options(db_url))
    node_b = Chargewatch(start_options(db_url))
    await node_a.start()
    await node_b.start()
    try:
        async with (httpx.AsyncClient(base_url=http_url(node_a), timeout=10) as api_a,
                    httpx.AsyncClient(base_url=http_url(node_b), timeout=10) as api_b):
            charger = await plug_in(node_b, "CP-ROOF", "ocpp1.6")  # the topics do not depend on the OCPP version
            for comment in ROOF:
                assert (await rate(api_b, await charger.charge(), overall=2, comment=comment)).status_code == 201

            async def roof_topics_on_b() -> list[tuple[str, int]]:
                found = (await api_b.get("/api/v1/feedback/analytics/topics", params={"station": "CP-ROOF"})).json()
                return [(t["topic_id"], t["mentions"]) for t in found if t["topic_id"] == "no_roof"]

            assert await roof_topics_on_b() == []  # node B has loaded its classifier without the topic
            promoted_at = time.monotonic()
            assert (await api_a.post("/api/v1/feedback/topics", json={
                "id": "no_roof", "label": {"en": "No roof"}, "phrases": ["dach", "regen"]})).status_code == 201
            assert await eventually(roof_topics_on_b, timeout=10) == [("no_roof", 3)]
            bound = node_b.app.state.feedback.topics_check_seconds
            assert time.monotonic() - promoted_at < bound + 2.0
            # A comment written on node B after that is classified with the topic there, too.
            tx = await charger.charge()
            assert (await rate(api_b, tx, overall=2, comment="Regen tropft aufs Kabel, Dach fehlt")).status_code == 201
            listed = {i["transaction_id"]: i for i in (await api_b.get("/api/v1/feedback")).json()["items"]}
            assert "no_roof" in listed[tx]["topics"]
            await charger.cp.close()
    finally:
        await node_b.stop()
        await node_a.stop()
