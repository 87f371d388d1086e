"""Pydantic shapes of the HTTP API (they are also the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ConnectorOut(BaseModel):
    connector_id: int
    status: str
    error_code: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_at: datetime


class ChargerOut(BaseModel):
    id: str
    registered: bool
    timezone: str
    tariff_id: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    connected: bool
    last_seen_at: datetime | None = None
    last_boot_at: datetime | None = None
    heartbeat_interval: int
    connectors: list[ConnectorOut] = []


class ChargerIn(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[^/\s]+$")
    password: str | None = Field(default=None, min_length=8, max_length=64)
    timezone: str = "UTC"
    tariff_id: str | None = None


class SessionOut(BaseModel):
    transaction_id: int
    charger_id: str
    connector_id: int
    id_tag: str
    status: str
    started_at: datetime
    stopped_at: datetime | None = None
    meter_start_wh: int
    meter_stop_wh: int | None = None
    energy_wh: int
    power_w: int | None = None
    max_power_w: int
    soc: int | None = None
    duration_seconds: int
    charging_seconds: int
    idle_seconds: int
    stop_reason: str | None = None
    flags: list[str]
    transaction_ref: str | None = Field(default=None, description=(
        "The charger's own name for the transaction (OCPP 2.0.1 transactionId; the 1.6 id as text)"))


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None = None


class MeterPoint(BaseModel):
    timestamp: datetime
    measurand: str
    phase: str
    location: str
    context: str
    unit: str
    value: str
    signed_data: str | None = None


class SessionDetail(SessionOut):
    driver_path: str
    meter_readings: list[MeterPoint]


class CommandIn(BaseModel):
    action: Literal[
        "RemoteStartTransaction", "RemoteStopTransaction", "Reset", "UnlockConnector", "ChangeAvailability",
        "TriggerMessage", "GetConfiguration", "ChangeConfiguration", "ClearCache", "DataTransfer",
        # OCPP 2.0.1 names (a 1.6 charger gets none of these; a 2.0.1 one gets the 1.6 names rendered)
        "RequestStartTransaction", "RequestStopTransaction", "GetVariables", "SetVariables",
    ]
    payload: dict[str, Any] = {}
    timeout: float = Field(default=30.0, gt=0, le=300)


class CommandOut(BaseModel):
    id: int
    status: Literal["answered", "error", "timeout", "offline"]
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    sent_action: str | None = Field(default=None, description=(
        "The action the charger received: the same as requested, or its equivalent in the charger's OCPP "
        "version (e.g. RemoteStartTransaction → RequestStartTransaction for OCPP 2.0.1)"))


class IdTagIn(BaseModel):
    id_tag: str = Field(min_length=1, max_length=20)
    status: Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"] = "Accepted"
    expiry_date: datetime | None = None
    parent_id_tag: str | None = Field(default=None, max_length=20)
    description: str | None = None


class IdTagOut(IdTagIn):
    pass


class MessageOut(BaseModel):
    id: int
    at: datetime
    direction: str
    message_type: int | None
    message_id: str | None
    action: str | None
    payload: str
