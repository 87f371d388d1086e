"""Tables of smart charging (its own migration branch, ``smartcharging``): the charging profiles sent to chargers,
the composite schedules they answered with, and what 2.0.1 stations reported themselves (their profiles, external
limits set and cleared).

A profile row keeps the profile in neutral form (``profile``, as ``domain.charging.profile_to_json`` gives it), the
OCPP version and the CALL it was rendered as, the charger's answer, and whether it is in force on the charger
(``active``): Accepted and neither cleared nor replaced by a later profile at the same place, purpose and stack
level. The row id is the profile's chargingProfileId on the charger.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String
from sqlalchemy import Table as _Table

from .schema import BigId, metadata
from .types import ExactDecimal, UtcDateTime

charging_profiles = _Table(
    "charging_profiles",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),  # 0: the whole charger
    Column("purpose", String(16), nullable=False),  # ChargerMax | TxDefault | Tx
    Column("stack_level", Integer, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("ocpp_version", String(16), nullable=False),
    Column("sent_action", String(64)),
    Column("sent_payload", JSON),
    Column("command_id", BigInteger),  # the commands row it went out as
    # answered (see ``answer``) | error | timeout | offline | pending
    Column("status", String(16), nullable=False),
    Column("answer_status", String(32)),  # the charger's status: Accepted | Rejected | NotSupported
    Column("answer", JSON),  # the charger's whole answer (or the CALLERROR)
    Column("active", Boolean, nullable=False),
    Column("origin", String(16), nullable=False),  # profile | limit | site
    Column("site_id", String(64)),  # origin site: the site whose limit this share is
    Column("limit_kw", ExactDecimal),  # origin limit/site: the operator's kW for this place
    Column("created_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime),
    Column("cleared_at", UtcDateTime),
    Column("clear_answer", JSON),
    Index(None, "charger_id", "connector_id", "active"),
    Index(None, "site_id"),
)

composite_schedules = _Table(
    "composite_schedules",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("ocpp_version", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # the charger's status, or error | timeout | offline
    Column("schedule_start", UtcDateTime),
    Column("duration", Integer),
    Column("rate_unit", String(1)),
    Column("periods", JSON, nullable=False),  # [{start_period, limit (decimal string), number_phases?}]
    Column("response", JSON),
    Column("requested_at", UtcDateTime, nullable=False),
    Index(None, "charger_id", "connector_id", "id"),
)

charging_reports = _Table(
    "charging_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),  # ReportChargingProfiles | NotifyChargingLimit | ClearedChargingLimit
    Column("connector_id", Integer, nullable=False),
    Column("request_id", Integer),  # ReportChargingProfiles: the GetChargingProfiles requestId
    Column("limit_source", String(8), nullable=False),  # EMS | Other | SO | CSO
    Column("cleared", Boolean, nullable=False),
    Column("grid_critical", Boolean),
    Column("more_to_come", Boolean, nullable=False),
    Column("data", JSON, nullable=False),  # the profiles (neutral) or the limit's schedules
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "charger_id", "id"),
)
