"""Driver links: an unguessable token per session, for the driver page, receipt QR code and feedback.

The token is the transaction id plus an HMAC of it under the instance secret, so it can be printed on
any later document without being stored, and cannot be guessed or enumerated without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_TAG_LENGTH = 22  # 132 bits of the HMAC, base64url


def _tag(secret: bytes, transaction_id: int) -> str:
    digest = hmac.new(secret, f"session:{transaction_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_TAG_LENGTH]


def session_token(secret: bytes, transaction_id: int) -> str:
    return f"{transaction_id}-{_tag(secret, transaction_id)}"


def transaction_of(secret: bytes, token: str) -> int | None:
    """The transaction id a token was issued for, or None if the token is not genuine."""
    number, _, tag = token.partition("-")
    if not (number.isascii() and number.isdigit()) or len(tag) != _TAG_LENGTH:
        return None
    transaction_id = int(number)
    return transaction_id if hmac.compare_digest(tag, _tag(secret, transaction_id)) else None


_REPLY_TAG_LENGTH = 26  # 130 bits of the HMAC, base32: case-insensitive, as e-mail local parts may be folded


def _reply_tag(secret: bytes, transaction_id: int) -> str:
    digest = hmac.new(secret, f"support-reply:{transaction_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:_REPLY_TAG_LENGTH]


def reply_token(secret: bytes, transaction_id: int) -> str:
    """The session's token in support e-mail addresses (``support+<token>@…``) and Message-IDs: another HMAC
    than the driver link's, so an e-mail address never opens the driver page."""
    return f"{transaction_id}-{_reply_tag(secret, transaction_id)}"


def transaction_of_reply_token(secret: bytes, token: str) -> int | None:
    number, _, tag = token.strip().lower().partition("-")
    if not (number.isascii() and number.isdigit()) or len(tag) != _REPLY_TAG_LENGTH:
        return None
    transaction_id = int(number)
    return transaction_id if hmac.compare_digest(tag, _reply_tag(secret, transaction_id)) else None
