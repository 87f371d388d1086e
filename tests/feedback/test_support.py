"""Support domain: messages, site records, the 'still stuck' line, the screen text and response times."""

from datetime import UTC, datetime, timedelta

import pytest

from chargewatch.feedback.errors import FieldValidationError
from chargewatch.feedback.support import (
    ConversationTimes,
    SiteSupport,
    parse_message,
    parse_site_support,
    response_times,
    screen_text_with_helpline,
    still_stuck,
)

SITE = SiteSupport("BER-1", "+49 30 1234567", "Mon-Fri 08:00-20:00", ("de", "en"))
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_message_is_cleaned_and_an_empty_one_refused():
    assert parse_message({"body": "  Cable stuck\r\nplease help "}) == "Cable stuck\nplease help"
    with pytest.raises(FieldValidationError) as refused:
        parse_message({"body": "   "})
    assert refused.value.errors[0].field == "body"


def test_a_site_record_names_every_wrong_field_at_once():
    with pytest.raises(FieldValidationError) as refused:
        parse_site_support("BER-1", {"helpline": "call us", "hours": "", "languages": ["deutsch"]})
    assert [e.field for e in refused.value.errors] == ["helpline", "hours", "languages"]


def test_still_stuck_names_the_helpline_hours_and_chat_in_the_drivers_language():
    assert still_stuck(SITE, "en") == ("Still stuck? Call +49 30 1234567 (Mon-Fri 08:00-20:00) "
                                       "or chat with us on your session page.")
    assert still_stuck(SITE, "de").startswith("Immer noch Probleme? Rufen Sie +49 30 1234567 an")
    assert still_stuck(None) is None


def test_the_screen_text_is_shortened_rather_than_the_helpline():
    long = "Cable lock problem. " * 8
    text = screen_text_with_helpline(long, SITE, 120)
    assert len(text) <= 120 and text.endswith("… Help: +49 30 1234567")
    assert screen_text_with_helpline("Ready.", None, 120) == "Ready."


def test_response_times_per_station_count_waiting_conversations_without_inventing_times():
    found = response_times([
        ConversationTimes("A", T0, T0 + timedelta(minutes=4), T0 + timedelta(hours=1)),
        ConversationTimes("A", T0, T0 + timedelta(minutes=10), None),
        ConversationTimes("A", T0, None, None),
        ConversationTimes("B", T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)),
    ])
    a, b = found
    assert (a.station_id, a.conversations, a.waiting_for_first_response, a.unresolved) == ("A", 3, 1, 2)
    assert (a.median_first_response_seconds, a.median_resolution_seconds) == (420.0, 3600.0)
    assert (b.median_first_response_seconds, b.max_first_response_seconds) == (60.0, 60.0)
