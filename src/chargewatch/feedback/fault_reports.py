"""Which driver comments report a fault of the charger, so that feedback can open or join an incident.

Only topics that describe something broken on the operator's side count ("charger broken", "connector
stuck", payment or card reader failing, screen unreadable); complaints about price, a blocked bay or
a short cable are for the ratings, not for a technician.
"""

from __future__ import annotations

from chargewatch.feedback.topics import KeywordTopics, TopicClassifier

# Most urgent first: the first one found names the report's category.
FAULT_TOPICS: tuple[str, ...] = ("connector_stuck", "broken", "payment", "card_not_accepted", "screen_unreadable")


def reported_faults(comment: str, classifier: TopicClassifier | None = None) -> tuple[str, ...]:
    """The fault topics a comment reports, most urgent first (empty if it reports none)."""
    if not comment:
        return ()
    found = (classifier or KeywordTopics()).topics_of(comment)
    return tuple(topic for topic in FAULT_TOPICS if topic in found)
