"""Topic discovery: what drivers write about that no topic covers yet.

Comments the classifier finds nothing in (no complaint, no praise) are grouped per station and ISO
week, then clustered greedily by shared content words: the word (or two-word phrase) found in most
of the group's comments forms a cluster of at least `min_size` comments, those comments leave the
pool, and so on. A cluster carries its key phrase, the other words most of its comments share (the
phrases an operator can promote to a topic in one click) and a few example comments.

A theme *recurs* when clusters with the same key appear in at least `min_weeks` distinct weeks (at
any station) within the window looked at; `recurring_themes` lists those, newest first, for the
drop-alert response.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chargewatch.feedback.classifier import RuleTopics
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.topics import TopicClassifier, normalise

MIN_CLUSTER = 3
MAX_EXAMPLES = 3
MIN_WORD = 3
# Function words and filler of both languages: never a theme on their own.
STOPWORDS = frozenset(
    """
    the a an and or but of to in on at for with from by is are was were be been it its this that there here
    i me my we our you your he she they them his her not no very really just so too also again all any some
    had has have do did does get got can could would will one two three only more most much than then when
    what which who how why where while after before into out over under about like as if up down off
    der die das den dem des ein eine einen einem einer und oder aber ist sind war waren sein es sie er wir ich
    mich mir man nicht kein keine auch noch schon sehr nur mal so zu im in am an auf aus bei mit nach von vor
    fuer um wie was wo wenn dass hier da dann immer wieder leider ganz gibt hat haben wird werden kann
    """.split()
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cluster:
    """Untagged comments of one station and ISO week (``2026-W10``) that share `key`."""

    station_id: str
    week: str
    key: str
    phrases: tuple[str, ...]
    session_ids: tuple[str, ...]
    examples: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.session_ids)

    @property
    def id(self) -> str:
        return f"{self.station_id}:{self.week}:{self.key.replace(' ', '_')}"


@dataclass(frozen=True, slots=True)
class Theme:
    """A cluster key that recurs over weeks: where, when, how many comments, and what drivers wrote."""

    key: str
    phrases: tuple[str, ...]
    weeks: tuple[str, ...]
    stations: tuple[str, ...]
    comments: int
    examples: tuple[str, ...]


def iso_week(record: FeedbackRecord) -> str:
    year, week, _ = record.feedback.submitted_at.isocalendar()
    return f"{year}-W{week:02d}"


def _terms(comment: str) -> set[str]:
    words = [word for word in normalise(comment) if len(word) >= MIN_WORD and not word.isdigit()]
    content = [word for word in words if word not in STOPWORDS]
    bigrams = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a not in STOPWORDS or b not in STOPWORDS}
    return set(content) | {gram for gram in bigrams if all(part not in STOPWORDS for part in gram.split())}


def untagged(records: Iterable[FeedbackRecord], classifier: TopicClassifier | None = None) -> list[FeedbackRecord]:
    """Records with a comment in which the classifier finds no topic at all."""
    classifier = classifier or RuleTopics()
    out = []
    for record in records:
        comment = record.feedback.comment
        if not comment:
            continue
        if isinstance(classifier, RuleTopics):
            if classifier.analyse(comment).mentions:
                continue
        elif classifier.topics_of(comment):
            continue
        out.append(record)
    return out


def _cluster_group(
    station_id: str, week: str, records: Sequence[FeedbackRecord], min_size: int, max_examples: int
) -> list[Cluster]:
    pool = {index: _terms(record.feedback.comment) for index, record in enumerate(records)}
    clusters: list[Cluster] = []
    while True:
        holders: dict[str, set[int]] = defaultdict(set)
        for index, terms in pool.items():
            for term in terms:
                holders[term].add(index)
        candidates = [(len(held), " " in term, term) for term, held in holders.items() if len(held) >= min_size]
        if not candidates:
            return clusters
        # Most comments first; a two-word phrase beats a single word shared by the same comments.
        _, _, key = max(candidates, key=lambda c: (c[0], c[1], [-ord(ch) for ch in c[2]]))
        members = sorted(holders[key])
        member_set = set(members)
        shared = sorted(
            (term for term, held in holders.items() if term != key and len(held & member_set) * 2 > len(members)),
            key=lambda term: (-len(holders[term] & member_set), term),
        )
        clusters.append(
            Cluster(
                station_id,
                week,
                key,
                (key, *shared[:4]),
                tuple(records[index].feedback.session_id for index in members),
                tuple(records[index].feedback.comment for index in members[:max_examples]),
            )
        )
        for index in members:
            del pool[index]


def discover_clusters(
    records: Iterable[FeedbackRecord],
    classifier: TopicClassifier | None = None,
    *,
    min_size: int = MIN_CLUSTER,
    max_examples: int = MAX_EXAMPLES,
) -> list[Cluster]:
    """Clusters of untagged comments per station and week, biggest first (then station, week, key)."""
    if min_size < 2:
        raise ValueError("min_size must be at least 2")
    groups: dict[tuple[str, str], list[FeedbackRecord]] = defaultdict(list)
    for record in untagged(records, classifier):
        groups[(record.station_id, iso_week(record))].append(record)
    clusters = [
        cluster
        for (station, week), group in groups.items()
        for cluster in _cluster_group(station, week, sorted(group, key=lambda r: r.feedback.submitted_at), min_size,
                                      max_examples)
    ]
    return sorted(clusters, key=lambda c: (-c.size, c.station_id, c.week, c.key))


def recurring_themes(clusters: Iterable[Cluster], *, min_weeks: int = 2) -> list[Theme]:
    """Cluster keys seen in at least `min_weeks` distinct weeks; most recent week first, then most comments."""
    by_key: dict[str, list[Cluster]] = defaultdict(list)
    for cluster in clusters:
        by_key[cluster.key].append(cluster)
    themes = []
    for key, found in by_key.items():
        weeks = sorted({cluster.week for cluster in found})
        if len(weeks) < min_weeks:
            continue
        phrases = tuple(dict.fromkeys(phrase for cluster in found for phrase in cluster.phrases))
        examples = tuple(example for cluster in sorted(found, key=lambda c: c.week, reverse=True)
                         for example in cluster.examples)
        themes.append(Theme(key, phrases[:5], tuple(weeks), tuple(sorted({c.station_id for c in found})),
                            sum(cluster.size for cluster in found), examples[:MAX_EXAMPLES]))
    return sorted(themes, key=lambda t: (t.weeks[-1], t.comments), reverse=True)


def topic_id_for(key: str) -> str:
    """A topic id from a cluster key ("kein dach" → "kein_dach")."""
    return re.sub(r"[^a-z0-9_-]+", "_", key.casefold()).strip("_")[:64] or "theme"
