"""The one error body of the HTTP API: RFC 9457 problem details, and the OpenAPI document that says so.

Every 4xx/5xx the API sends — a route's refusal, a parameter that fails validation, the login guard, an
unknown path — is ``application/problem+json``::

    {"status": 422, "title": "Unprocessable Content",
     "detail": "offset: Input should be less than or equal to 1000000",
     "errors": [{"field": "offset", "reason": "Input should be less than or equal to 1000000"}]}

``detail`` is always one human-readable string; ``errors`` lists the fields at fault (empty when no field is).
Routes keep raising ``HTTPException`` with a string, a ``{"field", "reason"}`` dict or a list of them; the
handlers here turn each into this shape, so no router builds error bodies itself.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_LOCATIONS = frozenset({"query", "path", "body", "header", "cookie"})


class FieldProblem(BaseModel):
    field: str = Field(description="the parameter or body field, e.g. `since`, `elements[1].price_components[0].vat`")
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` names the fields at fault."""

    status: int = Field(ge=400, le=599)
    title: str = Field(description="the HTTP status phrase")
    detail: str = Field(description="what went wrong, for a person")
    errors: list[FieldProblem] = Field(default_factory=list)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(status: int, detail: str, errors: Iterable[Mapping[str, str]] = ()) -> dict[str, Any]:
    listed = [{"field": str(e.get("field", "")), "reason": str(e.get("reason", ""))} for e in errors]
    return {"status": status, "title": _title(status), "detail": detail, "errors": listed}


def problem_response(status: int, detail: str, errors: Iterable[Mapping[str, str]] = (),
                     headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, errors), status_code=status, headers=dict(headers or {}),
                        media_type=PROBLEM_MEDIA_TYPE)


def _from_detail(detail: Any) -> tuple[str, list[dict[str, str]]]:
    """A route's ``HTTPException.detail`` (string, {field, reason} or a list of those) as (detail, errors)."""
    if isinstance(detail, Mapping):
        detail = [detail]
    if isinstance(detail, list) and all(isinstance(item, Mapping) for item in detail):
        errors = [{"field": str(item["field"]), "reason": str(item.get("reason", ""))}
                  for item in detail if item.get("field") is not None]
        text = "; ".join(f"{item['field']}: {item.get('reason', '')}" if item.get("field") is not None
                         else str(item.get("reason", "")) for item in detail)
        return text, errors
    return str(detail), []


def _field_of(loc: Sequence[Any]) -> str:
    parts = list(loc[1:] if loc and loc[0] in _LOCATIONS else loc)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or (str(loc[0]) if loc else "$")


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"field": _field_of(tuple(e.get("loc", ()))), "reason": str(e.get("msg", "invalid"))} for e in errors]


async def _http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail, errors = _from_detail(exc.detail)
    return problem_response(exc.status_code, detail, errors, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    return problem_response(422, "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "invalid request",
                            errors)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback after this; the client gets the same shape as every other error.
    return problem_response(500, "internal error; the server log has the details")


_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RefuseNul:
    """NUL characters in a path, a query parameter, a JSON string or a form field are refused with 422 before any
    route sees them: PostgreSQL cannot store or even compare text containing NUL (it raised, and the client got a
    500). The API, the console's pages and their forms alike; other bodies (uploaded files) are left as they are."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = None
        if "\x00" in scope["path"]:
            field = "path"
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            field = next((name for name, value in parse_qsl(query, keep_blank_values=True)
                          if "\x00" in name or "\x00" in value), None)
        if field is not None:
            await _send_nul_refusal(send, field)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        form = b"application/x-www-form-urlencoded" in content_type
        if b"json" not in content_type and not form:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if form:
            fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            field = next((name for name, value in fields if "\x00" in name or "\x00" in value), None)
        elif _JSON_NUL.search(body):
            field = "body"
        if field is not None:
            await _send_nul_refusal(send, field)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send_nul_refusal(send: Send, field: str) -> None:
    reason = "must not contain NUL characters"
    body = json.dumps(problem_body(422, f"{field}: {reason}", [{"field": field, "reason": reason}])).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(RefuseNul)


# ---------------------------------------------------------------------------------------------- OpenAPI

_DESCRIPTIONS = {
    400: "Bad request", 401: "Operator login required (session cookie or HTTP Basic), or wrong credentials",
    403: "Forbidden: a viewer may not change things, or the CSRF token is missing",
    404: "Not found", 409: "Conflict with the current state", 413: "Request too large",
    422: "A parameter or body field is invalid (named in `errors`)",
    429: "Too many attempts; wait `Retry-After` seconds",
}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may answer these error statuses (all with the problem body)."""
    return {status: {"description": _DESCRIPTIONS.get(status, _title(status)), "model": Problem,
                     "content": _problem_content()} for status in statuses}


def csv_responses(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering ``text/csv``."""
    return {200: {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "schema": schema}


def install_openapi(app: FastAPI, guarded: Callable[[str], bool]) -> None:
    """Post-process the generated document so it describes what is served.

    - FastAPI's own 422 body (``HTTPValidationError``) is replaced by ``Problem``;
    - operations behind the operator login (``guarded(path)``) list 401, 403 and 429 (the login throttle);
    - every error response declares the problem media type.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes, tags=app.openapi_tags)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas["FieldProblem"] = schemas["Problem"].pop("$defs")["FieldProblem"]
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                    continue
                responses = operation.setdefault("responses", {})
                extra = [401, 403, 429] if guarded(path) else []
                if operation.get("parameters") or operation.get("requestBody"):
                    extra.append(422)
                for status in extra:
                    responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
                for status, response in responses.items():
                    if status[:1] in {"4", "5"}:
                        response["content"] = _problem_content()
                    elif "text/csv" in response.get("content", {}):
                        # A CSV route's response class is PlainTextResponse; what it sends is text/csv only.
                        response["content"] = {"text/csv": {"schema": {"type": "string"}}}
                if "429" in responses:
                    responses["429"].setdefault("headers", {})["Retry-After"] = _header(
                        "seconds to wait", {"type": "integer", "minimum": 1})
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
