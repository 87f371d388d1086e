"""Where chargers upload the logs chargewatch asked for: ``PUT`` or ``POST`` (raw body or multipart/form-data)
to ``/upload/{token}/`` (optionally ``/upload/{token}/{file name}``, as chargers that append the file name send).

Chargers cannot log in: the per-request unguessable token in the URL is the credential (a wrong or expired one is
403). A body over ``CHARGEWATCH_UPLOAD_MAX_BYTES`` is refused with 413 as soon as it is seen to be (by its
Content-Length, else while it streams in), so an upload never fills memory. Kept out of the OpenAPI document: it
is the chargers' interface, not the operators'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest
from starlette.types import Message

if TYPE_CHECKING:
    from ..workers.firmware import FirmwareWorker

# Multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_ALLOWANCE = 64 * 1024


class _TooLarge(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _file_of(request: Request, body: bytes, limit: int) -> tuple[str | None, str | None, bytes]:
    """(file name, content type, content) of a multipart body's first file part (else its first field)."""
    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await StarletteRequest(request.scope, replay).form(max_files=10, max_fields=20, max_part_size=limit)
    try:
        for _, value in form.multi_items():
            if isinstance(value, UploadFile):
                return value.filename, value.content_type, await value.read()
        for _, value in form.multi_items():
            return None, "text/plain", str(value).encode()
    finally:
        await form.close()
    raise HTTPException(422, "the multipart body holds no file")


def create_upload_router(worker: FirmwareWorker) -> APIRouter:
    from ..workers.firmware import UploadRefused

    router = APIRouter(include_in_schema=False)

    async def receive(request: Request, token: str, file_name: str | None) -> dict[str, Any]:
        limit = worker.settings.upload_max_bytes
        try:
            await worker.check_token(token)  # before reading a byte of a stranger's body
            content_type = request.headers.get("content-type", "")
            multipart = content_type.lower().startswith("multipart/form-data")
            body = await _read_limited(request, limit + (_MULTIPART_ALLOWANCE if multipart else 0))
            part_type: str | None = content_type or None
            if multipart:
                part_name, part_type, body = await _file_of(request, body, limit)
                file_name = file_name or part_name
                if len(body) > limit:
                    raise _TooLarge
            name = (file_name or "").rsplit("/", 1)[-1].strip() or None
            return await worker.receive_upload(token, name or "", part_type, body)
        except UploadRefused as exc:
            raise HTTPException(exc.status, exc.reason) from None
        except _TooLarge:
            raise HTTPException(413, f"the upload is larger than {limit} bytes") from None

    for path in ("/upload/{token}", "/upload/{token}/"):
        router.add_api_route(path, _without_name(receive), methods=["PUT", "POST"], status_code=201)
    router.add_api_route("/upload/{token}/{file_name}", receive, methods=["PUT", "POST"], status_code=201)
    return router


def _without_name(receive: Any) -> Any:
    async def route(request: Request, token: str) -> dict[str, Any]:
        return await receive(request, token, None)

    return route
