"""The one paging style of every list in the API: ``?limit=&cursor=`` in, ``{"items": [...], "next_cursor": ...}`` out.

A cursor is the sort key of the last item of a page, opaque to clients (URL-safe base64 of a JSON array): the next
page seeks past it on an index (``WHERE key > cursor ORDER BY key LIMIT n + 1``), so page 100 costs what page 1
costs and rows added meanwhile are neither skipped nor repeated. ``next_cursor`` is null on the last page.
The sessions list (newest first, keyed by ``(started_at, transaction_id)``) keeps its own encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import HTTPException, Query

Limit = Annotated[int, Query(ge=1, le=500, description="items per page (1..500)")]
Cursor = Annotated[str | None, Query(max_length=512, description=(
    "the `next_cursor` of the previous page; absent for the first page"))]


def encode_cursor(*key: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The key a cursor holds, checked against the expected types (a forged or foreign cursor is a 422)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError, binascii.Error):
        key = None
    if (not isinstance(key, list) or len(key) != len(types)
            or not all(type(value) is kind for value, kind in zip(key, types, strict=True))):
        raise HTTPException(422, {"field": "cursor", "reason": "not a cursor returned by this API"})
    return tuple(key)


def page(rows: Sequence[Any], limit: int, key: Callable[[Any], tuple[str | int, ...]]) -> dict[str, Any]:
    """``rows`` fetched with ``LIMIT limit + 1`` as one page: the extra row only says that there is a next one."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(*key(items[-1])) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
