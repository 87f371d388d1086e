"""Rule-based understanding of driver comments: topics with a sentiment each, negation, typos.

`KeywordTopics` finds a topic wherever one of its phrases occurs, so "Cable not too short" was a
complaint about the cable and "Beleuchtung kaputt" a broken charger. `RuleTopics` reads the same
`Topic` definitions but works per clause (split at punctuation and at "but"/"aber"/...):

- Negation: a cue (EN not/no/never/without/...n't, DE nicht/kein*/nie/ohne/nichts) up to
  `NEGATION_REACH` words before a phrase, or between its words, flips it: a negated complaint is
  praise ("price not too high"), negated praise a complaint ("nicht schnell"). Cues that are part of
  the phrase itself ("not working", "kein Problem mit dem Kabel") do not count.
- Sentiment per topic: complaint phrases, praise phrases, and subjects ("lamp", "Toilette"). A
  negated subject of a topic where absence hurts is a complaint ("no lights", "kein Café").
- Attribution: a generic defect word ("kaputt", "broken") belongs to the nearest subject in its
  clause, so "Beleuchtung kaputt" is about lighting and "card reader broken" about the card, while
  "Säule kaputt" or a bare "defekt" stays a broken charger.
- Typos: a comment word that is no known word is replaced by the closest phrase word within one
  edit (two for long words; transpositions count as one) using rapidfuzz's OSA distance.

Measured on tests/feedback/data/comments_eval.jsonl by bench/feedback_classifier.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import process
from rapidfuzz.distance import OSA

from chargewatch.feedback.topics import COMPOUND_MIN, DEFAULT_TOPICS, MAX_GAP, Topic, TopicMatch, stem

NEGATION_REACH = 4
FUZZY_MIN_LENGTH = 5
BROKEN = "broken"
NUMBER = "#"

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_APOSTROPHES = re.compile(r"['’`´]")
_DIGITS_LETTERS = re.compile(r"(\d)([a-z])")
_CLAUSE = re.compile(r"[.,;:!?()\n\"]+|\s[-–]\s")
_WORD = re.compile(r"[a-z0-9]+")
_BREAK_WORDS = frozenset({"but", "though", "however", "although", "aber", "doch", "jedoch", "sondern", "then", "dann"})
NEGATION_CUES = frozenset(
    {
        "not", "no", "never", "without", "nor", "neither", "none", "nothing",
        "dont", "doesnt", "didnt", "isnt", "wasnt", "werent", "arent", "cant", "couldnt", "wouldnt", "wont",
        "shouldnt", "hasnt", "havent", "hadnt", "aint",
        "nicht", "kein", "keine", "keinen", "keiner", "keinem", "keines", "nie", "niemals", "ohne", "nichts", "nix",
    }
)  # fmt: skip
POSITIVE_CUES = frozenset(
    {"good", "great", "nice", "super", "top", "perfect", "excellent", "love", "loved", "amazing", "helpful",
     "gut", "prima", "toll", "schoen", "klasse", "freundlich", "bestens", "lovely", "appreciate"}
)  # fmt: skip

# Words that make a mentioned subject a complaint ("toilets were closed", "lights off").
PROBLEM_CUES = frozenset({"closed", "geschlossen", "off", "aus", "empty", "leer", "terrible", "missing", "fehlt"})


class Sentiment(StrEnum):
    COMPLAINT = "negative"
    PRAISE = "positive"


@dataclass(frozen=True, slots=True)
class Mention:
    """One topic in one comment: whether the driver complains about it or praises it, and whether
    that reading came from a negation ("not too short" is praise, `negated` True)."""

    topic_id: str
    sentiment: Sentiment
    negated: bool
    phrase: str


@dataclass(frozen=True, slots=True)
class Analysis:
    mentions: tuple[Mention, ...] = ()

    @property
    def complaints(self) -> frozenset[str]:
        return frozenset(m.topic_id for m in self.mentions if m.sentiment is Sentiment.COMPLAINT)

    @property
    def praised(self) -> frozenset[str]:
        return frozenset(m.topic_id for m in self.mentions if m.sentiment is Sentiment.PRAISE) - self.complaints

    def sentiments(self) -> dict[str, Sentiment]:
        """Each topic's sentiment; a topic both praised and criticised counts as a complaint."""
        out = {topic: Sentiment.PRAISE for topic in self.praised}
        out.update({topic: Sentiment.COMPLAINT for topic in self.complaints})
        return out


@dataclass(frozen=True, slots=True)
class _Token:
    raw: str
    stem: str


@dataclass(frozen=True, slots=True)
class _Hit:
    topic_id: str
    kind: str  # "complaint", "praise" or "subject"
    phrase: str
    positions: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.positions[0]


def _fold(text: str) -> str:
    folded = text.casefold().translate(_UMLAUTS)
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii")
    return _DIGITS_LETTERS.sub(r"\1 \2", _APOSTROPHES.sub("", ascii_text))


def _phrase_words(phrase: str) -> tuple[str, ...]:
    return tuple(NUMBER if word.isdigit() else stem(word) for word in _WORD.findall(_fold(phrase.replace("#", " 0 "))))


def _word_matches(text_word: str, phrase_word: str) -> bool:
    return text_word == phrase_word or (len(phrase_word) >= COMPOUND_MIN and text_word.endswith(phrase_word))


def _find(words: Sequence[str], phrase: Sequence[str]) -> tuple[int, ...] | None:
    """Positions of the first occurrence of `phrase` in `words`, at most MAX_GAP words between its words."""

    def rest(start: int, index: int) -> tuple[int, ...] | None:
        if index == len(phrase):
            return ()
        for position in range(start, min(len(words), start + MAX_GAP + 1)):
            if _word_matches(words[position], phrase[index]):
                tail = rest(position + 1, index + 1)
                if tail is not None:
                    return (position, *tail)
        return None

    for position, word in enumerate(words):
        if _word_matches(word, phrase[0]):
            tail = rest(position + 1, 1)
            if tail is not None:
                return (position, *tail)
    return None


class RuleTopics:
    """A `TopicClassifier` that understands negation, per-topic sentiment and typos.

    `topics_of` returns the topics a comment complains about; `analyse` gives every mention.
    """

    def __init__(self, topics: Iterable[Topic] | None = None) -> None:
        self.topics = tuple(DEFAULT_TOPICS if topics is None else topics)
        self._by_id = {topic.id: topic for topic in self.topics}
        self._phrases: list[tuple[str, str, str, tuple[str, ...]]] = []
        for topic in self.topics:
            for kind, phrases in (("complaint", topic.phrases), ("praise", topic.praise), ("subject", topic.subjects)):
                for phrase in phrases:
                    words = _phrase_words(phrase)
                    if words:
                        self._phrases.append((topic.id, kind, phrase, words))
        known = {word for *_, words in self._phrases for word in words if word != NUMBER}
        self._known = frozenset(known)
        self._vocabulary = sorted(known)
        self._corrections: dict[str, str] = {}

    # ---------------------------------------------------------------- the TopicClassifier protocol

    def topics_of(self, comment: str) -> frozenset[str]:
        return self.analyse(comment).complaints

    def topic(self, topic_id: str) -> Topic | None:
        return self._by_id.get(topic_id)

    def matches(self, comment: str) -> list[TopicMatch]:
        """The complaints found, with the phrase that found each (the first one)."""
        found: dict[str, TopicMatch] = {}
        for mention in self.analyse(comment).mentions:
            if mention.sentiment is Sentiment.COMPLAINT and mention.topic_id not in found:
                found[mention.topic_id] = TopicMatch(mention.topic_id, mention.phrase)
        return list(found.values())

    # ---------------------------------------------------------------- analysis

    def analyse(self, comment: str) -> Analysis:
        mentions: list[Mention] = []
        for clause in self._clauses(comment):
            mentions.extend(self._clause_mentions(clause))
        return Analysis(tuple(mentions))

    def _correct(self, word: str) -> str:
        if word in self._known or word == NUMBER or len(word) < FUZZY_MIN_LENGTH or not word.isalpha():
            return word
        if word not in self._corrections:
            cutoff = 1 if len(word) < 8 else 2
            best = process.extractOne(word, self._vocabulary, scorer=OSA.distance, score_cutoff=cutoff)
            self._corrections[word] = best[0] if best is not None and abs(len(best[0]) - len(word)) <= cutoff else word
        return self._corrections[word]

    def _clauses(self, comment: str) -> list[list[_Token]]:
        clauses: list[list[_Token]] = []
        for part in _CLAUSE.split(_fold(comment)):
            current: list[_Token] = []
            for raw in _WORD.findall(part):
                if raw in _BREAK_WORDS:
                    if current:
                        clauses.append(current)
                    current = []
                    continue
                if raw.isdigit():
                    current.append(_Token(raw, NUMBER))
                elif raw in NEGATION_CUES:
                    current.append(_Token(raw, stem(raw)))
                else:
                    current.append(_Token(raw, self._correct(stem(raw))))
            if current:
                clauses.append(current)
        return clauses

    def _hits(self, clause: list[_Token]) -> list[_Hit]:
        words = [token.stem for token in clause]
        hits = []
        for topic_id, kind, phrase, phrase_words in self._phrases:
            positions = _find(words, phrase_words)
            if positions is not None:
                hits.append(_Hit(topic_id, kind, phrase, positions))
        # A phrase inside a longer phrase of another topic or kind ("not working" in "app not working") yields to it.
        kept = []
        for hit in hits:
            covered = set(hit.positions)
            if not any(
                other is not hit
                and len(other.positions) > len(hit.positions)
                and covered <= set(range(other.first, other.positions[-1] + 1))
                and (other.topic_id != hit.topic_id or other.kind != hit.kind)
                for other in hits
            ):
                kept.append(hit)
        return kept

    @staticmethod
    def _negated(clause: list[_Token], hit: _Hit) -> bool:
        inside = set(hit.positions)
        for index, token in enumerate(clause):
            if token.raw not in NEGATION_CUES or index in inside:
                continue
            if hit.first - NEGATION_REACH <= index < hit.first or hit.first < index < hit.positions[-1]:
                return True
        return False

    def _clause_mentions(self, clause: list[_Token]) -> list[Mention]:
        hits = self._hits(clause)
        subjects = [hit for hit in hits if hit.kind == "subject"]
        positive = any(token.stem in POSITIVE_CUES or token.raw in POSITIVE_CUES for token in clause)
        problem = any(token.raw in PROBLEM_CUES for token in clause)
        mentions: list[Mention] = []
        explained: set[str] = set()
        for hit in hits:
            if hit.kind == "subject":
                continue
            negated = self._negated(clause, hit)
            topic_id = hit.topic_id
            if topic_id == BROKEN and hit.kind == "complaint" and subjects:
                nearest = min(subjects, key=lambda s: (abs(s.first - hit.first), s.topic_id != BROKEN))
                topic_id = nearest.topic_id
            complaint = (hit.kind == "complaint") != negated
            sentiment = Sentiment.COMPLAINT if complaint else Sentiment.PRAISE
            mentions.append(Mention(topic_id, sentiment, negated, hit.phrase))
            explained.add(topic_id)
        for hit in subjects:
            topic = self._by_id[hit.topic_id]
            if hit.topic_id in explained:
                continue
            if topic.absence_is_complaint and self._negated(clause, hit):
                mentions.append(Mention(hit.topic_id, Sentiment.COMPLAINT, True, hit.phrase))
                explained.add(hit.topic_id)
            elif problem and hit.topic_id != BROKEN:
                mentions.append(Mention(hit.topic_id, Sentiment.COMPLAINT, False, hit.phrase))
                explained.add(hit.topic_id)
            elif positive and hit.topic_id != BROKEN and not self._negated(clause, hit):
                mentions.append(Mention(hit.topic_id, Sentiment.PRAISE, False, hit.phrase))
                explained.add(hit.topic_id)
        return mentions
