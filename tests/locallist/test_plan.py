"""Planning local list updates (domain/local_list.py) and their 1.6 / 2.0.1 renderings, with plain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargewatch.domain import local_list as ll
from chargewatch.domain.model import ChargerState
from chargewatch.ocpp import v16, v201

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def tags(*names: str, status: str = "Accepted") -> ll.Entries:
    return ll.wanted_entries([{"id_tag": name, "status": status} for name in names], NOW)


def test_an_accepted_tag_past_its_expiry_is_expired_on_the_list():
    wanted = ll.wanted_entries([{"id_tag": "A", "status": "Accepted", "expiry_date": datetime(2026, 1, 1, tzinfo=UTC),
                                 "parent_id_tag": "G"}], NOW)
    assert wanted["A"] == ll.ListEntry("A", "Expired", datetime(2026, 1, 1, tzinfo=UTC), "G")


def test_a_charger_of_unknown_version_gets_a_full_list():
    [update] = ll.plan(None, None, tags("A", "B"), ll.Limits(), last_version=4)
    assert (update.update_type, update.version, [e.id_tag for e in update.entries]) == (ll.UpdateType.FULL, 5,
                                                                                        ["A", "B"])


def test_a_small_change_is_a_differential_with_the_next_version_and_removals_last():
    held = tags(*"ABCDFGH")
    wanted = {**tags(*"ACDFGH"), **tags("B", status="Blocked"), **tags("E")}
    del wanted["D"]
    [update] = ll.plan(held, 7, wanted, ll.Limits(), last_version=7)
    assert update.update_type is ll.UpdateType.DIFFERENTIAL and update.version == 8
    assert [(e.id_tag, e.status) for e in update.entries] == [("B", "Blocked"), ("E", "Accepted"), ("D", None)]
    assert ll.apply(held, update) == wanted


def test_most_of_the_list_changed_is_sent_as_a_full_list():
    [update] = ll.plan(tags("A"), 1, tags("B", "C", "D"), ll.Limits(), last_version=1)
    assert update.update_type is ll.UpdateType.FULL and len(update.entries) == 3


def test_a_charger_holding_the_list_gets_nothing():
    assert ll.plan(tags("A"), 3, tags("A"), ll.Limits(), last_version=3) == []


def test_a_list_longer_than_a_message_is_split_full_first_then_differentials():
    updates = ll.plan(None, None, tags(*"ABCDE"), ll.Limits(per_message=2), last_version=0)
    assert [(u.update_type.value, u.version, len(u.entries)) for u in updates] == [
        ("Full", 1, 2), ("Differential", 2, 2), ("Differential", 3, 1)]
    held = None
    for update in updates:
        held = ll.apply(held, update)
    assert held == tags(*"ABCDE")


def test_a_list_longer_than_the_charger_holds_is_refused():
    with pytest.raises(ll.ListTooLong, match="3 id tags exceed the charger's local list capacity of 2"):
        ll.plan(None, None, tags("A", "B", "C"), ll.Limits(max_entries=2), last_version=0)


def test_an_empty_full_list_clears_the_charger_and_carries_no_entries():
    [update] = ll.plan(tags("A"), 1, {}, ll.Limits(), last_version=1, full=True)
    assert v16.ADAPTER.render_local_list(update).payload == {"listVersion": 2, "updateType": "Full"}
    assert v201.ADAPTER.render_local_list(update).payload == {"versionNumber": 2, "updateType": "Full"}


def test_the_command_api_s_1_6_send_local_list_is_rendered_for_a_2_0_1_station():
    rendered = v201.ADAPTER.render("SendLocalList", {"listVersion": 3, "updateType": "Differential",
                                                     "localAuthorizationList": [
                                                         {"idTag": "A", "idTagInfo": {"status": "Blocked",
                                                                                      "parentIdTag": "G"}},
                                                         {"idTag": "B"}]}, ChargerState("CS"))
    assert rendered.payload == {"versionNumber": 3, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": {"idToken": "A", "type": "ISO14443"},
         "idTokenInfo": {"status": "Blocked", "groupIdToken": {"idToken": "G", "type": "Central"}}},
        {"idToken": {"idToken": "B", "type": "ISO14443"}}]}


def test_answers_are_read_alike_for_both_versions():
    version = ll.LocalListVersionQuery()
    assert v16.ADAPTER.read_local_list(version, {"listVersion": -1}).supported is False
    assert v16.ADAPTER.read_local_list(version, {"listVersion": 4}).version == 4
    assert v201.ADAPTER.read_local_list(version, {"versionNumber": 4}).version == 4
    limits = ll.LocalListLimitsQuery()
    read = v16.ADAPTER.read_local_list(limits, {"configurationKey": [
        {"key": "LocalAuthListMaxLength", "readonly": True, "value": "500"},
        {"key": "SendLocalListMaxLength", "readonly": True, "value": "50"}]})
    assert (read.max_entries, read.per_message) == (500, 50)
    read = v201.ADAPTER.read_local_list(limits, {"getVariableResult": [
        {"attributeStatus": "Accepted", "attributeValue": "25", "component": {"name": "LocalAuthListCtrlr"},
         "variable": {"name": "ItemsPerMessage"}}]})
    assert read.per_message == 25
