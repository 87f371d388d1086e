"""Which driver comments report a fault of the charger, so that feedback can open or join an incident.

Only complaints about something broken on the charger count (broken, connector stuck, session cut
off, power below rating, display dead, payment terminal or card reader failing). Lighting, glare on
the screen, price, a blocked bay, a negated complaint ("keine Störung wie letzte Woche") and billing
disputes are for the ratings or the billing review queue, not for a technician.

`fault_report` cross-checks the words with the session's telemetry: an aborted stop reason or an
incident code corroborates a report; a complaint about slow charging becomes a derating fault only
when the session really ran under its rating, and a derating claim is dropped when telemetry shows
the session at (nearly) full rated power.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargewatch.feedback.classifier import RuleTopics
from chargewatch.feedback.facts import DEFAULT_THRESHOLDS, FactThresholds, SessionFacts
from chargewatch.feedback.topics import TopicClassifier

# Most urgent first: the first one found names the report's category.
FAULT_TOPICS: tuple[str, ...] = (
    "connector_stuck",
    "session_interrupted",
    "broken",
    "derated_power",
    "display_fault",
    "payment",
    "card_not_accepted",
)
BILLING_DISPUTE = "billing_dispute"
DERATED = "derated_power"
SLOW = "slow_charging"
INTERRUPTED = "session_interrupted"


_DEFAULT: list[RuleTopics] = []


def _default() -> RuleTopics:
    """One shared default classifier (building one reads every phrase; its typo cache is worth keeping)."""
    if not _DEFAULT:
        _DEFAULT.append(RuleTopics())
    return _DEFAULT[0]


def reported_faults(comment: str | None, classifier: TopicClassifier | None = None) -> tuple[str, ...]:
    """The fault topics a comment complains about, most urgent first (empty if it reports none)."""
    if not comment:
        return ()
    found = (classifier or _default()).topics_of(comment)
    return tuple(topic for topic in FAULT_TOPICS if topic in found)


@dataclass(frozen=True, slots=True)
class FaultReport:
    """What a comment means for the faults and billing domains.

    `categories` (most urgent first) open or join an incident when non-empty; `corroborated` lists the
    telemetry facts that back the report; `billing_dispute` sends the session to billing review.
    """

    categories: tuple[str, ...]
    corroborated: tuple[str, ...]
    billing_dispute: bool

    @property
    def opens_incident(self) -> bool:
        return bool(self.categories)


def _runs_at_rating(facts: SessionFacts) -> bool:
    """Telemetry shows the session near its rated power (so 'only 40 kW' is not the charger's fault)."""
    if facts.peak_power_w is None or not facts.connector_rating_w:
        return False
    return facts.peak_power_w >= 0.9 * facts.connector_rating_w


def fault_report(
    comment: str | None,
    facts: SessionFacts | None,
    classifier: TopicClassifier | None = None,
    thresholds: FactThresholds = DEFAULT_THRESHOLDS,
) -> FaultReport:
    if not comment:
        return FaultReport((), (), False)
    classifier = classifier or _default()
    complaints = classifier.topics_of(comment)
    categories = [topic for topic in FAULT_TOPICS if topic in complaints]
    corroborated: list[str] = []
    if facts is not None:
        slow = facts.is_slow(thresholds)
        if SLOW in complaints and slow and DERATED not in categories:
            categories.append(DERATED)
        if DERATED in categories and _runs_at_rating(facts) and not slow:
            categories.remove(DERATED)
        if slow and DERATED in categories:
            corroborated.append("slow")
        if facts.was_aborted:
            corroborated.append(f"stop_reason:{facts.stop_reason}")
        corroborated.extend(f"incident:{code}" for code in sorted(facts.incident_codes))
    ordered = tuple(topic for topic in FAULT_TOPICS if topic in categories)
    return FaultReport(ordered, tuple(corroborated) if ordered else (), BILLING_DISPUTE in complaints)
