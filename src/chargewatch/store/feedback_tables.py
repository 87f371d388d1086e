"""Tables of the feedback domain (on the shared metadata).

A feedback row is keyed by the session's transaction id: one feedback per session is a rule of the
domain (`EditPolicy`), and the unique key makes the database enforce it even under racing requests.
Contact data lives in its own table so that deleting it on a driver's request leaves the ratings
(and analytics) intact, and so that no query over `feedback` can leak an address by accident.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from .schema import BigId, metadata
from .types import UtcDateTime

feedback = Table(
    "feedback",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_id", BigInteger, nullable=False, unique=True),
    Column("station_id", String(64), nullable=False),  # = charger id while one charger is one station
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("overall", Integer, nullable=False),
    Column("charging_speed", Integer),
    Column("ease_of_use", Integer),
    Column("availability", Integer),
    Column("price_transparency", Integer),
    Column("would_recommend", Integer),
    Column("comment", Text, nullable=False, default=""),
    Column("answers", JSON, nullable=False, default=dict),
    Column("survey_id", String(64)),
    Column("session_started_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("facts", JSON, nullable=False),  # SessionFacts.to_record() at submission time
    Column("handled", Boolean, nullable=False, default=False),
    Column("handled_at", UtcDateTime),
    Column("handled_by", String(64)),
    Column("reply", Text),
    Column("replied_at", UtcDateTime),
    Column("replied_by", String(64)),
    Column("reply_emailed_at", UtcDateTime),
    Index(None, "station_id", "submitted_at"),
    Index(None, "submitted_at"),
)

feedback_contacts = Table(
    "feedback_contacts",
    metadata,
    Column(
        "transaction_id",
        BigInteger,
        ForeignKey("feedback.transaction_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("email", String(254), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "email"),
)

surveys = Table(
    "surveys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("definition", JSON, nullable=False),  # the operator's JSON as accepted by parse_survey
    Column("target_kind", String(32), nullable=False),
    Column("active_from", UtcDateTime),
    Column("active_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Operator topics: promoted from discovered clusters or defined by hand; they extend the default topics
# (a known id gains phrases). `definition` is the JSON accepted by `feedback.topics.parse_topics` for one topic.
feedback_topics = Table(
    "feedback_topics",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("source", String(200)),  # the cluster it was promoted from, if any
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row: bumped in the transaction of every topic change, so each node (process) sees a change made on another
# by reading one integer on a bounded interval instead of re-reading the topics.
feedback_topics_version = Table(
    "feedback_topics_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)
