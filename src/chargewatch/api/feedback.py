"""Feedback over HTTP: the driver's form, authenticated by the session's link token, and the operator's
side (reading and answering feedback, surveys, analytics, CSV export).

The driver token is the session's driver link token (`sessions/links.py`): it is already printed on
the receipt and QR code, is unguessable without the instance secret, and needs no table of its own.
A station is a charger for now (one charger = one station).

Errors: bad driver input or survey definitions answer 422 with ``{"detail": [{"field", "reason"}]}``
(every problem at once); a session that cannot take feedback (still running, edit window closed)
409; an unknown or forged token 404; too many requests 429 with Retry-After. Nothing is stored when
a request fails.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from ..domain.events import BillingDisputed, FaultReported
from ..feedback.analytics import (
    Csat,
    DropCheck,
    DropRule,
    FlagShift,
    Scores,
    detect_csat_drop,
    detect_csat_drops_by_station,
    export_csv,
    scores_by_connector,
    scores_by_station,
    weekly_trend,
)
from ..feedback.classifier import RuleTopics
from ..feedback.discovery import Cluster, Theme, discover_clusters, recurring_themes, topic_id_for
from ..feedback.errors import FieldError, FieldValidationError, TopicDefinitionError
from ..feedback.facts import SessionFacts
from ..feedback.fault_reports import fault_report
from ..feedback.freetext import clean_free_text
from ..feedback.insights import InsightRule, compare_facts, insights
from ..feedback.priorities import rank_stations
from ..feedback.records import FeedbackRecord
from ..feedback.significance import wilson_interval
from ..feedback.submission import MAX_COMMENT_LENGTH, EditPolicy, SubmissionAction, normalise_email, parse_submission
from ..feedback.surveys import DEFAULT_SURVEY, Survey, parse_survey, survey_for_session
from ..feedback.topics import KeywordTopics, TopicOrder, merge_topics, parse_topics, rank_topics
from ..gateway.events import EventBus
from ..notify.inbound import SupportAddress
from ..sessions.links import transaction_of
from ..store import feedback as store
from .errors import error_responses
from .models import ConnectorNumber, Offset, SampleFloor, Threshold, Timestamp, TransactionId

log = logging.getLogger(__name__)

Mailer = Callable[[EmailMessage], None]  # blocking; called in a worker thread
MAX_REPLY_LENGTH = 5000
RESERVED_SURVEY_IDS = frozenset({DEFAULT_SURVEY.id})


def utcnow() -> datetime:
    return datetime.now(UTC)


class RateLimit:
    """At most `limit` requests per key in any `window` (sliding log); memory bounded by pruning idle keys."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[tuple[str, str], deque[datetime]] = {}

    def retry_after(self, key: tuple[str, str], now: datetime) -> float | None:
        """Record a request; None if it is allowed, else the seconds until it would be."""
        if len(self._hits) > 10_000:
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.window}
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return (hits[0] + self.window - now).total_seconds()
        hits.append(now)
        return None


@dataclass
class FeedbackConfig:
    """What the feedback routes need besides the database; tests may change it on a running server."""

    policy: EditPolicy = field(default_factory=EditPolicy)
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(20, timedelta(minutes=1)))
    mailer: Mailer | None = None
    clock: Callable[[], datetime] = utcnow
    classifier: KeywordTopics | RuleTopics = field(default_factory=RuleTopics)
    topics_check_seconds: float = 2.0  # how stale another node's promoted topic may be here (0: every request)
    support_address: SupportAddress | None = None  # Reply-To/Message-ID of driver mail (support by e-mail)


# ------------------------------------------------------------------ shapes (also the OpenAPI document)


class OptionOut(BaseModel):
    id: str
    label: str


class QuestionOut(BaseModel):
    id: str
    kind: str
    prompt: str
    required: bool
    options: list[OptionOut] = []
    max_length: int | None = None
    answered_as: Literal["field", "answers"] = Field(
        description="'field': a top-level field of the submission; 'answers': answers.<id>")


class ExtraFieldOut(BaseModel):
    id: str
    kind: Literal["text", "scale", "email"]
    prompt: str
    min: int | None = None
    max: int | None = None
    max_length: int | None = None


class SurveyView(BaseModel):
    id: str
    name: str
    language: str
    questions: list[QuestionOut]
    extra_fields: list[ExtraFieldOut]


class SessionSummary(BaseModel):
    transaction_id: int
    charger_id: str
    connector_id: int
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: int


class SubmissionOut(BaseModel):
    overall: int
    charging_speed: int | None = None
    ease_of_use: int | None = None
    availability: int | None = None
    price_transparency: int | None = None
    would_recommend: int | None = None
    comment: str
    answers: dict[str, Any]
    survey_id: str | None
    submitted_at: datetime
    updated_at: datetime
    has_contact: bool
    reply: str | None = None
    replied_at: datetime | None = None


class DriverFeedbackView(BaseModel):
    session: SessionSummary
    survey: SurveyView
    submission: SubmissionOut | None
    editable_until: datetime | None = Field(description="until when the submission may still be changed")


class FeedbackIn(BaseModel):
    """Documentation of the driver's payload; it is validated by the feedback domain, which reports
    every problem with its field at once."""

    overall: int = Field(ge=1, le=5)
    charging_speed: int | None = Field(default=None, ge=1, le=5)
    ease_of_use: int | None = Field(default=None, ge=1, le=5)
    availability: int | None = Field(default=None, ge=1, le=5)
    price_transparency: int | None = Field(default=None, ge=1, le=5)
    would_recommend: int | None = Field(default=None, ge=0, le=10)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_LENGTH)
    contact: dict[str, str] | None = Field(default=None, description='{"email": "..."}; stored apart, deletable')
    answers: dict[str, Any] | None = Field(default=None, description="answers to non-core survey questions by id")
    survey_id: str | None = None


class FeedbackOut(BaseModel):
    transaction_id: int
    station_id: str
    charger_id: str
    connector_id: int
    overall: int
    charging_speed: int | None = None
    ease_of_use: int | None = None
    availability: int | None = None
    price_transparency: int | None = None
    would_recommend: int | None = None
    comment: str
    answers: dict[str, Any]
    survey_id: str | None
    topics: list[str] = Field(description="topics the comment complains about")
    praised: list[str] = Field([], description="topics the comment praises (or denies a problem with)")
    session_started_at: datetime
    submitted_at: datetime
    updated_at: datetime
    handled: bool
    handled_at: datetime | None = None
    handled_by: str | None = None
    reply: str | None = None
    replied_at: datetime | None = None
    replied_by: str | None = None
    reply_emailed_at: datetime | None = None
    has_contact: bool


class FeedbackDetail(FeedbackOut):
    facts: dict[str, Any]
    flags: list[str]


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    total: int
    limit: int
    offset: int


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    by: str | None = Field(default=None, max_length=64)


class ReplyOut(BaseModel):
    transaction_id: int
    reply: str
    replied_at: datetime
    replied_by: str | None
    email: Literal["sent", "failed", "no_address", "not_configured"]


class HandledIn(BaseModel):
    handled: bool = True
    by: str | None = Field(default=None, max_length=64)


class ContactErasureIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)


class ContactErasureOut(BaseModel):
    deleted: int


class SurveyIn(BaseModel):
    """Documentation of a survey definition; `parse_survey` validates it and names every wrong field,
    e.g. ``questions[1].options[0].label.de``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(max_length=200)
    languages: list[str] = Field(description='ISO 639-1 codes, e.g. ["en", "de"]')
    questions: list[dict[str, Any]] = Field(
        description='{"id", "kind": rating|single_choice|multi_choice|text, "prompt": {lang: text}, '
                    '"required", "options": [{"id", "label": {lang: text}}], "max_length"}')
    target: dict[str, Any] | None = Field(
        default=None, description='{"kind": all_sessions|station_group|incident, "charger_ids", "incident_codes"}')
    active_from: datetime | None = None
    active_until: datetime | None = None


class SurveyOut(BaseModel):
    id: str
    name: str
    target_kind: str
    active_from: datetime | None
    active_until: datetime | None
    created_at: datetime
    updated_at: datetime
    definition: dict[str, Any]


class ScoresOut(BaseModel):
    feedback_count: int
    csat_percent: float | None = Field(description="share of overall ratings 4-5, in percent")
    csat_low: float | None = Field(None, description="95 % Wilson interval of csat_percent, lower end, in percent")
    csat_high: float | None = Field(None, description="95 % Wilson interval of csat_percent, upper end, in percent")
    satisfied: int
    nps: float | None = Field(description="promoters minus detractors in percent of would_recommend answers")
    nps_count: int
    promoters: int
    passives: int
    detractors: int
    mean_overall: float | None


class StationScoresOut(ScoresOut):
    station_id: str


class ConnectorScoresOut(ScoresOut):
    charger_id: str
    connector_id: int


class WeekScoresOut(ScoresOut):
    week: str


class TopicOut(BaseModel):
    topic_id: str
    label: str
    mentions: int
    share: float
    commented: int = Field(0, description="feedback with a comment: the n that share is taken of")
    share_low: float | None = Field(None, description="95 % Wilson interval of share (0..1), lower end")
    share_high: float | None = Field(None, description="95 % Wilson interval of share (0..1), upper end")
    mean_with: float
    mean_without: float | None
    rating_gap: float | None
    impact: float


class ComparisonOut(BaseModel):
    flag: str
    with_count: int
    without_count: int
    mean_with: float | None
    mean_without: float | None
    csat_with: float | None
    csat_with_low: float | None = None
    csat_with_high: float | None = None
    csat_without: float | None
    csat_without_low: float | None = None
    csat_without_high: float | None = None
    mean_difference: float | None
    p_value: float | None


class InsightOut(BaseModel):
    flag: str
    text: str
    comparison: ComparisonOut


class InsightsOut(BaseModel):
    insights: list[InsightOut]
    comparisons: list[ComparisonOut]


class ComponentsOut(BaseModel):
    rating: float
    reliability: float
    revenue: float


class PriorityOut(BaseModel):
    rank: int
    station_id: str
    score: float
    components: ComponentsOut
    sessions: int
    feedback_count: int
    mean_overall: float | None
    dissatisfied_share: str
    dissatisfied_low: float | None = Field(None, description="95 % Wilson interval of the share (0..1), lower end")
    dissatisfied_high: float | None = Field(None, description="95 % Wilson interval of the share (0..1), upper end")
    revenue_at_risk: str = Field(description="sessions × average price × dissatisfied share shrunk towards the "
                                             "network's share (10 pseudo-ratings), so few ratings count less")
    currency: str | None
    incidents: int
    downtime_seconds: int
    top_topic: str | None
    top_fault: str | None


class FlagShiftOut(BaseModel):
    flag: str
    since: datetime
    before_percent: float | None
    before_count: int
    after_percent: float | None
    after_count: int


class ChargerShiftOut(FlagShiftOut):
    charger_id: str


class ExplanationOut(BaseModel):
    text: str = Field(description="e.g. 'since 2 Mar 85 % of rated sessions below half rated power (n=40), "
                                  "vs 0 % before (n=160)'")
    station: FlagShiftOut | None
    chargers: list[ChargerShiftOut]


class DropOut(BaseModel):
    station_id: str | None
    status: str
    recent_csat: float | None
    recent_low: float | None = None
    recent_high: float | None = None
    recent_count: int
    baseline_csat: float | None
    baseline_low: float | None = None
    baseline_high: float | None = None
    baseline_count: int
    change_points: float | None
    z: float | None
    p_value: float | None
    q_value: float | None = Field(None, description="Benjamini-Hochberg adjusted p-value across stations and chargers")
    persisted_checks: int = Field(0, description="consecutive weekly checks (up to now) at which the drop held")
    explanation: ExplanationOut | None = None
    charger_id: str | None = Field(None, description="the charger the drop was found on (its numbers are shown); "
                                   "null when the whole station dropped")
    cusum: float | None = Field(None, description="the sequential test's statistic (alarm at its threshold); "
                                "recent_* then count the ratings since its estimated change point")


class ThemeOut(BaseModel):
    """A theme no topic covers that recurs in untagged comments over weeks (alerted with the drops)."""

    key: str
    phrases: list[str]
    weeks: list[str]
    stations: list[str]
    comments: int
    examples: list[str]


class DropsOut(BaseModel):
    network: DropOut
    stations: list[DropOut]
    themes: list[ThemeOut] = []


class ClusterOut(BaseModel):
    id: str
    station_id: str
    week: str
    key: str
    phrases: list[str]
    size: int
    session_ids: list[str]
    examples: list[str]
    suggested_topic: dict[str, Any] = Field(description="the body that promotes it: POST /api/v1/feedback/topics")


class TopicIn(BaseModel):
    id: str = Field(description="1-64 characters of a-z, 0-9, '_' or '-'")
    label: dict[str, str] = Field(description="language code -> label")
    phrases: list[str]
    source: str | None = Field(default=None, description="the cluster id it was promoted from")


class TopicDefinitionOut(BaseModel):
    id: str
    label: dict[str, str]
    phrases: list[str]
    operator: bool


# ------------------------------------------------------------------ presentation helpers

_EXTRA_PROMPTS: dict[str, dict[str, str]] = {
    "comment": {"en": "Anything else you want to tell us?", "de": "Möchten Sie uns noch etwas mitteilen?"},
    "would_recommend": {
        "en": "How likely are you to recommend this charging station (0-10)?",
        "de": "Wie wahrscheinlich ist es, dass Sie diese Ladestation weiterempfehlen (0-10)?",
    },
    "contact.email": {
        "en": "Your e-mail address, if you would like an answer (optional)",
        "de": "Ihre E-Mail-Adresse, falls Sie eine Antwort wünschen (optional)",
    },
}


def _in(texts: Mapping[str, str], language: str) -> str:
    return texts.get(language) or texts.get("en") or next(iter(texts.values()))


def _survey_view(survey: Survey, language: str) -> SurveyView:
    questions = [
        QuestionOut(
            id=q.id, kind=q.kind.value, prompt=q.prompt_in(language), required=q.required or q.id == "overall",
            options=[OptionOut(id=o.id, label=_in(o.label, language)) for o in q.options],
            max_length=q.max_length, answered_as="field" if q.is_core else "answers",
        )
        for q in survey.questions
    ]
    extras = [
        ExtraFieldOut(id="would_recommend", kind="scale", prompt=_in(_EXTRA_PROMPTS["would_recommend"], language),
                      min=0, max=10),
        ExtraFieldOut(id="comment", kind="text", prompt=_in(_EXTRA_PROMPTS["comment"], language),
                      max_length=MAX_COMMENT_LENGTH),
        ExtraFieldOut(id="contact.email", kind="email", prompt=_in(_EXTRA_PROMPTS["contact.email"], language),
                      max_length=254),
    ]
    return SurveyView(id=survey.id, name=survey.name, language=language, questions=questions, extra_fields=extras)


def _row_out(row: Row[Any], contacts: set[int], classifier: KeywordTopics | RuleTopics) -> dict[str, Any]:
    data = {name: value for name, value in row._mapping.items() if name in FeedbackOut.model_fields}
    data["answers"] = row.answers or {}
    if isinstance(classifier, RuleTopics) and row.comment:
        analysis = classifier.analyse(row.comment)
        data["topics"], data["praised"] = sorted(analysis.complaints), sorted(analysis.praised)
    else:
        data["topics"] = sorted(classifier.topics_of(row.comment)) if row.comment else []
    data["has_contact"] = row.transaction_id in contacts
    return data


def _bounds(csat: Csat) -> tuple[float | None, float | None]:
    """The 95 % Wilson interval of a share, in percent (None, None for no ratings)."""
    interval = csat.interval
    return (None, None) if interval is None else (100 * interval.low, 100 * interval.high)


def _shift(shift: FlagShift) -> dict[str, Any]:
    return {"flag": shift.flag, "since": shift.since, "before_percent": shift.before.percent,
            "before_count": shift.before.count, "after_percent": shift.after.percent,
            "after_count": shift.after.count}


def _scores(scores: Scores) -> dict[str, Any]:
    low, high = _bounds(scores.csat)
    return {
        "feedback_count": scores.csat.count,
        "csat_percent": scores.csat.percent,
        "csat_low": low,
        "csat_high": high,
        "satisfied": scores.csat.satisfied,
        "nps": scores.nps.score,
        "nps_count": scores.nps.count,
        "promoters": scores.nps.promoters,
        "passives": scores.nps.passives,
        "detractors": scores.nps.detractors,
        "mean_overall": scores.mean_overall,
    }


def _drop(check: DropCheck, station: str | None) -> DropOut:
    recent_low, recent_high = _bounds(check.recent)
    baseline_low, baseline_high = _bounds(check.baseline)
    explanation = None
    if check.explanation is not None:
        explained = check.explanation
        explanation = ExplanationOut(
            text=explained.text,
            station=FlagShiftOut(**_shift(explained.station)) if explained.station else None,
            chargers=[ChargerShiftOut(charger_id=charger, **_shift(shift)) for charger, shift in explained.chargers],
        )
    return DropOut(
        station_id=station, status=check.status.value, recent_csat=check.recent.percent, recent_low=recent_low,
        recent_high=recent_high, recent_count=check.recent.count, baseline_csat=check.baseline.percent,
        baseline_low=baseline_low, baseline_high=baseline_high, baseline_count=check.baseline.count,
        change_points=check.change_points, z=check.z, p_value=check.p_value, q_value=check.q_value,
        persisted_checks=check.persisted_checks, explanation=explanation, charger_id=check.charger_id,
        cusum=check.cusum,
    )


def _share_bounds(share: Decimal, count: int) -> dict[str, float | None]:
    interval = wilson_interval(round(share * count), count) if count else None
    return {"dissatisfied_low": interval.low if interval else None,
            "dissatisfied_high": interval.high if interval else None}


def _cluster(cluster: Cluster) -> dict[str, Any]:
    return {"id": cluster.id, "station_id": cluster.station_id, "week": cluster.week, "key": cluster.key,
            "phrases": list(cluster.phrases), "size": cluster.size, "session_ids": list(cluster.session_ids),
            "examples": list(cluster.examples),
            "suggested_topic": {"id": topic_id_for(cluster.key), "label": {"en": cluster.key, "de": cluster.key},
                                "phrases": list(cluster.phrases), "source": cluster.id}}


def _theme(theme: Theme) -> dict[str, Any]:
    return {"key": theme.key, "phrases": list(theme.phrases), "weeks": list(theme.weeks),
            "stations": list(theme.stations), "comments": theme.comments, "examples": list(theme.examples)}


def _unprocessable(errors: Sequence[FieldError]) -> HTTPException:
    return HTTPException(422, [error.as_dict() for error in errors])


async def _json_object(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise _unprocessable([FieldError("$", "must be a JSON object")]) from None


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


# ------------------------------------------------------------------ the router


@dataclass(frozen=True)
class _DriverSession:
    transaction_id: int
    session: Row[Any]
    facts: SessionFacts
    survey: Survey
    existing: Row[Any] | None


def feedback_router(engine: Engine, bus: EventBus, secret: bytes, config: FeedbackConfig) -> APIRouter:
    """Routes under /api/v1/feedback. Fixed paths are declared before ``/{token}`` so they win."""
    router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])

    def records(
        station: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[FeedbackRecord]:
        with_topics()
        with engine.connect() as connection:
            return store.records(connection, station_id=station, sessions_since=since, sessions_until=until)

    # -------------------------------------------------------------- operator: feedback

    # The classifier in use is the configured one (tests may swap it) extended by the stored operator topics.
    # Another node may promote a topic: the topics version row is read at most every topics_check_seconds and
    # the classifier rebuilt when it moved, so every node classifies with it within that bound.
    topic_state: dict[str, Any] = {"base": config.classifier, "built": None, "operator_ids": set(),
                                   "version": None, "checked": None}

    def refresh_topics() -> None:
        """Rebuild the classifier from the base topics plus the stored operator topics."""
        with engine.connect() as connection:
            version = store.topics_version(connection)
            stored = store.operator_topics(connection)
        if config.classifier is not topic_state["built"]:
            topic_state["base"] = config.classifier
        base = topic_state["base"]
        built = type(base)(merge_topics(base.topics, stored)) if stored else base
        topic_state.update(built=built, operator_ids={topic.id for topic in stored}, version=version,
                           checked=time.monotonic())
        config.classifier = built

    def with_topics() -> None:
        checked = topic_state["checked"]
        if checked is None or config.classifier is not topic_state["built"]:
            refresh_topics()
            return
        if time.monotonic() - checked < config.topics_check_seconds:
            return
        with engine.connect() as connection:
            version = store.topics_version(connection)
        topic_state["checked"] = time.monotonic()
        if version != topic_state["version"]:
            refresh_topics()

    @router.get("", response_model=FeedbackPage)
    def list_feedback(
        station: str | None = None,
        connector_id: ConnectorNumber | None = None,
        rating: Annotated[int | None, Query(ge=1, le=5, description="overall rating equal to")] = None,
        max_rating: Annotated[int | None, Query(ge=1, le=5, description="overall rating at most")] = None,
        handled: bool | None = None,
        survey_id: str | None = None,
        since: Annotated[Timestamp | None, Query(description="submitted at or after")] = None,
        until: Annotated[Timestamp | None, Query(description="submitted before")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Feedback, newest first. A station is a charger for now."""
        with_topics()
        where = store.FeedbackFilter(station, connector_id, rating, max_rating, handled, survey_id, since, until)
        with engine.connect() as connection:
            rows, total = store.list_feedback(connection, where, limit=limit, offset=offset)
            contacts = store.has_contact(connection, [row.transaction_id for row in rows])
        return {"items": [_row_out(row, contacts, config.classifier) for row in rows], "total": total,
                "limit": limit, "offset": offset}

    @router.get("/export.csv", response_class=PlainTextResponse,
                responses={200: {"content": {"text/csv": {}}, "description": "one row per feedback, no contact data"}})
    def export(
        station: str | None = None, since: Timestamp | None = None, until: Timestamp | None = None
    ) -> Response:
        """All feedback with its session facts as CSV (sessions started in [since, until)). Never contact data."""
        body = export_csv(records(station, since, until))
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="feedback.csv"'})

    # -------------------------------------------------------------- operator: analytics

    @router.get("/analytics/stations", response_model=list[StationScoresOut], tags=["feedback analytics"])
    def station_scores(since: Timestamp | None = None, until: Timestamp | None = None) -> list[dict[str, Any]]:
        """CSAT and NPS per station (= charger), with counts; sessions started in [since, until)."""
        return [{"station_id": s.key, **_scores(s)} for s in scores_by_station(records(None, since, until))]

    @router.get("/analytics/connectors", response_model=list[ConnectorScoresOut], tags=["feedback analytics"])
    def connector_scores(station: str | None = None, since: Timestamp | None = None,
                         until: Timestamp | None = None) -> list[dict[str, Any]]:
        """CSAT and NPS per connector (charger_id, connector_id), for one station or the whole network, over the
        sessions in [since, until)."""
        out = []
        for scores in scores_by_connector(records(station, since, until)):
            charger_id, _, connector_id = scores.key.rpartition("/")
            out.append({"charger_id": charger_id, "connector_id": int(connector_id), **_scores(scores)})
        return out

    @router.get("/analytics/weekly", response_model=list[WeekScoresOut], tags=["feedback analytics"])
    def weekly(station: str | None = None, since: Timestamp | None = None,
               until: Timestamp | None = None) -> list[dict[str, Any]]:
        """Scores per ISO week of the session start, oldest first; the whole network without ``station``."""
        return [{"week": s.key, **_scores(s)} for s in weekly_trend(records(station, since, until))]

    @router.get("/analytics/topics", response_model=list[TopicOut], tags=["feedback analytics"])
    def topics(
        station: str | None = None,
        order: TopicOrder = TopicOrder.FREQUENCY,
        min_mentions: Threshold = 1,
        lang: Annotated[str, Query(pattern="^[a-z]{2}$")] = "en",
        since: Timestamp | None = None,
        until: Timestamp | None = None,
    ) -> list[dict[str, Any]]:
        """Recurring complaints in comments, ranked by frequency (or rating points lost, ``order=impact``)."""
        chosen = records(station, since, until)
        ranked = rank_topics(chosen, config.classifier, order=order, min_mentions=min_mentions)
        commented = sum(1 for record in chosen if record.feedback.comment)
        out = []
        for rank in ranked:
            topic = config.classifier.topic(rank.topic_id)
            interval = wilson_interval(min(rank.mentions, commented), commented) if commented else None
            out.append({**{name: getattr(rank, name) for name in TopicOut.model_fields if hasattr(rank, name)},
                        "label": topic.label_in(lang) if topic else rank.topic_id, "commented": commented,
                        "share_low": interval.low if interval else None,
                        "share_high": interval.high if interval else None})
        return out

    @router.get("/analytics/insights", response_model=InsightsOut, tags=["feedback analytics"])
    def insight_list(
        station: str | None = None,
        min_group: Annotated[SampleFloor, Query(description="ratings needed on each side of a comparison "
                                                             "(at least 10)")] = 20,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
    ) -> dict[str, Any]:
        """Ratings against session telemetry: plain-language findings and every comparison behind them."""
        chosen = records(station, since, until)

        def comparison(c: Any) -> dict[str, Any]:
            return {
                "flag": c.flag, "with_count": c.with_flag.count, "without_count": c.without_flag.count,
                "mean_with": c.with_flag.mean_overall, "mean_without": c.without_flag.mean_overall,
                "csat_with": c.with_flag.csat.percent, "csat_without": c.without_flag.csat.percent,
                **dict(zip(("csat_with_low", "csat_with_high"), _bounds(c.with_flag.csat), strict=True)),
                **dict(zip(("csat_without_low", "csat_without_high"), _bounds(c.without_flag.csat), strict=True)),
                "mean_difference": c.mean_difference, "p_value": c.p_value,
            }

        rule = InsightRule(min_with=min_group, min_without=min_group)
        return {
            "insights": [{"flag": i.flag, "text": i.text, "comparison": comparison(i.comparison)}
                         for i in insights(chosen, rule)],
            "comparisons": [comparison(c) for c in compare_facts(chosen)],
        }

    @router.get("/analytics/priorities", response_model=list[PriorityOut], tags=["feedback analytics"])
    def priorities(
        since: Annotated[Timestamp | None, Query(description="default: 90 days ago")] = None,
        until: Annotated[Timestamp | None, Query(description="default: now")] = None,
    ) -> list[dict[str, Any]]:
        """Fix first: stations ranked by dissatisfaction, faults (StatusNotification errors, down time)
        and revenue at risk (0 until billing produces invoices)."""
        until = until or config.clock()
        since = since or until - timedelta(days=90)
        if since >= until:
            raise _unprocessable([FieldError("since", "must be before until")])
        with engine.connect() as connection:
            operations = store.station_operations(connection, since, until)
            chosen = store.records(connection, sessions_since=since, sessions_until=until)
        sessions = {ops.station_id: ops.sessions for ops in operations}
        ranked = rank_stations(chosen, operations, classifier=config.classifier)
        return [
            {
                **{name: getattr(p, name) for name in PriorityOut.model_fields if hasattr(p, name)},
                "components": {"rating": p.components.rating, "reliability": p.components.reliability,
                               "revenue": p.components.revenue},
                "sessions": sessions.get(p.station_id, 0),
                "dissatisfied_share": str(p.dissatisfied_share.quantize(Decimal("0.0001"))),
                **_share_bounds(p.dissatisfied_share, p.feedback_count),
                "revenue_at_risk": str(p.revenue_at_risk),
            }
            for p in ranked
        ]

    @router.get("/analytics/drops", response_model=DropsOut, tags=["feedback analytics"])
    def drops(
        recent_weeks: Annotated[int, Query(ge=1, le=52)] = 4,
        baseline_weeks: Annotated[int, Query(ge=1, le=104)] = 12,
        min_sample: Annotated[SampleFloor, Query(description="ratings needed in each window (at least 10)")] = 30,
        persistence: Annotated[int, Query(ge=1, le=12, description="weekly checks in a row the network's drop must "
                                          "hold (stations use a sequential test)")] = 2,
    ) -> dict[str, Any]:
        """Significant CSAT drops: the recent weeks against the baseline weeks before, network and per station.

        Every charger runs a one-sided sequential test (CUSUM) of its ratings since ``recent_weeks`` × 2 against
        its station's share in the ``baseline_weeks`` before, with a threshold calibrated for about one false
        alarm in twenty 12-week runs of a 12-station network; the network's own drop is a window-pair test that
        must hold at ``persistence`` weekly checks in a row. A station is listed once: with its charger
        (``charger_id``) when the drop is that charger's; each drop carries the telemetry change that explains
        it, per station and charger."""
        now = config.clock()
        rule = DropRule(recent_weeks=recent_weeks, baseline_weeks=baseline_weeks, min_sample=min_sample,
                        persistence_checks=persistence, cusum_weeks=2 * recent_weeks)
        history = max(recent_weeks + persistence - 1, rule.cusum_weeks) + baseline_weeks
        chosen = records(None, now - timedelta(weeks=history), now)
        return {
            "network": _drop(detect_csat_drop(chosen, now=now, rule=rule), None),
            "stations": [_drop(check, check.key) for check in detect_csat_drops_by_station(chosen, now=now, rule=rule)],
            # Recurring themes in the recent weeks' untagged comments: a new complaint nobody has a topic for.
            "themes": [_theme(theme) for theme in recurring_themes(discover_clusters(
                [r for r in chosen if r.feedback.submitted_at >= now - timedelta(weeks=recent_weeks)],
                config.classifier))],
        }

    @router.get("/analytics/clusters", response_model=list[ClusterOut], tags=["feedback analytics"])
    def clusters(
        station: str | None = None,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
        min_size: Annotated[int, Query(ge=2, le=100, description="comments a cluster needs at least")] = 3,
    ) -> list[dict[str, Any]]:
        """Comments no topic covers, clustered per station and ISO week with example comments (topic discovery).
        Promote one with ``POST /api/v1/feedback/topics`` (its key and phrases)."""
        chosen = records(station, since, until)
        return [_cluster(cluster) for cluster in discover_clusters(chosen, config.classifier, min_size=min_size)]

    @router.get("/topics", response_model=list[TopicDefinitionOut], tags=["feedback analytics"])
    def list_topics() -> list[dict[str, Any]]:
        """The topics comments are classified into: the defaults and the operator's own."""
        with_topics()
        operator_ids = topic_state["operator_ids"]
        return [{"id": t.id, "label": dict(t.label), "phrases": list(t.phrases), "operator": t.id in operator_ids}
                for t in config.classifier.topics]

    @router.post("/topics", response_model=TopicDefinitionOut, status_code=201, responses=error_responses(422),
                 tags=["feedback analytics"], openapi_extra=_documented_body(TopicIn))
    async def promote_topic(request: Request) -> dict[str, Any]:
        """Add an operator topic (or add phrases to a known one), e.g. a discovered cluster promoted in one click:
        ``{"id": "kein_dach", "label": {"en": "No roof"}, "phrases": ["dach", "regen"], "source": "<cluster id>"}``.
        Comments are classified with it from now on."""
        raw = await _json_object(request)
        source = raw.pop("source", None) if isinstance(raw, dict) else None
        if source is not None and (not isinstance(source, str) or len(source) > 200):
            raise _unprocessable([FieldError("source", "must be text of at most 200 characters")])
        try:
            (topic,) = parse_topics([raw])
        except TopicDefinitionError as error:
            raise _unprocessable([FieldError(e.field.removeprefix("[0]."), e.reason) for e in error.errors]) from None

        def save() -> None:
            with engine.begin() as connection:
                store.put_topic(connection, {"id": topic.id, "label": dict(topic.label),
                                             "phrases": list(topic.phrases)}, source, config.clock())
            refresh_topics()

        await asyncio.to_thread(save)
        merged = config.classifier.topic(topic.id) or topic
        return {"id": merged.id, "label": dict(merged.label), "phrases": list(merged.phrases), "operator": True}

    # -------------------------------------------------------------- operator: surveys

    def survey_out(row: Row[Any]) -> dict[str, Any]:
        return dict(row._mapping)

    def parse_definition(raw: Any, path_id: str | None) -> Survey:
        try:
            survey = parse_survey(raw)
        except FieldValidationError as error:
            raise _unprocessable(error.errors) from None
        if survey.id in RESERVED_SURVEY_IDS:
            raise _unprocessable([FieldError("id", f"'{survey.id}' is the built-in survey's id")])
        if path_id is not None and survey.id != path_id:
            raise _unprocessable([FieldError("id", "must match the path")])
        return survey

    @router.get("/surveys", response_model=list[SurveyOut], tags=["feedback surveys"])
    def list_surveys() -> list[dict[str, Any]]:
        """Every survey definition with its questions."""
        with engine.connect() as connection:
            return [survey_out(row) for row in store.survey_rows(connection)]

    @router.post("/surveys",
                 responses=error_responses(409), response_model=SurveyOut, status_code=201, tags=["feedback surveys"],
                 openapi_extra=_documented_body(SurveyIn))
    async def create_survey(request: Request) -> dict[str, Any]:
        """Define a survey (see `parse_survey` for the format); 409 if the id exists."""
        raw = await _json_object(request)
        survey = parse_definition(raw, None)

        def create() -> dict[str, Any]:
            with engine.begin() as connection:
                if store.survey_row(connection, survey.id) is not None:
                    raise HTTPException(409, f"survey {survey.id!r} exists; PUT /surveys/{survey.id} replaces it")
                store.put_survey(connection, survey, raw, config.clock())
                return survey_out(store.survey_row(connection, survey.id))  # type: ignore[arg-type]

        return await asyncio.to_thread(create)

    @router.get("/surveys/{survey_id}",
                responses=error_responses(404), response_model=SurveyOut, tags=["feedback surveys"])
    def get_survey(survey_id: str) -> dict[str, Any]:
        """One survey definition (404 when no survey has this id)."""
        with engine.connect() as connection:
            row = store.survey_row(connection, survey_id)
        if row is None:
            raise HTTPException(404, f"survey {survey_id!r} not found")
        return survey_out(row)

    @router.put("/surveys/{survey_id}",
                responses=error_responses(404), response_model=SurveyOut, tags=["feedback surveys"],
                openapi_extra=_documented_body(SurveyIn))
    async def put_survey(survey_id: str, request: Request, response: Response) -> dict[str, Any]:
        """Create or replace a survey; feedback already given keeps the answers it was given with."""
        raw = await _json_object(request)
        survey = parse_definition(raw, survey_id)

        def put() -> dict[str, Any]:
            with engine.begin() as connection:
                if store.put_survey(connection, survey, raw, config.clock()):
                    response.status_code = 201
                return survey_out(store.survey_row(connection, survey.id))  # type: ignore[arg-type]

        return await asyncio.to_thread(put)

    @router.delete("/surveys/{survey_id}", responses=error_responses(404), status_code=204, tags=["feedback surveys"])
    def delete_survey(survey_id: str) -> Response:
        """Delete a survey definition; feedback given with it keeps its answers."""
        with engine.begin() as connection:
            if not store.delete_survey(connection, survey_id):
                raise HTTPException(404, f"survey {survey_id!r} not found")
        return Response(status_code=204)

    # -------------------------------------------------------------- operator: one feedback

    @router.post("/contacts/erase",
                 responses=error_responses(404), response_model=ContactErasureOut, tags=["feedback privacy"])
    def erase_contacts(body: ContactErasureIn) -> dict[str, int]:
        """A driver's erasure request: delete every contact stored with this address (the feedback stays)."""
        try:
            email = normalise_email(body.email)
        except ValueError as error:
            raise _unprocessable([FieldError("email", str(error))]) from None
        with engine.begin() as connection:
            return {"deleted": store.erase_contacts(connection, email)}

    def detail(transaction_id: int) -> dict[str, Any]:
        with_topics()
        with engine.connect() as connection:
            row = store.feedback_row(connection, transaction_id)
            if row is None:
                raise HTTPException(404, f"no feedback for session {transaction_id}")
            contacts = store.has_contact(connection, [transaction_id])
        out = _row_out(row, contacts, config.classifier)
        out["facts"] = row.facts
        out["flags"] = sorted(SessionFacts.from_record(row.facts).flags())
        return out

    @router.get("/sessions/{transaction_id}", responses=error_responses(404), response_model=FeedbackDetail)
    def get_feedback(transaction_id: TransactionId) -> dict[str, Any]:
        """One feedback with the telemetry facts of its session."""
        return detail(transaction_id)

    @router.put("/sessions/{transaction_id}/handled", responses=error_responses(404), response_model=FeedbackDetail)
    def mark_handled(transaction_id: TransactionId, body: HandledIn) -> dict[str, Any]:
        """Mark a driver's feedback as handled (or back to open), with who did it."""
        with engine.begin() as connection:
            if not store.set_handled(connection, transaction_id, body.handled, body.by, config.clock()):
                raise HTTPException(404, f"no feedback for session {transaction_id}")
        return detail(transaction_id)

    @router.post("/sessions/{transaction_id}/reply", responses=error_responses(404), response_model=ReplyOut)
    async def reply(transaction_id: TransactionId, body: ReplyIn) -> dict[str, Any]:
        """Answer a feedback: stored, and e-mailed if the driver left an address and SMTP is configured."""
        try:
            text = clean_free_text(body.text, MAX_REPLY_LENGTH)
        except ValueError as error:
            raise _unprocessable([FieldError("text", str(error))]) from None
        if not text:
            raise _unprocessable([FieldError("text", "must not be empty")])
        now = config.clock()

        def save() -> tuple[Row[Any], str | None]:
            with engine.begin() as connection:
                if not store.set_reply(connection, transaction_id, text, body.by, now):
                    raise HTTPException(404, f"no feedback for session {transaction_id}")
                return store.feedback_row(connection, transaction_id), store.contact_email(  # type: ignore[return-value]
                    connection, transaction_id)

        row, email = await asyncio.to_thread(save)
        status: Literal["sent", "failed", "no_address", "not_configured"] = "no_address"
        if email and config.mailer is None:
            status = "not_configured"
        elif email and config.mailer is not None:
            try:
                await asyncio.to_thread(config.mailer, _reply_message(email, row, text, config.support_address))
            except Exception:  # noqa: BLE001 - the reply is stored; delivery is best effort and logged
                log.warning("reply e-mail for session %s could not be sent", transaction_id, exc_info=True)
                status = "failed"
            else:
                await asyncio.to_thread(_mark_emailed, engine, transaction_id, config.clock())
                status = "sent"
        return {"transaction_id": transaction_id, "reply": text, "replied_at": now, "replied_by": body.by,
                "email": status}

    @router.delete("/sessions/{transaction_id}/contact",
                   responses=error_responses(404), status_code=204, tags=["feedback privacy"])
    def delete_contact(transaction_id: TransactionId) -> Response:
        """Delete the driver's contact data of one feedback (the ratings stay, anonymous)."""
        with engine.begin() as connection:
            if not store.delete_contact(connection, transaction_id):
                raise HTTPException(404, f"no contact stored for session {transaction_id}")
        return Response(status_code=204)

    # -------------------------------------------------------------- driver

    def driver_session(connection: Connection, token: str, now: datetime) -> _DriverSession:
        transaction_id = transaction_of(secret, token)
        session = store.session_row(connection, transaction_id) if transaction_id is not None else None
        if transaction_id is None or session is None:
            raise HTTPException(404, "unknown feedback link")
        if session.status != "completed":
            raise HTTPException(409, "the session is still running; feedback opens when it has ended")
        facts = store.session_facts(connection, session)
        existing = store.feedback_row(connection, transaction_id)
        stored = store.all_surveys(connection)
        survey = None
        if existing is not None and existing.survey_id is not None:
            # An edit is checked against the survey it was first given with, as long as it exists.
            survey = next((s for s in (DEFAULT_SURVEY, *stored) if s.id == existing.survey_id), None)
        survey = survey or survey_for_session(stored, facts, now=now)
        return _DriverSession(transaction_id, session, facts, survey, existing)

    def driver_view(connection: Connection, found: _DriverSession, language: str) -> dict[str, Any]:
        s = found.session
        existing = store.feedback_row(connection, found.transaction_id)
        submission = None
        editable_until = None
        if existing is not None:
            fields = SubmissionOut.model_fields
            submission = {name: value for name, value in existing._mapping.items() if name in fields}
            submission["answers"] = existing.answers or {}
            submission["has_contact"] = store.contact_email(connection, found.transaction_id) is not None
            editable_until = existing.submitted_at + config.policy.edit_window
        return {
            "session": {"transaction_id": s.transaction_id, "charger_id": s.charger_id,
                        "connector_id": s.connector_id, "started_at": s.started_at, "stopped_at": s.stopped_at,
                        "energy_wh": s.energy_wh},
            "survey": _survey_view(found.survey, language),
            "submission": submission,
            "editable_until": editable_until,
        }

    def limit(request: Request, token: str) -> None:
        client = request.client.host if request.client else "?"
        wait = config.rate_limit.retry_after((client, token), config.clock())
        if wait is not None:
            raise HTTPException(429, "too many requests for this feedback link; try again later",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})

    @router.get("/{token}",
                responses=error_responses(404, 409, 429), response_model=DriverFeedbackView, tags=["feedback (driver)"])
    async def driver_form(token: str, request: Request,
                          lang: Annotated[str, Query(pattern="^[a-z]{2}$")] = "en") -> dict[str, Any]:
        """The survey to show for the session behind a driver link token, and the driver's submission if any."""
        limit(request, token)

        def read() -> dict[str, Any]:
            with engine.connect() as connection:
                return driver_view(connection, driver_session(connection, token, config.clock()), lang)

        return await asyncio.to_thread(read)

    @router.put("/{token}", response_model=DriverFeedbackView, tags=["feedback (driver)"],
                responses={201: {"model": DriverFeedbackView, "description": "feedback created"},
                           **error_responses(404, 409, 422, 429)},
                openapi_extra=_documented_body(FeedbackIn))
    async def submit(token: str, request: Request, response: Response,
                     lang: Annotated[str, Query(pattern="^[a-z]{2}$")] = "en") -> dict[str, Any]:
        """Create the session's feedback, or change it while the edit window is open."""
        limit(request, token)
        raw = await _json_object(request)

        def save_once() -> tuple[dict[str, Any], SessionFacts, str, str | None, bool]:
            now = config.clock()
            with engine.begin() as connection:
                found = driver_session(connection, token, now)
                try:
                    submission = parse_submission(raw, session_id=str(found.transaction_id), submitted_at=now,
                                                  survey=found.survey)
                except FieldValidationError as error:
                    raise _unprocessable(error.errors) from None
                previous = found.existing
                decision = config.policy.decide(
                    now=now, existing_submitted_at=previous.submitted_at if previous is not None else None,
                    session_ended_at=found.facts.ended_at)
                if decision.action is SubmissionAction.REJECT:
                    raise HTTPException(409, f"feedback not accepted: {decision.reason}")
                if decision.action is SubmissionAction.CREATE:
                    store.insert_feedback(connection, found.transaction_id, submission.feedback, found.facts)
                else:
                    store.replace_feedback(connection, found.transaction_id, submission.feedback, found.facts, now)
                if submission.contact is not None:
                    store.put_contact(connection, found.transaction_id, submission.contact, now)
                view = driver_view(connection, found, lang)
            previous_comment = previous.comment if previous is not None else None
            created = decision.action is SubmissionAction.CREATE
            return view, found.facts, submission.feedback.comment, previous_comment, created

        def save() -> tuple[dict[str, Any], SessionFacts, str, str | None, bool]:
            try:
                return save_once()
            except IntegrityError:
                # Two first submissions raced: the loser tries once more, now as an edit (or is refused).
                return save_once()

        view, facts, comment, previous_comment, created = await asyncio.to_thread(save)
        if created:
            response.status_code = 201
        await asyncio.to_thread(with_topics)
        _report_faults(bus, facts, comment, previous_comment, config)
        return view

    @router.delete("/{token}/contact",
                   responses=error_responses(404, 429), status_code=204, tags=["feedback (driver)", "feedback privacy"])
    async def driver_delete_contact(token: str, request: Request) -> Response:
        """The driver withdraws the contact address given with their feedback."""
        limit(request, token)
        transaction_id = transaction_of(secret, token)
        if transaction_id is None:
            raise HTTPException(404, "unknown feedback link")

        def remove() -> None:
            with engine.begin() as connection:
                store.delete_contact(connection, transaction_id)

        await asyncio.to_thread(remove)
        return Response(status_code=204)

    return router


def _mark_emailed(engine: Engine, transaction_id: int, now: datetime) -> None:
    with engine.begin() as connection:
        store.mark_reply_emailed(connection, transaction_id, now)


def _reply_message(email: str, row: Row[Any], text: str, support: SupportAddress | None = None) -> EmailMessage:
    """The operator's answer to a feedback; with support by e-mail set up, a reply to it opens the session's
    support conversation (Reply-To support+<token>@…, threaded by its Message-ID)."""
    message = EmailMessage()
    message["To"] = email
    message["Subject"] = f"Re: your feedback on charging session {row.transaction_id}"
    quoted = "\n".join(f"> {line}" for line in row.comment.splitlines()) if row.comment else ""
    started = row.session_started_at.strftime("%Y-%m-%d %H:%M UTC")
    body = f"{text}\n\n--\nYour feedback on the session at {row.charger_id} on {started}"
    message.set_content(f"{body}:\n{quoted}\n" if quoted else f"{body}.\n")
    if support is not None:
        support.thread(message, row.transaction_id)
    return message


def _report_faults(
    bus: EventBus, facts: SessionFacts, comment: str, previous_comment: str | None, config: FeedbackConfig
) -> None:
    """Publish ``feedback.fault_reported`` when a comment newly reports a charger fault (cross-checked with
    the session's telemetry); the faults domain opens or joins an incident for it. An edit that repeats a
    reported fault does not report it twice. A billing dispute publishes ``feedback.billing_disputed``
    instead, for the billing review queue; lighting, glare and negated complaints publish nothing."""
    report = fault_report(comment, facts, config.classifier)
    before = fault_report(previous_comment, facts, config.classifier) if previous_comment else None
    at = config.clock()
    if report.billing_dispute and not (before and before.billing_dispute):
        bus.publish(BillingDisputed(facts.charger_id, int(facts.session_id), comment, at))
    categories = report.categories
    already = set(before.categories) if before else set()
    if not categories or set(categories) <= already:
        return
    bus.publish(FaultReported(facts.charger_id, facts.connector_id, int(facts.session_id), categories[0],
                              tuple(categories), tuple(report.corroborated), comment, at))
