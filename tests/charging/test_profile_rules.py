"""The neutral charging profile's rules (OCPP 1.6 §5.16/§7.8, 2.0.1 K01), the operator's limit and a site's shares,
and each version's rendering checked against that version's official schema (the `ocpp` package's JSON schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chargewatch.domain import charging
from chargewatch.domain.charging import Kind, ProfileInvalid, Purpose
from chargewatch.ocpp import schemas
from chargewatch.ocpp.charging import renderer_for
from chargewatch.ocpp.v201 import smart as smart201

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def profile(**changes: object) -> charging.ChargingProfile:
    data = {"connector_id": 1, "purpose": "TxDefault", "stack_level": 0, "kind": "Absolute",
            "schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": 16}]}, **changes}
    return charging.profile_from_json(data, profile_id=7)


def field_of(**changes: object) -> str:
    with pytest.raises(ProfileInvalid) as refused:
        charging.validate(profile(**changes), active_transactions={1: 42}, max_stack_level=8)
    return refused.value.field


def test_a_well_formed_profile_passes_and_round_trips_through_its_json_form():
    p = profile(kind="Recurring", recurrency_kind="Daily", schedule={
        "rate_unit": "W", "duration": 86_400, "start_schedule": "2026-12-02T00:00:00Z",
        "periods": [{"start_period": 0, "limit": 11000}, {"start_period": 21_600, "limit": "3680.5",
                                                          "number_phases": 1}]})
    charging.validate(p)
    assert charging.profile_from_json(charging.profile_to_json(p), 7) == p


@pytest.mark.parametrize(("changes", "field"), [
    ({"stack_level": -1}, "stack_level"),
    ({"stack_level": 9}, "stack_level"),
    ({"connector_id": -1}, "connector_id"),
    ({"purpose": "ChargerMax"}, "connector_id"),
    ({"purpose": "Tx"}, "transaction_id"),
    ({"purpose": "Tx", "transaction_id": 41}, "transaction_id"),
    ({"purpose": "Tx", "transaction_id": 42, "connector_id": 0}, "connector_id"),
    ({"transaction_id": 42}, "transaction_id"),
    ({"kind": "Recurring"}, "recurrency_kind"),
    ({"kind": "Recurring", "recurrency_kind": "Daily"}, "schedule.start_schedule"),
    ({"recurrency_kind": "Weekly"}, "recurrency_kind"),
    ({"valid_from": "2026-12-02T10:00:00Z", "valid_to": "2026-12-02T09:00:00Z"}, "valid_to"),
    ({"schedule": {"rate_unit": "kW", "periods": [{"start_period": 0, "limit": 1}]}}, "schedule.rate_unit"),
    ({"schedule": {"rate_unit": "A", "periods": []}}, "schedule.periods"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 5, "limit": 1}]}},
     "schedule.periods[0].start_period"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": 1}, {"start_period": 0, "limit": 2}]}},
     "schedule.periods[1].start_period"),
    ({"schedule": {"rate_unit": "A", "duration": 60, "periods": [{"start_period": 0, "limit": 1},
                                                                 {"start_period": 60, "limit": 2}]}},
     "schedule.periods[1].start_period"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": "6.05"}]}}, "schedule.periods[0].limit"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": -6}]}}, "schedule.periods[0].limit"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": 6, "number_phases": 0}]}},
     "schedule.periods[0].number_phases"),
    ({"schedule": {"rate_unit": "A", "min_charging_rate": "1.25", "periods": [{"start_period": 0, "limit": 6}]}},
     "schedule.min_charging_rate"),
])
def test_each_broken_rule_names_its_field(changes, field):
    assert field_of(**changes) == field


@pytest.mark.parametrize(("data", "field"), [
    ({"purpose": "Max"}, "purpose"),
    ({"kind": "Sometimes"}, "kind"),
    ({"stack_level": "1"}, "stack_level"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": True}]}}, "schedule.periods[0].limit"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": "NaN"}]}}, "schedule.periods[0].limit"),
    ({"schedule": "16 A"}, "schedule"),
    ({"valid_from": "2026-12-02T10:00:00"}, "valid_from"),
])
def test_malformed_json_names_its_field(data, field):
    with pytest.raises(ProfileInvalid) as refused:
        profile(**data)
    assert refused.value.field == field


def test_the_operator_limit_is_in_watts_unless_the_charger_takes_only_current():
    watts = charging.limit_profile(3, 2, Decimal("7.4"), allowed_units="Current,Power", now=NOW)
    assert (watts.purpose, watts.schedule.rate_unit, watts.schedule.periods) == (
        Purpose.TX_DEFAULT, "W", (charging.SchedulePeriod(0, Decimal("7400.0")),))
    amps = charging.limit_profile(3, 0, Decimal("11"), allowed_units="A", now=NOW)
    assert (amps.purpose, amps.schedule.rate_unit, amps.schedule.periods) == (
        Purpose.CHARGER_MAX, "A", (charging.SchedulePeriod(0, Decimal("15.9"), 3),))  # 11000 / (230 × 3) = 15.94
    single = charging.limit_profile(3, 1, Decimal("3.7"), allowed_units="Current", now=NOW, phases=1)
    assert single.schedule.periods == (charging.SchedulePeriod(0, Decimal("16.0"), 1),)  # 3700 / 230 = 16.08
    assert (amps.kind, amps.stack_level, amps.schedule.start_schedule) == (Kind.ABSOLUTE, 1, NOW)


def test_a_site_limit_is_split_in_equal_shares_rounded_down():
    assert charging.site_shares(Decimal(50), ["b", "a", "c"]) == {"a": Decimal("16.6"), "b": Decimal("16.6"),
                                                                  "c": Decimal("16.6")}
    assert charging.site_shares(Decimal(50), []) == {}
    with pytest.raises(ProfileInvalid):
        charging.site_shares(Decimal("0.1"), ["a", "b"])


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
@pytest.mark.parametrize("purpose", ["ChargerMax", "TxDefault", "Tx"])
def test_each_rendering_meets_the_official_schema(version, purpose):
    p = profile(purpose=purpose, connector_id=0 if purpose == "ChargerMax" else 1, stack_level=3,
                kind="Recurring", recurrency_kind="Weekly", valid_from="2026-12-01T00:00:00Z",
                transaction_id=42 if purpose == "Tx" else None,
                schedule={"rate_unit": "A", "duration": 3600, "start_schedule": "2026-12-01T06:00:00Z",
                          "min_charging_rate": "6.5",
                          "periods": [{"start_period": 0, "limit": 32}, {"start_period": 900, "limit": "10.5",
                                                                         "number_phases": 1}]})
    charging.validate(p, active_transactions={1: 42})
    renderer = renderer_for(version)
    action, payload = renderer.set_profile(p, "42" if version == "ocpp1.6" else "tx-abc")
    name = action if version == "ocpp1.6" else f"{action}Request"
    schemas.validate(version, name, payload, strict=True)
    for call in (renderer.clear_profile(7), renderer.clear_profile(None, 1, Purpose(purpose), 3),
                 renderer.get_composite(1, 600, "W")):
        schemas.validate(version, call[0] if version == "ocpp1.6" else f"{call[0]}Request", call[1], strict=True)
    body = payload["chargingProfile"] if version == "ocpp2.0.1" else payload["csChargingProfiles"]
    schedule = body["chargingSchedule"][0] if version == "ocpp2.0.1" else body["chargingSchedule"]
    assert schedule["chargingSchedulePeriod"][1] == {"startPeriod": 900, "limit": 10.5, "numberPhases": 1}


def test_the_16_renderer_refuses_a_tx_profile_without_an_integer_transaction():
    p = profile(purpose="Tx", transaction_id=42)
    with pytest.raises(ValueError, match="transactionId"):
        renderer_for("ocpp1.6").set_profile(p, "tx-abc")


def test_a_composite_schedule_reads_the_same_from_both_versions():
    start = "2026-12-02T18:00:00.000Z"
    old = renderer_for("ocpp1.6").composite_from(1, {"status": "Accepted", "connectorId": 1, "scheduleStart": start,
                                                      "chargingSchedule": {"duration": 600, "chargingRateUnit": "W",
                                                                           "chargingSchedulePeriod": [
                                                                               {"startPeriod": 0, "limit": 11000.0}]}})
    new = renderer_for("ocpp2.0.1").composite_from(1, {"status": "Accepted", "schedule": {
        "evseId": 1, "duration": 600, "scheduleStart": start, "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}]}})
    assert charging.composite_to_json(old) == charging.composite_to_json(new) == {
        "connector_id": 1, "status": "Accepted", "schedule_start": "2026-12-02T18:00:00+00:00", "duration": 600,
        "rate_unit": "W", "periods": [{"start_period": 0, "limit": "11000"}]}


def test_a_201_report_reads_into_neutral_profiles():
    reported = smart201.profiles_reported({
        "requestId": 5, "chargingLimitSource": "CSO", "evseId": 1, "tbc": True, "chargingProfile": [{
            "id": 9, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 9, "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}]}]}, NOW)
    assert (reported.request_id, reported.connector_id, reported.more_to_come) == (5, 1, True)
    assert reported.profiles[0]["purpose"] == "TxDefault"
    assert reported.profiles[0]["schedule"]["periods"] == [{"start_period": 0, "limit": "16"}]
