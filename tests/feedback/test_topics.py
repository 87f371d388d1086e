import pytest

from chargewatch.feedback.errors import TopicDefinitionError
from chargewatch.feedback.topics import (
    DEFAULT_TOPICS,
    KeywordTopics,
    TopicOrder,
    merge_topics,
    normalise,
    parse_topics,
    rank_topics,
    rank_topics_by_station,
)

CABLE_COMPLAINTS = [
    "Cable too short, had to park crooked",
    "The cable is way too short for my Model 3",
    "cables are too short at this site",
    "Kabel zu kurz!",
    "Das Ladekabel ist leider viel zu kurz",
    "Kabel reicht nicht bis zur Ladeklappe",
    "Short cable again, annoying",
    "kurzes Kabel, nervig",
]


@pytest.fixture
def classifier():
    return KeywordTopics()


def test_umlauts_and_their_ascii_spelling_normalise_alike():
    assert normalise("Müll") == normalise("Muell") == normalise("MÜLL")


def test_plural_and_singular_normalise_alike():
    assert normalise("cables") == normalise("cable")
    assert normalise("Kabeln") == normalise("Kabel")


@pytest.mark.parametrize("comment", CABLE_COMPLAINTS)
def test_cable_complaints_are_found_in_english_and_german(classifier, comment):
    assert "cable_too_short" in classifier.topics_of(comment)


@pytest.mark.parametrize(
    ("comment", "topic"),
    [
        ("Lädt extrem langsam", "slow_charging"),
        ("charging was slower than advertised", "slow_charging"),
        ("RFID card not accepted", "card_not_accepted"),
        ("Meine Ladekarte wurde nicht erkannt", "card_not_accepted"),
        ("Säule defekt", "broken"),
        ("out of order again", "broken"),
        ("Platz war zugeparkt", "blocked"),
        ("bay ICEd by a petrol car", "blocked"),
        ("dreckig und voller Müll", "dirty"),
        ("viel zu teuer", "price_too_high"),
        ("Display in der Sonne kaum lesbar", "screen_unreadable"),
        ("Stecker steckt fest", "connector_stuck"),
        ("connector got stuck in my car", "connector_stuck"),
        ("App crashed during payment", "app"),
    ],
)
def test_default_topics_cover_common_complaints(classifier, comment, topic):
    assert topic in classifier.topics_of(comment)


def test_praise_matches_no_topic(classifier):
    assert classifier.topics_of("Great location, quick and easy") == frozenset()


def test_words_too_far_apart_do_not_form_a_phrase(classifier):
    assert "cable_too_short" not in classifier.topics_of("cable was fine, the queue was long and too short breaks")


def test_match_reports_the_phrase_that_found_it(classifier):
    [match] = classifier.matches("Kabel zu kurz")
    assert (match.topic_id, match.phrase) == ("cable_too_short", "kabel zu kurz")


def test_operator_topics_extend_the_defaults():
    extra = parse_topics([{"id": "no_roof", "label": {"en": "No roof"}, "phrases": ["no roof", "kein dach"]}])
    classifier = KeywordTopics(merge_topics(DEFAULT_TOPICS, extra))
    assert classifier.topics_of("Kein Dach, im Regen gestanden") == {"no_roof"}
    assert "cable_too_short" in classifier.topics_of("Kabel zu kurz")


def test_operator_phrases_join_an_existing_topic():
    extra = parse_topics([{"id": "cable_too_short", "label": {"en": "Cable too short"}, "phrases": ["cable short"]}])
    classifier = KeywordTopics(merge_topics(DEFAULT_TOPICS, extra))
    assert "cable_too_short" in classifier.topics_of("cable short")


def test_invalid_topic_definitions_report_paths():
    with pytest.raises(TopicDefinitionError) as caught:
        parse_topics([{"id": "Bad Id", "label": {"en": "x"}, "phrases": ["ok", "!!"]}])
    assert [error.field for error in caught.value.errors] == ["[0].id", "[0].phrases[1]"]


def test_planted_recurring_complaint_ranks_first_for_its_station(make_record):
    records = [make_record(2, comment, station_id="ST-7") for comment in CABLE_COMPLAINTS]
    records += [
        make_record(3, "a bit slow", station_id="ST-7"),
        make_record(2, "zu teuer", station_id="ST-7"),
        make_record(3, "Preise zu hoch", station_id="ST-7"),
        make_record(5, "", station_id="ST-7"),
        make_record(5, "perfect", station_id="ST-7"),
    ]
    records += [make_record(1, "zugeparkt", station_id="ST-2") for _ in range(12)]
    ranking = rank_topics_by_station(records)
    station = ranking["ST-7"]
    assert station[0].topic_id == "cable_too_short"
    assert station[0].mentions == len(CABLE_COMPLAINTS)
    assert ranking["ST-2"][0].topic_id == "blocked"


def test_topic_rank_reports_rating_with_and_without(make_record):
    records = [make_record(1, "kaputt"), make_record(2, "broken"), make_record(5, ""), make_record(4, "fine")]
    [broken] = rank_topics(records)
    assert (broken.mentions, broken.mean_with, broken.mean_without, broken.rating_gap) == (2, 1.5, 4.5, 3.0)
    assert broken.share == pytest.approx(2 / 3)
    assert broken.impact == 6.0


def test_impact_order_puts_costly_topics_before_frequent_mild_ones(make_record):
    records = [make_record(4, "a bit slow") for _ in range(4)]
    records += [make_record(1, "defekt") for _ in range(3)]
    records += [make_record(5, "") for _ in range(5)]
    assert rank_topics(records)[0].topic_id == "slow_charging"
    assert rank_topics(records, order=TopicOrder.IMPACT)[0].topic_id == "broken"


def test_any_classifier_with_topics_of_can_be_plugged_in(make_record):
    class LengthClassifier:
        def topics_of(self, comment: str) -> frozenset[str]:
            return frozenset({"long"}) if len(comment) > 10 else frozenset()

    records = [make_record(2, "a long long comment"), make_record(5, "short")]
    assert [rank.topic_id for rank in rank_topics(records, LengthClassifier())] == ["long"]
