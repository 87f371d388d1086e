"""The other domains' JSON APIs (billing, faults, feedback) as the pages see them.

The pages call those APIs in-process over ASGI instead of importing the domains' stores: the HTTP API is the
contract the domains keep stable, and a domain that is not built yet simply has no route, which the pages
show as "not available yet" — checked on every render, so a domain appears the moment it is installed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Match

log = logging.getLogger(__name__)
_PARAMETER = re.compile(r"\{[^}]+\}")


@dataclass(frozen=True)
class Fetched:
    """One section's data: ``available`` False when the domain has no such route (yet)."""

    available: bool
    data: Any = None
    status: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.available and self.problem is None


UNAVAILABLE = Fetched(False)


class DomainApi:
    def __init__(self, app: FastAPI, internal_headers: Mapping[str, str]):
        self.app = app
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chargewatch.internal",
                                        headers=dict(internal_headers), timeout=10)

    def has(self, path: str, method: str = "GET") -> bool:
        """Whether the app serves this path template (e.g. ``/api/v1/incidents/{number}``).

        Asked through the routes' own matching (included routers do not list their routes up front).
        """
        scope = {"type": "http", "path": _PARAMETER.sub("0", path), "method": method, "root_path": ""}
        return any(route.matches(scope)[0] is Match.FULL for route in self.app.router.routes)

    async def get(self, template: str, params: Mapping[str, Any] | None = None, **path: Any) -> Fetched:
        if not self.has(template):
            return UNAVAILABLE
        url = template.format(**path)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self.client.get(url, params=query)
        except Exception as exc:  # noqa: BLE001 - one failing section must not take the page down
            log.warning("in-process GET %s failed: %s", url, exc)
            return Fetched(True, None, None, "could not be loaded")
        if response.status_code >= 400:
            detail = _detail(response)
            return Fetched(True, None, response.status_code, detail)
        try:
            return Fetched(True, response.json(), response.status_code)
        except ValueError:
            return Fetched(True, response.text, response.status_code)

    async def raw(self, template: str, params: Mapping[str, Any] | None = None, **path: Any) -> bytes | None:
        """A document (PDF, CSV) as bytes, or None if the route is missing or answers with an error."""
        if not self.has(template):
            return None
        try:
            response = await self.client.get(template.format(**path), params=dict(params or {}))
        except Exception as exc:  # noqa: BLE001 - reported as missing, like an error status
            log.warning("in-process GET %s failed: %s", template, exc)
            return None
        return response.content if response.status_code == 200 else None

    async def close(self) -> None:
        await self.client.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code}"
