"""Tables of support (feedback domain, its own migration on the feedback branch): site helplines and the
per-session conversations between driver and operator.

A conversation is keyed by the session's transaction id (one per session), which also links it to the
session's feedback (`feedback.transaction_id`) and incidents (`fault_incidents.session_id`). A site's support
record is keyed by `chargers.site_id`, a free text id without a table of its own; a charger without a site
uses its own id as the site id.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, String, Text
from sqlalchemy import Table as _Table

from .schema import BigId, metadata
from .types import UtcDateTime

support_sites = _Table(
    "support_sites",
    metadata,
    Column("site_id", String(64), primary_key=True),
    Column("helpline", String(40), nullable=False),
    Column("hours", String(200), nullable=False),
    Column("languages", JSON, nullable=False),
    Column("chat", Boolean, nullable=False, default=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

support_conversations = _Table(
    "support_conversations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_id", BigInteger, nullable=False, unique=True),
    Column("charger_id", String(64), nullable=False),
    Column("station_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("first_response_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", String(64)),
    Column("driver_email", String(254)),  # where operator answers are mailed (from an e-mail or the feedback)
    Index(None, "status", "updated_at"),
    Index(None, "station_id", "opened_at"),
)

support_messages = _Table(
    "support_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("conversation_id", BigInteger, ForeignKey("support_conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("author", String(16), nullable=False),
    Column("operator", String(64)),
    Column("body", Text, nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("source", String(8), nullable=False, default="web", server_default="web"),  # web | email
    Index(None, "conversation_id", "id"),
)

# E-mail threading: every Message-ID the conversation's mails carried (ours out, the driver's in), so a reply
# whose recipient lost its token (a forward, an old client) still finds its conversation by In-Reply-To.
support_email_ids = _Table(
    "support_email_ids",
    metadata,
    Column("message_id", String(255), primary_key=True),
    Column("conversation_id", BigInteger, ForeignKey("support_conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("direction", String(3), nullable=False),  # out | in
    Column("at", UtcDateTime, nullable=False),
)

# A driver's dispute of an issued invoice (from feedback or support), decided by the operator: rejected with a
# reason the driver sees, or accepted with a credit note (and a reissued invoice when the session is billable).
billing_disputes = _Table(
    "billing_disputes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_id", BigInteger, nullable=False),
    Column("invoice_number", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | rejected | accepted
    Column("opened_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("decided_by", String(64)),
    Column("reason", Text),  # shown to the driver
    Column("credit_note", String(64)),
    Column("reissued_invoice", String(64)),
    Index(None, "status", "opened_at"),
    Index(None, "transaction_id"),
)
