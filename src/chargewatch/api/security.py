"""A charger's transport security over HTTP: its security profile and floor, and password rotation.

``POST /api/v1/chargers/{id}/security/rotate-password`` generates a strong random Basic auth password and sends it
(1.6: ChangeConfiguration AuthorizationKey, hex-encoded; 2.0.1: SetVariables SecurityCtrlr.BasicAuthPassword).
Once the charger accepts it, its hash is pending: the old password works until the charger's first connection
with the new one, and not after. The password is shown to nobody and stored nowhere in clear text.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field
from sqlalchemy import insert, update

from ..ocpp import credentials
from ..store import reads, schema, security
from .errors import error_responses

if TYPE_CHECKING:
    from .app import Services

ChargerId = Annotated[str, Path(max_length=64)]


class SecurityOut(BaseModel):
    charger_id: str
    security_profile: int | None = Field(None, description=(
        "of its latest connection: 1 ws:// (Basic auth), 2 TLS + Basic auth, 3 TLS with a client certificate"))
    connected_profile: int | None = Field(None, description="of its live connection to this node, if any")
    highest_profile: int | None = Field(None, description="the highest profile it was seen on")
    min_profile: int | None = Field(None, description="the operator's minimum for it")
    required_profile: int = Field(description=(
        "the lowest profile it may connect with (server floor, its minimum, the highest seen): below is a "
        "downgrade, refused with 403"))
    password_set: bool
    password_pending: bool = Field(description="a new password it accepted waits for its first connection with it")
    pending_since: Any = None
    password_changed_at: Any = None


class SecurityIn(BaseModel):
    min_profile: Literal[1, 2, 3] | None = Field(description="refuse this charger on any lower profile; null: none")


class RotateIn(BaseModel):
    timeout: float = Field(default=30.0, gt=0, le=300)


class RotateOut(BaseModel):
    command_id: int
    status: Literal["answered", "error", "timeout", "offline"]
    sent_action: str = Field(description="ChangeConfiguration (1.6) or SetVariables (2.0.1)")
    accepted: bool = Field(description="the charger accepted the new password (it is pending until it uses it)")
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def security_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["security"])
    engine = services.engine
    gateway = services.gateway

    def _state(charger_id: str) -> dict[str, Any]:
        with engine.connect() as connection:
            charger = reads.charger(connection, charger_id)
            if charger is None:
                raise HTTPException(404, f"charger {charger_id!r} not found")
            record = security.security_of(connection, charger_id)
        link = gateway.links.get(charger_id)
        return {"charger_id": charger_id, **record,
                "connected_profile": link.security_profile if link is not None else None,
                "required_profile": max(1, security.required_profile(record, gateway.config.min_security_profile)),
                "password_set": bool(charger.get("password_hash")),
                "password_pending": bool(security.pending_hashes(record)),
                "ocpp_version": charger.get("ocpp_version")}

    @router.get("/api/v1/chargers/{charger_id}/security", response_model=SecurityOut, responses=error_responses(404))
    async def get_security(charger_id: ChargerId) -> dict[str, Any]:
        """The charger's security profile (latest, live, highest seen), the operator's minimum, the profile it must
        connect with, and its password state."""
        return await asyncio.to_thread(_state, charger_id)

    @router.put("/api/v1/chargers/{charger_id}/security", response_model=SecurityOut,
                responses=error_responses(404))
    async def put_security(charger_id: ChargerId, body: SecurityIn) -> dict[str, Any]:
        """Set the lowest security profile the charger may connect with (null: no minimum of its own); a lower one
        is refused as a downgrade."""
        def store() -> dict[str, Any]:
            _state(charger_id)
            with engine.begin() as connection:
                security.set_min_profile(connection, charger_id, body.min_profile)
            return _state(charger_id)

        return await asyncio.to_thread(store)

    @router.post("/api/v1/chargers/{charger_id}/security/rotate-password", response_model=RotateOut,
                 responses=error_responses(404))
    async def rotate_password(charger_id: ChargerId, body: RotateIn | None = None) -> dict[str, Any]:
        """Send the charger a new random password (see the module's description for the rule)."""
        timeout = body.timeout if body is not None else 30.0
        state = await asyncio.to_thread(_state, charger_id)
        link = gateway.links.get(charger_id)
        version = link.adapter.version if link is not None else state["ocpp_version"] or "ocpp1.6"
        action, payload = rotation_command(version, credentials.generate_password())
        now = gateway.now()
        cmd = schema.commands

        def record() -> int:
            with engine.begin() as connection:
                return int(connection.execute(insert(cmd).values(
                    charger_id=charger_id, action=action, payload=credentials.redact_call(action, payload),
                    status="pending", requested_at=now, requested_by="rotate-password").returning(cmd.c.id))
                    .scalar_one())

        command_id = await asyncio.to_thread(record)
        result = await gateway.call(charger_id, action, payload, timeout)

        def finish() -> None:
            with engine.begin() as connection:
                connection.execute(update(cmd).where(cmd.c.id == command_id).values(
                    status=result.status, completed_at=gateway.now(),
                    response=result.response if result.response is not None else result.error))

        await asyncio.to_thread(finish)
        return {"command_id": command_id, "status": result.status, "sent_action": result.sent_action or action,
                "accepted": result.status == "answered" and credentials.accepted(action, result.response),
                "response": result.response, "error": result.error}

    return router


def rotation_command(version: str, password: str) -> tuple[str, dict[str, Any]]:
    """The command that sets ``password`` as the charger's Basic auth password, in its version's words."""
    if version == "ocpp2.0.1":
        return "SetVariables", {"setVariableData": [{
            "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
            "attributeValue": password}]}
    return "ChangeConfiguration", {"key": "AuthorizationKey", "value": credentials.authorization_key(password)}
