"""Feedback tokens: the secret in a receipt link or QR code that lets a driver rate one session.

A token stands in for a login, so it must be unguessable (256 random bits) and the database holds
only its SHA-256 digest: a leaked table then cannot be replayed as links. Tokens are high-entropy,
so a plain hash (no salt, no slow KDF) is enough and lets the store look a digest up by index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; refusing anything much longer keeps hashing cheap for junk input.
MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True, slots=True)
class FeedbackToken:
    """A freshly issued token: `raw` goes to the driver, `digest` to the database. Never log `raw`."""

    raw: str
    digest: str

    def __repr__(self) -> str:
        return f"FeedbackToken(raw=<redacted>, digest={self.digest!r})"


def issue_token() -> FeedbackToken:
    """A new URL-safe token with `TOKEN_BYTES` of randomness from the OS CSPRNG."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return FeedbackToken(raw, token_digest(raw))


def token_digest(raw: str) -> str:
    """The hex SHA-256 of a token, the only form in which it is stored."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def token_matches(raw: str, stored_digest: str) -> bool:
    """Whether `raw` is the token behind `stored_digest`, compared in constant time."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        return False
    return hmac.compare_digest(token_digest(raw), stored_digest)
