"""Grouping driver comments into topics ("cable too short", "zugeparkt"...) and ranking them.

The default classifier is keyword based: each `Topic` lists short phrases, in English and German,
that are matched against the comment after normalisation (case, umlauts, accents, light stemming).
A phrase matches when its words appear in order with at most `MAX_GAP` other words between them,
so "cable too short" also finds "the cable was way too short". A phrase word also matches the end
of a longer word, for German compounds ("kabel" in "Ladekabel"), when it has at least
`COMPOUND_MIN` letters.
Known limit of `KeywordTopics`: negation is not understood ("cable not too short" matches); the
default classifier of the API is `classifier.RuleTopics`, which reads the same topics with negation,
per-topic sentiment and typo tolerance.

Anything with a `topics_of(comment) -> frozenset[str]` method is a `TopicClassifier`, so an
embedding-based grouping can replace `KeywordTopics` without changing the ranking code.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from chargewatch.feedback.errors import FieldError, TopicDefinitionError
from chargewatch.feedback.records import FeedbackRecord

MAX_GAP = 3
COMPOUND_MIN = 4
MIN_STEM = 3
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_APOSTROPHES = re.compile(r"['’`´]")
_WORD = re.compile(r"[a-z0-9]+")
# One pass strips at most one suffix; two passes turn "chargers" into "charg" like "charging".
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ies", "y"),
    ("ing", ""),
    ("ern", ""),
    ("ly", ""),
    ("ed", ""),
    ("en", ""),
    ("er", ""),
    ("es", ""),
    ("e", ""),
    ("s", ""),
    ("n", ""),
)


def stem(word: str) -> str:
    """Crude shared English/German stemmer: plurals and common endings, never below 3 letters.

    It only has to map a phrase and a comment to the same form, not produce real stems.
    """
    for _ in range(2):
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= MIN_STEM:
                word = word[: -len(suffix)] + replacement
                break
        else:
            break
    return word


def normalise(text: str) -> list[str]:
    """Lower-case, spell umlauts as ae/oe/ue/ss, drop other accents and apostrophes, split, stem."""
    folded = text.casefold().translate(_UMLAUTS)
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii")
    return [stem(word) for word in _WORD.findall(_APOSTROPHES.sub("", ascii_text))]


@dataclass(frozen=True, slots=True)
class Topic:
    """A complaint or praise theme: an id, labels per language, and the phrases that signal it."""

    id: str
    label: Mapping[str, str]
    phrases: tuple[str, ...]
    # Used by `RuleTopics` only (the keyword classifier ignores them): phrases that praise the topic
    # ("cable long enough"), and nouns naming what the topic is about ("lamp", "Toilette") so that
    # "lamp broken" or "keine Toilette" become complaints about it rather than about the charger.
    praise: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    # Whether a negated subject is a complaint ("no lights", "kein Café") rather than praise.
    absence_is_complaint: bool = False

    def label_in(self, language: str) -> str:
        return self.label.get(language) or self.label.get("en") or self.id


@dataclass(frozen=True, slots=True)
class TopicMatch:
    topic_id: str
    phrase: str


class TopicClassifier(Protocol):
    def topics_of(self, comment: str) -> frozenset[str]:
        """Ids of the topics a comment is about (empty if none)."""
        ...


def _word_matches(text_word: str, phrase_word: str) -> bool:
    return text_word == phrase_word or (len(phrase_word) >= COMPOUND_MIN and text_word.endswith(phrase_word))


def _contains(words: Sequence[str], phrase: Sequence[str], start: int = 0, first: bool = True) -> bool:
    if not phrase:
        return True
    end = len(words) if first else min(len(words), start + MAX_GAP + 1)
    return any(
        _word_matches(words[index], phrase[0]) and _contains(words, phrase[1:], index + 1, first=False)
        for index in range(start, end)
    )


class KeywordTopics:
    """The default `TopicClassifier`: phrase matching over normalised words."""

    def __init__(self, topics: Iterable[Topic] | None = None) -> None:
        self.topics: tuple[Topic, ...] = tuple(DEFAULT_TOPICS if topics is None else topics)
        self._phrases = [
            (topic.id, phrase, tuple(normalise(phrase))) for topic in self.topics for phrase in topic.phrases
        ]

    def matches(self, comment: str) -> list[TopicMatch]:
        """Every topic found, with the first phrase (in definition order) that found it."""
        words = normalise(comment)
        found: dict[str, TopicMatch] = {}
        for topic_id, phrase, phrase_words in self._phrases:
            if topic_id not in found and phrase_words and _contains(words, phrase_words):
                found[topic_id] = TopicMatch(topic_id, phrase)
        return list(found.values())

    def topics_of(self, comment: str) -> frozenset[str]:
        return frozenset(match.topic_id for match in self.matches(comment))

    def topic(self, topic_id: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.id == topic_id), None)


def _topic(
    topic_id: str,
    english: str,
    german: str,
    phrases: Sequence[str],
    praise: Sequence[str] = (),
    subjects: Sequence[str] = (),
    *,
    absence_is_complaint: bool = False,
) -> Topic:
    return Topic(
        topic_id, {"en": english, "de": german}, tuple(phrases), tuple(praise), tuple(subjects), absence_is_complaint
    )


# "#" in a phrase stands for any number ("only # kw" finds "only 35kW").
DEFAULT_TOPICS: tuple[Topic, ...] = (
    _topic(
        "cable_too_short",
        "Cable too short",
        "Kabel zu kurz",
        [
            "cable too short",
            "short cable",
            "cable does not reach",
            "cable doesnt reach",
            "cable didnt reach",
            "cable not long enough",
            "kabel zu kurz",
            "kurzes kabel",
            "kabel reicht nicht",
            "kabel ist nicht lang genug",
        ],
        ["cable long enough", "kabel lang genug", "kabel reicht locker", "no problem with the cable",
         "kein problem mit kabel"],
    ),
    _topic(
        "slow_charging",
        "Slow charging",
        "Langsames Laden",
        ["slow", "low power", "took forever", "only got # kw", "langsam", "geringe leistung", "wenig leistung",
         "dauert ewig"],
        ["fast", "quick", "full speed", "charged at full", "schnell", "zuegig", "speed ok", "fast enough"],
    ),
    _topic(
        "derated_power",
        "Power below rating",
        "Leistung unter Nennleistung",
        ["derated", "derating", "throttled", "gedrosselt", "drosselt", "# kw on a # kw", "# kw from a # kw",
         "# kw on # kw", "# kw statt # kw", "# kw instead of #", "never went above", "power dropped", "dropped to # kw",
         "drops to # kw", "speed dropped", "fell to # kw", "faellt auf # kw", "auf # kw ein", "leistung schwankt",
         "max on a dc", "an der schnellladesaeule", "power limited"],
        ["not limited", "nicht gedrosselt", "full # kw"],
    ),
    _topic(
        "session_interrupted",
        "Session interrupted",
        "Ladevorgang abgebrochen",
        ["cutting out", "cut out", "cuts out", "keeps stopping", "stopped after", "stops after", "stopped charging",
         "charging stopped", "session stopped", "stopped randomly", "disconnecting", "disconnected", "aborted",
         "interrupted", "rebooted in the middle", "restarted in the middle", "halts", "ground fault",
         "abgebrochen", "bricht ab", "abbruch", "unterbrochen", "hoert auf zu laden", "bootet neu",
         "endet nach", "endet immer nach", "stopped when"],
        ["not interrupted", "nicht unterbrochen"],
    ),
    _topic(
        "payment",
        "Payment problems",
        "Probleme beim Bezahlen",
        [
            "payment",
            "could not pay",
            "couldnt pay",
            "card declined",
            "refused every card",
            "bezahlung",
            "zahlung",
            "nicht bezahlen",
            "nicht zahlen",
            "bezahlen ging nicht",
            "kreditkarte",
        ],
        ["able to pay", "payment worked", "bezahlen ging"],
        ["terminal", "kartenterminal", "card terminal", "payment terminal"],
    ),
    _topic(
        "billing_dispute",
        "Billing dispute",
        "Abrechnung strittig",
        ["charged twice", "billed twice", "billed for", "overcharged", "refund", "money back", "invoice shows",
         "was charged #", "zweimal abgebucht", "doppelt abgebucht", "falscher betrag", "rechnung stimmt nicht",
         "abgerechnet die ich", "berechnet aber", "abgebucht", "but i was charged"],
    ),
    _topic(
        "price_transparency",
        "Price unclear or surprise fees",
        "Preis unklar oder Zusatzgebühren",
        ["hidden fee", "hidden cost", "surprise fee", "unexpected fee", "idle fee", "blocking fee", "extra fee",
         "parking fee", "price wasnt shown", "price not shown", "price is hidden", "not displayed", "price shown",
         "different from what i paid", "versteckte gebuehr", "versteckte kosten", "zusatzgebuehr", "blockiergebuehr",
         "preis nicht angezeigt", "preis wird vorher nicht angezeigt", "nirgends ausgeschildert", "stand nirgends",
         "parkgebuehr"],
        ["pricing is transparent", "price clear", "preis klar", "shown on the screen before"],
    ),
    _topic(
        "account_required",
        "Account or app required",
        "Konto oder App nötig",
        ["create an account", "sign up", "register", "registrieren", "kundenkonto", "konto anlegen",
         "need an app", "need to download", "install an app", "braucht eine app", "ohne app geht",
         "no ad hoc", "no card reader", "keine kartenzahlung", "ein konto"],
        ["dont need an app", "ohne registrierung", "no app needed"],
    ),
    _topic(
        "app",
        "App problems",
        "Probleme mit der App",
        ["app crashed", "app didnt work", "app is a pain", "app wouldnt load", "qr code", "ladeapp",
         "app stuerzt", "app auch nicht", "app not working", "application crashed", "with the app"],
        [],
        ["app"],
    ),
    _topic(
        "card_not_accepted",
        "Charging card not accepted",
        "Ladekarte nicht akzeptiert",
        [
            "rfid",
            "card not accepted",
            "card was not accepted",
            "card not recognised",
            "card not recognized",
            "card wasnt recognised",
            "card not read",
            "accept my card",
            "work with my card",
            "karte nicht akzeptiert",
            "karte wurde nicht akzeptiert",
            "karte nicht erkannt",
            "karte wurde nicht erkannt",
            "karte nicht gelesen",
            "karte wurde abgelehnt",
            "ladekarte funktioniert nicht",
        ],
        [],
        ["card reader", "kartenleser"],
    ),
    _topic(
        "broken",
        "Charger broken",
        "Ladesäule defekt",
        [
            "broken",
            "not working",
            "doesnt work",
            "didnt work",
            "does not work",
            "never works",
            "out of order",
            "out of service",
            "unavailable",
            "defect",
            "faulty",
            "damaged",
            "didnt start",
            "never started",
            "charging failed",
            "doesnt respond",
            "nothing happened",
            "not a single working",
            "defekt",
            "kaputt",
            "beschaedigt",
            "ausser betrieb",
            "funktioniert nicht",
            "hat nicht funktioniert",
            "klappt nicht",
            "startet nicht",
            "ging nicht",
            "geht nicht",
            "nichts geht",
            "nix geht",
            "tot",
            "stoerung",
        ],
        [
            "no problem",
            "no issues",
            "no error",
            "never had a problem",
            "without any problem",
            "works perfect",
            "worked fine",
            "always works",
            "charger worked",
            "charger was fine",
            "charger is great",
            "nothing to complain",
            "reliable",
            "keine probleme",
            "nie probleme",
            "ohne probleme",
            "einwandfrei",
            "funktioniert top",
            "laedt gut",
        ],
        ["charger", "station", "saeule", "ladesaeule", "ladestation", "holster", "cable", "kabel", "stecker"],
    ),
    _topic(
        "blocked",
        "Bay occupied or blocked",
        "Ladeplatz belegt oder zugeparkt",
        [
            "occupied",
            "blocked",
            "iced",
            "ice car",
            "petrol car",
            "diesel car",
            "parked in",
            "parked their",
            "spot taken",
            "diesel",
            "finished charging hours ago",
            "zugeparkt",
            "blockiert",
            "besetzt",
            "belegt",
            "verbrenner",
            "falschparker",
        ],
        ["bay was free", "platz war frei"],
    ),
    _topic(
        "queueing",
        "Queue to charge",
        "Warteschlange",
        ["queue", "wait in line", "always a line", "wait for a free", "waited # min for", "had to wait",
         "warteschlange", "musste warten", "wartezeit", "stand # minuten an"],
        ["walked right up", "sofort laden", "never had to wait", "didnt have to wait"],
    ),
    _topic(
        "dirty",
        "Dirty site",
        "Verschmutzter Standort",
        ["dirty", "filthy", "trash", "litter", "rubbish", "garbage", "smelly", "schmutzig", "dreckig",
         "verschmutzt", "muell", "ekelhaft"],
        ["clean", "sauber"],
    ),
    _topic(
        "lighting",
        "Lighting",
        "Beleuchtung",
        ["dark as hell", "stockdunkel", "dark at night", "nachts dunkel", "flicker", "flackert"],
        ["well lit", "plenty of light", "hell beleuchtet", "gut beleuchtet"],
        ["light", "lights", "lighting", "lamp", "bulb", "beleuchtung", "licht", "lampe"],
        absence_is_complaint=True,
    ),
    _topic(
        "hard_to_find",
        "Hard to find",
        "Schwer zu finden",
        ["hard to find", "couldnt find", "hidden behind", "hard to locate", "signage", "drove around",
         "location is wrong", "impossible to get to", "schwer zu finden", "beschilderung", "lange suchen",
         "versteckt", "standort falsch", "falschen ort", "wo die saeule", "fuehrt ins nichts"],
        ["easy to find", "leicht zu finden", "beschilderung super"],
    ),
    _topic(
        "amenities",
        "Amenities",
        "Angebot vor Ort",
        ["nothing to eat", "nothing to do", "nichts zu essen", "no food"],
        ["lounge", "restaurant", "baecker", "toilets and", "coffee while"],
        ["toilet", "toilets", "cafe", "shops", "food", "vending machine", "toilette", "toiletten", "essen"],
        absence_is_complaint=True,
    ),
    _topic(
        "hotline_unreachable",
        "Hotline unreachable",
        "Hotline nicht erreichbar",
        ["did not pick up", "nobody answered", "nobody answers", "nobody picks up", "rings and rings", "on hold",
         "couldnt reach", "only reachable", "nicht erreichbar", "warteschleife", "geht nie ran", "no help from"],
        ["hotline was", "helpline was", "hotline war"],
    ),
    _topic(
        "price_too_high",
        "Price too high",
        "Preis zu hoch",
        [
            "too expensive",
            "expensive",
            "price too high",
            "overpriced",
            "rip off",
            "zu teuer",
            "teuer",
            "teurer",
            "preis zu hoch",
            "preise zu hoch",
            "abzocke",
            "wucher",
            "unverschaemt",
        ],
        ["cheap", "good value", "price is fair", "preise fair", "price ok", "fair price", "guenstig", "preiswert"],
    ),
    _topic(
        "screen_unreadable",
        "Screen unreadable",
        "Display nicht lesbar",
        [
            "unreadable",
            "cant read the screen",
            "cant read the display",
            "cant read a thing",
            "could not read the screen",
            "couldnt read the screen",
            "impossible to read",
            "glare",
            "reflects",
            "nicht lesbar",
            "unleserlich",
            "kaum lesbar",
            "display spiegelt",
            "spiegelt",
        ],
    ),
    _topic(
        "display_fault",
        "Display dead or frozen",
        "Display ausgefallen",
        ["screen dark", "screen black", "screen blank", "display black", "display is black", "screen dead",
         "went blank", "frozen", "cracked", "display dunkel", "display schwarz", "komplett schwarz",
         "bildschirm dunkel", "bildschirm schwarz", "eingefroren", "zeigt nichts"],
        [],
        ["display", "screen", "bildschirm"],
    ),
    _topic(
        "connector_stuck",
        "Connector stuck",
        "Stecker steckt fest",
        [
            "stuck",
            "would not unlock",
            "wouldnt unlock",
            "would not release",
            "wouldnt release",
            "could not unplug",
            "couldnt unplug",
            "could not plug out",
            "wouldnt come out",
            "lock is jammed",
            "steckt fest",
            "klemmt",
            "entriegelt nicht",
            "nicht entriegelt",
            "nicht entriegeln",
            "nicht abziehen",
            "nicht loesen",
        ],
    ),
)


def parse_topics(raw: object) -> tuple[Topic, ...]:
    """Read an operator's topic list (JSON) and raise `TopicDefinitionError` with paths on problems.

    Format: ``[{"id": "no_roof", "label": {"en": "No roof", "de": "Kein Dach"},
    "phrases": ["no roof", "rain", "kein dach", "regen"]}]``.
    """
    if not isinstance(raw, list):
        raise TopicDefinitionError([FieldError("$", "must be a list of topics")])
    errors: list[FieldError] = []
    topics: list[Topic] = []
    for index, item in enumerate(raw):
        path = f"[{index}]"
        if not isinstance(item, Mapping):
            errors.append(FieldError(path, "must be an object"))
            continue
        topic = _parse_topic(item, path, errors)
        if topic is not None:
            if any(existing.id == topic.id for existing in topics):
                errors.append(FieldError(f"{path}.id", f"duplicates topic id '{topic.id}'"))
            topics.append(topic)
    if errors:
        raise TopicDefinitionError(errors)
    return tuple(topics)


def _parse_topic(item: Mapping[str, Any], path: str, errors: list[FieldError]) -> Topic | None:
    count = len(errors)
    topic_id = item.get("id")
    if not isinstance(topic_id, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", topic_id):
        errors.append(FieldError(f"{path}.id", "must be 1-64 characters of a-z, 0-9, '_' or '-'"))
    label = item.get("label")
    if (
        not isinstance(label, Mapping)
        or not label
        or not all(isinstance(key, str) and isinstance(value, str) and value.strip() for key, value in label.items())
    ):
        errors.append(FieldError(f"{path}.label", "must map language codes to non-empty text"))
    phrases = item.get("phrases")
    if not isinstance(phrases, list) or not phrases:
        errors.append(FieldError(f"{path}.phrases", "must be a non-empty list of phrases"))
    else:
        for phrase_index, phrase in enumerate(phrases):
            if not isinstance(phrase, str) or not normalise(phrase):
                errors.append(FieldError(f"{path}.phrases[{phrase_index}]", "must contain at least one word"))
    if len(errors) > count or not isinstance(label, Mapping) or not isinstance(phrases, list):
        return None
    return Topic(str(topic_id), {str(key): str(value) for key, value in label.items()}, tuple(map(str, phrases)))


def merge_topics(base: Iterable[Topic], extra: Iterable[Topic]) -> tuple[Topic, ...]:
    """Operator topics extend the defaults: a known id gains phrases (and the new labels), a new id
    is appended."""
    merged: dict[str, Topic] = {topic.id: topic for topic in base}
    for topic in extra:
        if topic.id in merged:
            old = merged[topic.id]
            phrases = old.phrases + tuple(phrase for phrase in topic.phrases if phrase not in old.phrases)
            merged[topic.id] = Topic(topic.id, {**old.label, **topic.label}, phrases)
        else:
            merged[topic.id] = topic
    return tuple(merged.values())


class TopicOrder(StrEnum):
    FREQUENCY = "frequency"  # most mentioned first
    IMPACT = "impact"  # most rating points lost first: mentions × rating gap


@dataclass(frozen=True, slots=True)
class TopicRank:
    """How often a topic comes up in a scope (a station, the network) and how it relates to ratings.

    `mean_with` / `mean_without` are mean overall ratings of feedback that mentions / does not
    mention the topic (the latter includes feedback without comment); `rating_gap` is without minus
    with, so a positive gap means mentioning drivers are less happy. `impact` is mentions × gap
    (never negative): the rating points the topic plausibly costs.
    """

    topic_id: str
    mentions: int
    share: float
    mean_with: float
    mean_without: float | None
    rating_gap: float | None
    impact: float


def rank_topics(
    records: Sequence[FeedbackRecord],
    classifier: TopicClassifier | None = None,
    *,
    order: TopicOrder = TopicOrder.FREQUENCY,
    min_mentions: int = 1,
) -> list[TopicRank]:
    """Topics mentioned in `records`' comments, ranked; ties go to the larger gap, then the id.

    `share` is mentions over all feedback with a comment.
    """
    classifier = classifier or KeywordTopics()
    topics_per_record = [
        classifier.topics_of(r.feedback.comment) if r.feedback.comment else frozenset() for r in records
    ]
    commented = sum(1 for record in records if record.feedback.comment)
    ratings: dict[str, list[int]] = defaultdict(list)
    for record, topics in zip(records, topics_per_record, strict=True):
        for topic_id in topics:
            ratings[topic_id].append(record.overall)
    total = sum(record.overall for record in records)
    ranks = []
    for topic_id, with_topic in ratings.items():
        if len(with_topic) < min_mentions:
            continue
        mean_with = sum(with_topic) / len(with_topic)
        others = len(records) - len(with_topic)
        mean_without = (total - sum(with_topic)) / others if others else None
        gap = mean_without - mean_with if mean_without is not None else None
        impact = len(with_topic) * max(gap or 0.0, 0.0)
        ranks.append(
            TopicRank(topic_id, len(with_topic), len(with_topic) / commented, mean_with, mean_without, gap, impact)
        )

    def key(rank: TopicRank) -> tuple[float, float, float, str]:
        gap = rank.rating_gap if rank.rating_gap is not None else 0.0
        if order is TopicOrder.IMPACT:
            return (-rank.impact, -rank.mentions, -gap, rank.topic_id)
        return (-rank.mentions, -gap, -rank.impact, rank.topic_id)

    return sorted(ranks, key=key)


def rank_topics_by_station(
    records: Iterable[FeedbackRecord],
    classifier: TopicClassifier | None = None,
    *,
    order: TopicOrder = TopicOrder.FREQUENCY,
    min_mentions: int = 1,
) -> dict[str, list[TopicRank]]:
    """`rank_topics` for each station, keyed by station id (sorted)."""
    classifier = classifier or KeywordTopics()
    groups: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        groups[record.facts.station_id].append(record)
    return {
        station: rank_topics(groups[station], classifier, order=order, min_mentions=min_mentions)
        for station in sorted(groups)
    }
