"""Cleaning of text drivers type: comments and free-text survey answers.

Text is shown later in the operator dashboard and in CSV exports, so control characters (terminal
escapes, NUL, form feeds) are refused outright rather than stripped: silently altering what a
driver wrote would be worse than asking them to fix it.
"""

from __future__ import annotations

import unicodedata

ALLOWED_CONTROLS = frozenset({"\n", "\t"})


def clean_free_text(value: object, max_length: int) -> str:
    """Return `value` NFC-normalised, with unified newlines and stripped; raise ValueError(reason)."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if any(unicodedata.category(char) == "Cc" and char not in ALLOWED_CONTROLS for char in text):
        raise ValueError("must not contain control characters")
    if len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters (got {len(text)})")
    return text
