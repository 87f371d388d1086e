"""Small samples are honest over HTTP: floors on minimum sizes, n and a Wilson interval beside percentages."""

import pytest


@pytest.mark.parametrize(("path", "parameter"), [
    ("/api/v1/feedback/analytics/drops", "min_sample"),
    ("/api/v1/feedback/analytics/insights", "min_group"),
])
async def test_a_minimum_sample_of_one_is_refused_naming_the_parameter(api, path, parameter):
    answer = await api.get(path, params={parameter: 1})
    assert answer.status_code == 422
    assert parameter in answer.text


async def test_drops_report_counts_intervals_and_the_persistence_rule(api):
    answer = await api.get("/api/v1/feedback/analytics/drops", params={"min_sample": 10, "persistence": 3})
    assert answer.status_code == 200
    network = answer.json()["network"]
    assert {"recent_count", "recent_low", "recent_high", "baseline_low", "q_value", "persisted_checks",
            "explanation"} <= set(network)


async def test_the_openapi_document_describes_the_interval_fields(api):
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    assert {"csat_low", "csat_high"} <= set(schemas["StationScoresOut"]["properties"])
    assert {"share_low", "share_high", "commented"} <= set(schemas["TopicOut"]["properties"])
    assert {"explanation", "charger_id", "cusum"} <= set(schemas["DropOut"]["properties"])
