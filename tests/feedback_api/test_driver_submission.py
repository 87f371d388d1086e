"""Bad driver input gets a clear 4xx and stores nothing; one feedback per session, editable for a while."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from chargewatch.api.feedback import RateLimit
from chargewatch.sessions.links import session_token
from chargewatch.workers.feedback import config_from_env

from .charging import rate, stored_counts, token_of


async def test_bad_input_is_refused_with_the_field_and_stores_nothing(server, api, plug):
    charger = await plug(server, "CP-BAD")
    done = await charger.charge()
    running = await charger.charge(stop=False)
    await charger.cp.close()

    seven = await rate(api, done, overall=7)
    assert seven.status_code == 422
    assert seven.json()["errors"] == [{"field": "overall", "reason": "must be an integer from 1 to 5"}]
    oversized = await rate(api, done, overall=4, comment="x" * 2001)
    assert oversized.status_code == 422 and oversized.json()["errors"][0]["field"] == "comment"
    several = await rate(api, done, overall=0, would_recommend=11, contact={"email": "not-an-address"}, mood="ok")
    assert {error["field"] for error in several.json()["errors"]} == {
        "overall", "would_recommend", "contact.email", "mood"}
    not_json = await api.put(f"/api/v1/feedback/{await token_of(api, done)}", content=b"{nope",
                             headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422

    forged = await api.put(f"/api/v1/feedback/{done}-AAAAAAAAAAAAAAAAAAAAAA", json={"overall": 5})
    assert forged.status_code == 404
    unknown = await api.put(f"/api/v1/feedback/{session_token(server.services.secret, 999_999)}", json={"overall": 5})
    assert unknown.status_code == 404
    still_charging = await rate(api, running, overall=5)
    assert still_charging.status_code == 409 and "still running" in still_charging.json()["detail"]

    assert stored_counts(server) == (0, 0)


async def test_racing_first_submissions_make_one_feedback(server, api, plug):
    charger = await plug(server, "CP-RACE")
    tx = await charger.charge()
    await charger.cp.close()
    token = await token_of(api, tx)
    answers = await asyncio.gather(*(api.put(f"/api/v1/feedback/{token}", json={"overall": n}) for n in (2, 4)))
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert stored_counts(server) == (1, 0)


async def test_a_second_submission_edits_within_the_window_and_is_refused_after(server, api, plug):
    charger = await plug(server, "CP-EDIT")
    tx = await charger.charge()
    await charger.cp.close()
    first = await rate(api, tx, overall=2, comment="Cable too short")
    assert first.status_code == 201
    submitted_at = first.json()["submission"]["submitted_at"]

    edited = await rate(api, tx, overall=3, comment="Cable too short, but the staff helped")
    assert edited.status_code == 200
    assert edited.json()["submission"]["overall"] == 3
    assert edited.json()["submission"]["submitted_at"] == submitted_at  # editing does not extend the window

    config = server.app.state.feedback
    config.clock = lambda: datetime.now(UTC) + config.policy.edit_window + timedelta(minutes=1)
    late = await rate(api, tx, overall=5, comment="all good now")
    assert late.status_code == 409 and "edit window" in late.json()["detail"]
    shown = (await api.get(f"/api/v1/feedback/{await token_of(api, tx)}")).json()["submission"]
    assert (shown["overall"], shown["comment"]) == (3, "Cable too short, but the staff helped")
    assert stored_counts(server) == (1, 0)


def test_the_edit_window_is_configured_from_the_environment():
    assert config_from_env({"CHARGEWATCH_FEEDBACK_EDIT_HOURS": "2"}).policy.edit_window == timedelta(hours=2)
    assert config_from_env({}).policy.edit_window == timedelta(hours=48)
    assert config_from_env({}).mailer is None


async def test_the_form_shows_the_default_survey_in_the_drivers_language(sqlite_server, sqlite_api, plug):
    charger = await plug(sqlite_server, "CP-FORM")
    tx = await charger.charge()
    await charger.cp.close()
    token = await token_of(sqlite_api, tx)
    form = (await sqlite_api.get(f"/api/v1/feedback/{token}", params={"lang": "de"})).json()
    assert form["survey"]["id"] == "default" and form["submission"] is None
    overall = next(q for q in form["survey"]["questions"] if q["id"] == "overall")
    assert overall["prompt"].startswith("Wie zufrieden") and overall["required"] and overall["answered_as"] == "field"
    assert {f["id"] for f in form["survey"]["extra_fields"]} == {"comment", "would_recommend", "contact.email"}
    assert form["session"]["transaction_id"] == tx and form["session"]["energy_wh"] == 10_000
    documented = (await sqlite_api.get("/openapi.json")).json()["paths"]["/api/v1/feedback/{token}"]["put"]
    assert "overall" in documented["requestBody"]["content"]["application/json"]["schema"]["properties"]


async def test_driver_requests_are_rate_limited_per_address_and_link(sqlite_server, sqlite_api, plug):
    charger = await plug(sqlite_server, "CP-RATE")
    tx = await charger.charge()
    await charger.cp.close()
    token = await token_of(sqlite_api, tx)
    sqlite_server.app.state.feedback.rate_limit = RateLimit(3, timedelta(minutes=1))
    answers = [(await sqlite_api.put(f"/api/v1/feedback/{token}", json={"overall": 9})).status_code for _ in range(4)]
    assert answers == [422, 422, 422, 429]
    refused = await sqlite_api.get(f"/api/v1/feedback/{token}")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert stored_counts(sqlite_server) == (0, 0)
