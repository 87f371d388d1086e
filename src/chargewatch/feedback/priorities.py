"""Fix-first: which stations to send a technician (or a product fix) to first, and why.

Each station gets three components in [0, 1], combined with `PriorityWeights` into one score:

- rating: dissatisfaction, (5 - mean overall) / 4, where the mean is shrunk towards the network mean
  by `prior_weight` pseudo-ratings so that two 1-star ratings do not outrank two hundred 2-star ones
  (a station without feedback therefore sits at the network mean);
- reliability: half the downtime share of the period, half the incidents per session relative to
  the worst station;
- revenue: revenue at risk (sessions × average price × share of ratings 1-3) relative to the
  station with the most at risk; the share is shrunk towards the network's share by the same
  `prior_weight` pseudo-ratings, so one 1-star rating does not put a whole station's revenue at risk
  the way two hundred 2-star ratings do.

The components, the raw numbers behind them, the top complaint topic and the most frequent fault
are all returned, so the dashboard can explain every position in the ranking.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from chargewatch.feedback.analytics import SATISFIED_MIN
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.topics import TopicClassifier, rank_topics

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class StationOperations:
    """Operational numbers for one station over the ranking period, from sessions, billing and faults.

    `sessions` counts all sessions, rated or not; `fault_counts` is incidents by error code.
    """

    station_id: str
    sessions: int
    average_price: Decimal
    currency: str
    period_seconds: int
    incidents: int = 0
    downtime_seconds: int = 0
    fault_counts: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sessions < 0 or self.incidents < 0 or self.downtime_seconds < 0:
            raise ValueError("counts must not be negative")
        if self.period_seconds <= 0:
            raise ValueError("period_seconds must be positive")
        if not isinstance(self.average_price, Decimal) or self.average_price < 0:
            raise ValueError("average_price must be a non-negative Decimal")


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    rating: float = 0.4
    reliability: float = 0.3
    revenue: float = 0.3


@dataclass(frozen=True, slots=True)
class ScoreComponents:
    rating: float
    reliability: float
    revenue: float


@dataclass(frozen=True, slots=True)
class StationPriority:
    rank: int
    station_id: str
    score: float
    components: ScoreComponents
    feedback_count: int
    mean_overall: float | None
    dissatisfied_share: Decimal
    revenue_at_risk: Decimal
    currency: str | None
    incidents: int
    downtime_seconds: int
    top_topic: str | None
    top_fault: str | None


def rank_stations(
    records: Sequence[FeedbackRecord],
    operations: Sequence[StationOperations],
    *,
    classifier: TopicClassifier | None = None,
    weights: PriorityWeights = PriorityWeights(),
    prior_weight: int = 10,
) -> list[StationPriority]:
    """Stations (from `operations` and from `records`) ranked by score, highest first; ties by id.

    All operations must share one currency: revenue in different currencies cannot be compared.
    A station without operations data scores 0 on reliability and revenue.
    """
    currencies = {ops.currency for ops in operations}
    if len(currencies) > 1:
        raise ValueError(f"operations mix currencies: {', '.join(sorted(currencies))}")
    currency = next(iter(currencies), None)
    ops_by_station = {ops.station_id: ops for ops in operations}
    if len(ops_by_station) != len(operations):
        raise ValueError("operations list a station twice")
    by_station: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        by_station[record.facts.station_id].append(record)
    stations = sorted(set(ops_by_station) | set(by_station))
    prior = sum(r.overall for r in records) / len(records) if records else 3.0

    network_share = _dissatisfied_share(records)
    at_risk = {
        station: _revenue_at_risk(by_station[station], ops_by_station.get(station), network_share, prior_weight)
        for station in stations
    }
    incident_rate = {station: ops.incidents / max(ops.sessions, 1) for station, ops in ops_by_station.items()}
    worst_rate = max(incident_rate.values(), default=0.0)
    worst_risk = max(at_risk.values(), default=Decimal(0))

    priorities = []
    for station in stations:
        station_records = by_station[station]
        ops = ops_by_station.get(station)
        ratings = [r.overall for r in station_records]
        shrunk_mean = (sum(ratings) + prior_weight * prior) / (len(ratings) + prior_weight)
        reliability = 0.0
        if ops is not None:
            downtime_share = min(ops.downtime_seconds / ops.period_seconds, 1.0)
            relative_rate = incident_rate[station] / worst_rate if worst_rate else 0.0
            reliability = 0.5 * downtime_share + 0.5 * relative_rate
        components = ScoreComponents(
            rating=(5 - shrunk_mean) / 4,
            reliability=reliability,
            revenue=float(at_risk[station] / worst_risk) if worst_risk else 0.0,
        )
        score = (
            weights.rating * components.rating
            + weights.reliability * components.reliability
            + weights.revenue * components.revenue
        )
        priorities.append(
            StationPriority(
                rank=0,  # assigned after sorting
                station_id=station,
                score=round(score, 9),
                components=components,
                feedback_count=len(ratings),
                mean_overall=sum(ratings) / len(ratings) if ratings else None,
                dissatisfied_share=_dissatisfied_share(station_records),
                revenue_at_risk=at_risk[station],
                currency=currency,
                incidents=ops.incidents if ops else 0,
                downtime_seconds=ops.downtime_seconds if ops else 0,
                top_topic=_top_topic(station_records, classifier),
                top_fault=_top_fault(station_records, ops),
            )
        )
    priorities.sort(key=lambda priority: (-priority.score, priority.station_id))
    return [replace(priority, rank=rank) for rank, priority in enumerate(priorities, start=1)]


def _dissatisfied_share(records: Sequence[FeedbackRecord]) -> Decimal:
    """Share of overall ratings below 'satisfied' (1-3); 0 when unknown rather than invented."""
    if not records:
        return Decimal(0)
    return Decimal(sum(1 for r in records if r.overall < SATISFIED_MIN)) / Decimal(len(records))


def _shrunk_dissatisfied_share(records: Sequence[FeedbackRecord], network_share: Decimal, prior_weight: int) -> Decimal:
    """Empirical-Bayes style: the station's dissatisfied count plus `prior_weight` pseudo-ratings at the
    network's share, over its ratings plus `prior_weight` (the same shrinkage as the rating component)."""
    dissatisfied = sum(1 for r in records if r.overall < SATISFIED_MIN)
    return (Decimal(dissatisfied) + prior_weight * network_share) / Decimal(len(records) + prior_weight)


def _revenue_at_risk(
    records: Sequence[FeedbackRecord], ops: StationOperations | None, network_share: Decimal, prior_weight: int
) -> Decimal:
    if ops is None or (not records and not network_share):
        return Decimal(0)
    share = _shrunk_dissatisfied_share(records, network_share, prior_weight)
    return (ops.sessions * ops.average_price * share).quantize(CENT)


def _top_topic(records: Sequence[FeedbackRecord], classifier: TopicClassifier | None) -> str | None:
    ranked = rank_topics(records, classifier)
    return ranked[0].topic_id if ranked else None


def _top_fault(records: Sequence[FeedbackRecord], ops: StationOperations | None) -> str | None:
    """The most frequent fault code from operations, else from incidents seen in rated sessions."""
    counts: Counter[str] = Counter(ops.fault_counts) if ops and ops.fault_counts else Counter()
    if not counts:
        counts = Counter(code for record in records for code in record.facts.incident_codes)
    if not counts:
        return None
    return min(counts, key=lambda code: (-counts[code], code))
