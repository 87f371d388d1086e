"""Pydantic shapes of the HTTP API (they are also the OpenAPI document), and the bounded parameter types every
router uses: a number the database cannot hold, or a timestamp that is not one, is a 422 naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from ..ocpp import v16
from ..ocpp.v201 import commands as v201_commands

INT64_MAX = 2**63 - 1  # what SQLite's INTEGER and PostgreSQL's bigint hold
INT32_MAX = 2**31 - 1

RowId = Annotated[int, Ge(1), Le(INT64_MAX)]
"""A row number the server gave out: incident numbers, message ids, cursors."""
TransactionId = Annotated[int, Ge(0), Le(INT64_MAX)]
ConnectorNumber = Annotated[int, Ge(0), Le(INT32_MAX)]
Offset = Annotated[int, Ge(0), Le(1_000_000)]
Threshold = Annotated[int, Ge(1), Le(1_000_000)]
"""A minimum count for an analysis (mentions, group size, sample)."""
SampleFloor = Annotated[int, Ge(10), Le(1_000_000)]
"""A minimum sample or group size for a statistical test: below 10 (3 against 1 rating) any 'difference' is noise."""

_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def _iso_8601(value: Any) -> Any:
    """Only an ISO 8601 date-time: pydantic would also read ``0.5`` as seconds since 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_8601.match(value):
        raise PydanticCustomError("timestamp",
                                  "must be an ISO 8601 date-time with an offset, e.g. 2026-11-02T09:00:00Z")
    return value


def _aware_utc(value: datetime) -> datetime:
    """Naive times are refused (is 09:00 the station's time, the server's or UTC?); aware ones become UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timestamp", "needs a time zone offset, e.g. 2026-11-02T09:00:00Z")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's end
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise PydanticCustomError("timestamp", "must be between 1970-01-01 and 3000-01-01")
    return utc


Timestamp = Annotated[datetime, BeforeValidator(_iso_8601), AfterValidator(_aware_utc)]
"""An instant: ISO 8601 with a UTC offset (``Z`` or ``+01:00``), 1970..3000. Every API timestamp is one."""


class EvseConnectorOut(BaseModel):
    connector_id: int = Field(description="the connector's number on its EVSE (OCPP 1.6 connector n: EVSE n, 1)")
    status: str | None = Field(None, description="as the charger last reported this connector")
    status_at: datetime | None = None
    connector_type: str | None = Field(None, description="OCPP 2.0.1 ConnectorEnumType from the device model, "
                                                         "e.g. cCCS2, cType2, sType2")
    max_power_w: int | None = None


class ConnectorOut(BaseModel):
    charger_id: str
    connector_id: int = Field(description="the charging point: the OCPP 1.6 connector, the OCPP 2.0.1 EVSE")
    evse_id: int = Field(description="the OCPP 2.0.1 EVSE id of this charging point (1.6 connector n is EVSE n)")
    status: str
    error_code: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_at: datetime
    max_power_w: int | None = Field(None, description="rated power, as configured or as the device model reports")
    evse_connectors: list[EvseConnectorOut] = Field([], description=(
        "the physical connectors of this EVSE, each with its own status (one in use: the others Unavailable)"))


class ConnectorPage(BaseModel):
    items: list[ConnectorOut]
    next_cursor: str | None = Field(None, description="the cursor of the next page; null on the last page")


class EvseOut(BaseModel):
    evse_id: int
    status: str | None = Field(None, description="the charging point's status (null: not reported yet)")
    max_power_w: int | None = None
    connectors: list[EvseConnectorOut]


class VariableOut(BaseModel):
    component: str
    component_instance: str = Field(description='"" when the component has no instance')
    evse_id: int = Field(description="0: not on an EVSE")
    connector_id: int = Field(description="0: not on a connector")
    variable: str
    variable_instance: str
    attribute_type: Literal["Actual", "Target", "MinSet", "MaxSet"]
    value: str | None = Field(None, description="null for a WriteOnly attribute")
    mutability: Literal["ReadOnly", "WriteOnly", "ReadWrite"]
    persistent: bool
    constant: bool
    unit: str | None = None
    data_type: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    request_id: int = Field(description="the report (GetBaseReport/GetReport requestId) that last described it")
    reported_at: datetime


class DeviceReportOut(BaseModel):
    request_id: int
    parts: int = Field(description="distinct NotifyReport parts received")
    last_seq_no: int
    sequence_gap: bool = Field(description="a part (seqNo) never arrived")
    complete: bool = Field(description="the last part (tbc false) arrived")
    generated_at: datetime


class VariablePage(BaseModel):
    items: list[VariableOut]
    next_offset: int | None = None
    reports: list[DeviceReportOut] = Field(description="the station's device-model reports, newest first")


class ChargerOut(BaseModel):
    charger_id: str = Field(description="the charge point id it connects with (ws://…/ocpp/{charger_id})")
    id: str = Field(deprecated=True, description="the same as charger_id, kept for older clients")
    registered: bool
    timezone: str
    tariff_id: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    ocpp_version: str | None = Field(None, description="subprotocol of its latest connection: ocpp1.6 or ocpp2.0.1")
    connected: bool
    last_seen_at: datetime | None = None
    last_boot_at: datetime | None = None
    heartbeat_interval: int
    connectors: list[ConnectorOut] = []


class ChargerPage(BaseModel):
    items: list[ChargerOut]
    next_cursor: str | None = Field(None, description="the cursor of the next page; null on the last page")


class ChargerIn(BaseModel):
    charger_id: str = Field(min_length=1, max_length=64, pattern=r"^[^/\s]+$",
                            validation_alias=AliasChoices("charger_id", "id"),
                            description="the charge point id (`id` is accepted too, as older clients send it)")
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
    reservation_id: int | None = Field(default=None, description="the reservation the charger says the start used")
    transaction_ref: str | None = Field(default=None, description=(
        "The charger's own name for the transaction (OCPP 2.0.1 transactionId; the 1.6 id as text)"))
    evse_connector_id: int = Field(default=1, description=(
        "the physical connector on the charging point (connector_id, the 2.0.1 EVSE) the session used"))


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None = Field(None, description="the cursor of the next page; null on the last page")


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


# Every Central System → charger action of OCPP 1.6 (core, all profiles, security extension) and every CSMS →
# station action of 2.0.1, from the adapters' own lists; the charger's adapter validates the payload against the
# official schema before anything is sent (a violation is a 422 naming the field).
COMMAND_ACTIONS = tuple(sorted(v16.CENTRAL_ACTIONS | {"DataTransfer"} | v201_commands.CSMS_ACTIONS))


class CommandIn(BaseModel):
    action: Literal[COMMAND_ACTIONS] = Field(description=(  # type: ignore[valid-type]
        "OCPP 1.6 words are rendered for a 2.0.1 station (Reset Hard → Immediate, GetConfiguration → GetVariables, "
        "…); 2.0.1 actions go to a 2.0.1 station as given (Reset {type: Immediate|OnIdle, evseId} resets one EVSE; "
        "GetBaseReport without requestId gets one, and the NotifyReport answering it is stored: "
        "GET /api/v1/chargers/{id}/variables). A transactionId given as our session id (an integer) is sent as "
        "the station's own transactionId."))
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
    request_id: int | None = Field(default=None, description=(
        "the requestId of a report command (GetBaseReport, GetReport, GetMonitoringReport), given or chosen: the "
        "station's reports carry it (GET /api/v1/chargers/{id}/variables lists them)"))


class DisplayMessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=512, description="what the driver reads (2.0.1 allows 512 characters)")
    language: str | None = Field(default=None, min_length=2, max_length=8, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)?$",
                                 description="RFC 5646 language of the text, e.g. de or en-GB")
    connector_id: ConnectorNumber = Field(default=0, description=(
        "the connector (2.0.1: EVSE) whose screen shows it; 0 for the station's own screen. It is also the "
        "message's id: a new message for the same connector replaces the one shown"))
    timeout: float = Field(default=30.0, gt=0, le=300)


class DisplayMessageOut(BaseModel):
    id: int = Field(description="the message's id on the station (its connector number; 0: the station)")
    command_id: int
    status: Literal["answered", "error", "timeout", "offline"]
    sent_action: Literal["SetDisplayMessage", "ClearDisplayMessage", "DataTransfer"]
    rendering: str = Field(description="how the charger's OCPP version expresses it")
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class IdTagIn(BaseModel):
    id_tag: str = Field(min_length=1, max_length=20)
    status: Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"] = "Accepted"
    expiry_date: Timestamp | None = None
    parent_id_tag: str | None = Field(default=None, max_length=20)
    description: str | None = None


class IdTagOut(BaseModel):
    """What is stored, unconstrained: a tag stored before the length was checked is listed, not a 500."""

    id_tag: str
    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    description: str | None = None


class IdTagPage(BaseModel):
    items: list[IdTagOut]
    next_cursor: str | None = Field(None, description="the cursor of the next page; null on the last page")


class MessageOut(BaseModel):
    id: int
    at: datetime
    direction: str
    message_type: int | None
    message_id: str | None
    action: str | None
    payload: str
