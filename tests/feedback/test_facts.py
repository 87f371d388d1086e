from datetime import timedelta
from decimal import Decimal

import pytest

from chargewatch.feedback.facts import FactFlag, FactThresholds, SessionFacts

from .conftest import NOW, build_facts


def test_normal_session_has_no_flags():
    assert build_facts("S").flags() == frozenset()


def test_session_under_half_the_rated_power_is_slow():
    assert FactFlag.SLOW in build_facts("S", avg_power_w=24_999, connector_rating_w=50_000).flags()
    assert FactFlag.SLOW not in build_facts("S", avg_power_w=25_000, connector_rating_w=50_000).flags()


def test_slowness_is_not_guessed_without_a_rating():
    assert FactFlag.SLOW not in build_facts("S", avg_power_w=1_000, connector_rating_w=None).flags()


def test_long_idle_uses_the_threshold():
    facts = build_facts("S", idle_seconds=20 * 60)
    assert FactFlag.LONG_IDLE not in facts.flags()
    assert FactFlag.LONG_IDLE in facts.flags(FactThresholds(long_idle_seconds=15 * 60))


def test_incidents_give_a_general_and_a_per_code_flag():
    flags = build_facts("S", incident_codes=frozenset({"EVCommunicationError"})).flags()
    assert flags == {FactFlag.HAD_INCIDENT, "incident:EVCommunicationError"}


def test_power_loss_stop_counts_as_aborted_but_local_stop_does_not():
    assert FactFlag.ABORTED in build_facts("S", stop_reason="PowerLoss").flags()
    assert FactFlag.ABORTED not in build_facts("S", stop_reason="EVDisconnected").flags()


def test_zero_energy_is_flagged_and_not_also_slow():
    flags = build_facts("S", energy_wh=0, avg_power_w=0).flags()
    assert flags == {FactFlag.ZERO_ENERGY}


def test_facts_round_trip_through_a_json_record():
    facts = build_facts("S", incident_codes=frozenset({"B", "A"}), price=Decimal("12.345"))
    assert SessionFacts.from_record(facts.to_record()) == facts


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        build_facts("S", started_at=NOW.replace(tzinfo=None))


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="ended_at"):
        build_facts("S", ended_at=NOW - timedelta(days=2))


def test_price_must_be_decimal():
    with pytest.raises(ValueError, match="price"):
        build_facts("S", price=15.9)
