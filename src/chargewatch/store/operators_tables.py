"""Tables of the operator dashboard: who may log in, and their open browser sessions.

Sessions live in the database (not only in the signed cookie) so that logging out, or an admin removing
an account, ends them at once, on every node.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from .schema import metadata
from .types import UtcDateTime

operators = Table(
    "operators",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),  # Argon2id, PHC string
    Column("role", String(16), nullable=False),  # admin | viewer
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
    Column("last_login_at", UtcDateTime),
)

operator_sessions = Table(
    "operator_sessions",
    metadata,
    # SHA-256 of the random session id the cookie carries: a leaked table does not open sessions.
    Column("id_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("operators.username", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "username"),
    Index(None, "expires_at"),
)

# Failed logins (HTTP Basic on /api and the login form alike), in the database so that every process and node
# behind one database backs off together. ``key`` is "account|client address" or "*|client address".
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=False),
    Column("blocked_until", UtcDateTime, nullable=False),
    Index(None, "last_failure_at"),
)
