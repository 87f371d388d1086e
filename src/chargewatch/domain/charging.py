"""Smart charging in neutral words: a charging profile (a limit over time), its validation, the operator's simple
"limit to N kW", and the composite schedule a charger reports.

Each OCPP adapter renders a :class:`ChargingProfile` in its own words (``ocpp.v16.smart``, ``ocpp.v201.smart``):
the purposes are named here as what they limit — the whole charger (1.6 ChargePointMaxProfile, 2.0.1
ChargingStationMaxProfile), every transaction on a connector by default (TxDefaultProfile), one transaction
(TxProfile). ``connector_id`` is the neutral charging point (2.0.1: the EVSE); 0 is the whole charger. A TxProfile
names the session by our internal id; the adapter turns it into the charger's own transaction reference.

Validation follows OCPP 1.6 §5.16/§7.8 and 2.0.1 K01 (the same rules in both): stack level ≥ 0 (and within what the
charger reports it supports), periods ascending from 0, each start within the schedule's duration, rate unit A or W,
limits with at most one decimal (1.6 multipleOf 0.1; 2.0.1 "accepts at most one digit fraction"), numberPhases 1-3,
a TxProfile only for a running transaction, a recurring profile with kind Recurring and its recurrencyKind. Every
error names the field (a path into the neutral JSON form, e.g. ``schedule.periods[1].start_period``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

# The operator's simple limit, when the charger only takes Current: a European supply, 230 V phase to neutral, on
# all three phases (a single-phase charger can be told so: phases=1). limit_A = W / (230 V × phases), rounded down.
ASSUMED_VOLTAGE = 230
ASSUMED_PHASES = 3
# Operator limits sit on this stack level: a later limit at the same place and purpose replaces the earlier one
# (1.6 §5.16.2, 2.0.1 K01.FR.05: same stackLevel and purpose → replaced).
OPERATOR_STACK_LEVEL = 1
_INT32_MAX = 2**31 - 1
_RECURRENCE_SECONDS = {"Daily": 86_400, "Weekly": 604_800}
MAX_PERIODS = 1024  # 2.0.1 ChargingScheduleType.chargingSchedulePeriod maxItems


class Purpose(StrEnum):
    CHARGER_MAX = "ChargerMax"  # 1.6 ChargePointMaxProfile, 2.0.1 ChargingStationMaxProfile
    TX_DEFAULT = "TxDefault"  # TxDefaultProfile in both
    TX = "Tx"  # TxProfile in both


class Kind(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class ProfileInvalid(ValueError):
    """A profile that must not be sent; ``field`` is the path of the offending field in the neutral JSON form."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class SchedulePeriod:
    start_period: int  # seconds from the schedule's start
    limit: Decimal  # in the schedule's rate unit
    number_phases: int | None = None


@dataclass(frozen=True)
class ChargingSchedule:
    rate_unit: str  # "A" | "W"
    periods: tuple[SchedulePeriod, ...]
    duration: int | None = None  # seconds; None: the last period goes on
    start_schedule: datetime | None = None
    min_charging_rate: Decimal | None = None


@dataclass(frozen=True)
class ChargingProfile:
    profile_id: int  # the charger's chargingProfileId (our row id)
    connector_id: int  # 0: the whole charger
    purpose: Purpose
    stack_level: int
    kind: Kind
    schedule: ChargingSchedule
    recurrency_kind: str | None = None  # Daily | Weekly (kind Recurring only)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | None = None  # our session id (TxProfile only)


@dataclass(frozen=True)
class CompositeSchedule:
    """What a charger answered GetCompositeSchedule with: the limit it will apply, period by period."""

    connector_id: int
    status: str  # Accepted | Rejected
    schedule_start: datetime | None = None
    duration: int | None = None
    rate_unit: str | None = None
    periods: tuple[SchedulePeriod, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------- the neutral JSON form (API, store)


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ProfileInvalid(name, "must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ProfileInvalid(name, "must be a number") from None
    if not number.is_finite():
        raise ProfileInvalid(name, "must be a finite number")
    return number


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileInvalid(name, "must be an integer")
    if not -_INT32_MAX - 1 <= value <= _INT32_MAX:
        raise ProfileInvalid(name, "out of the 32-bit integer range")
    return value


def _time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ProfileInvalid(name, "must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ProfileInvalid(name, "must carry a time zone (e.g. Z)")
    return moment


def _enum(kind: type[StrEnum], value: Any, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ProfileInvalid(name, f"must be one of {', '.join(m.value for m in kind)}") from None


def profile_from_json(data: Mapping[str, Any], profile_id: int = 0) -> ChargingProfile:
    """A profile from its neutral JSON form (what the API takes and the store keeps); types are checked here,
    the rules by :func:`validate`."""
    schedule = data.get("schedule")
    if not isinstance(schedule, Mapping):
        raise ProfileInvalid("schedule", "required: {rate_unit, periods, duration?, start_schedule?}")
    raw_periods = schedule.get("periods")
    if not isinstance(raw_periods, Sequence) or isinstance(raw_periods, str | bytes) or not raw_periods:
        raise ProfileInvalid("schedule.periods", "at least one period is required")
    periods = []
    for i, period in enumerate(raw_periods):
        name = f"schedule.periods[{i}]"
        if not isinstance(period, Mapping):
            raise ProfileInvalid(name, "must be {start_period, limit, number_phases?}")
        phases = period.get("number_phases")
        periods.append(SchedulePeriod(_int(period.get("start_period"), f"{name}.start_period"),
                                      _decimal(period.get("limit"), f"{name}.limit"),
                                      None if phases is None else _int(phases, f"{name}.number_phases")))
    duration = schedule.get("duration")
    minimum = schedule.get("min_charging_rate")
    transaction_id = data.get("transaction_id")
    return ChargingProfile(
        profile_id=profile_id or _int(data.get("profile_id", 0), "profile_id"),
        connector_id=_int(data.get("connector_id", 0), "connector_id"),
        purpose=_enum(Purpose, data.get("purpose"), "purpose"),
        stack_level=_int(data.get("stack_level", 0), "stack_level"),
        kind=_enum(Kind, data.get("kind", Kind.ABSOLUTE.value), "kind"),
        recurrency_kind=data.get("recurrency_kind"),
        valid_from=_time(data.get("valid_from"), "valid_from"),
        valid_to=_time(data.get("valid_to"), "valid_to"),
        transaction_id=None if transaction_id is None else _int(transaction_id, "transaction_id"),
        schedule=ChargingSchedule(
            rate_unit=str(schedule.get("rate_unit", "")),
            periods=tuple(periods),
            duration=None if duration is None else _int(duration, "schedule.duration"),
            start_schedule=_time(schedule.get("start_schedule"), "schedule.start_schedule"),
            min_charging_rate=None if minimum is None else _decimal(minimum, "schedule.min_charging_rate"),
        ),
    )


def decimal_text(value: Decimal) -> str:
    """A limit as text without exponent or trailing zeros: 11000.0 → "11000", 16.50 → "16.5"."""
    return format(value.normalize(), "f")


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number for an OCPP payload (an integer where it is one: 11000, not 11000.0)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def period_json(period: SchedulePeriod) -> dict[str, Any]:
    out: dict[str, Any] = {"start_period": period.start_period, "limit": decimal_text(period.limit)}
    if period.number_phases is not None:
        out["number_phases"] = period.number_phases
    return out


def profile_to_json(profile: ChargingProfile) -> dict[str, Any]:
    schedule = profile.schedule
    return {
        "profile_id": profile.profile_id, "connector_id": profile.connector_id, "purpose": profile.purpose.value,
        "stack_level": profile.stack_level, "kind": profile.kind.value, "recurrency_kind": profile.recurrency_kind,
        "valid_from": _iso(profile.valid_from), "valid_to": _iso(profile.valid_to),
        "transaction_id": profile.transaction_id,
        "schedule": {"rate_unit": schedule.rate_unit, "duration": schedule.duration,
                     "start_schedule": _iso(schedule.start_schedule),
                     "min_charging_rate": None if schedule.min_charging_rate is None
                     else decimal_text(schedule.min_charging_rate),
                     "periods": [period_json(p) for p in schedule.periods]},
    }


def composite_to_json(composite: CompositeSchedule) -> dict[str, Any]:
    return {"connector_id": composite.connector_id, "status": composite.status,
            "schedule_start": _iso(composite.schedule_start), "duration": composite.duration,
            "rate_unit": composite.rate_unit, "periods": [period_json(p) for p in composite.periods]}


# ---------------------------------------------------------------- the rules


def _one_decimal(value: Decimal, name: str) -> None:
    if value != value.quantize(Decimal("0.1"), rounding=ROUND_DOWN):
        raise ProfileInvalid(name, "at most one decimal (e.g. 16.5)")


def validate(profile: ChargingProfile, *, active_transactions: Mapping[int, int] | None = None,
             max_stack_level: int | None = None) -> None:
    """Raise :class:`ProfileInvalid` (naming the field) unless the profile may be sent.

    ``active_transactions``: the charger's running sessions, connector → our session id (a TxProfile needs one);
    None skips that check. ``max_stack_level``: what the charger reports (1.6 ChargeProfileMaxStackLevel, 2.0.1
    SmartChargingCtrlr.ProfileStackLevel), where known."""
    if profile.profile_id <= 0:
        raise ProfileInvalid("profile_id", "must be a positive integer")
    if profile.connector_id < 0:
        raise ProfileInvalid("connector_id", "must be 0 (the whole charger) or a connector number")
    if profile.stack_level < 0:
        raise ProfileInvalid("stack_level", "must be 0 or more")
    if max_stack_level is not None and profile.stack_level > max_stack_level:
        raise ProfileInvalid("stack_level", f"the charger supports stack levels 0 to {max_stack_level}")
    if profile.purpose is Purpose.CHARGER_MAX and profile.connector_id != 0:
        raise ProfileInvalid("connector_id", "a ChargerMax profile limits the whole charger: connector 0")
    if profile.purpose is Purpose.TX:
        if profile.transaction_id is None:
            raise ProfileInvalid("transaction_id", "a Tx profile needs the transaction it limits")
        if profile.connector_id == 0:
            raise ProfileInvalid("connector_id", "a Tx profile is set on the transaction's connector, not 0")
        if active_transactions is not None and active_transactions.get(profile.connector_id) != \
                profile.transaction_id:
            raise ProfileInvalid("transaction_id", f"no session {profile.transaction_id} is running on connector "
                                                   f"{profile.connector_id}")
    elif profile.transaction_id is not None:
        raise ProfileInvalid("transaction_id", "only a Tx profile names a transaction")
    if profile.kind is Kind.RECURRING:
        if profile.recurrency_kind not in _RECURRENCE_SECONDS:
            raise ProfileInvalid("recurrency_kind", "a Recurring profile needs recurrency_kind Daily or Weekly")
        if profile.schedule.start_schedule is None:
            raise ProfileInvalid("schedule.start_schedule", "a Recurring profile needs the start it recurs from")
        if (profile.schedule.duration or 0) > _RECURRENCE_SECONDS[profile.recurrency_kind]:
            raise ProfileInvalid("schedule.duration", f"longer than one {profile.recurrency_kind} recurrence")
    elif profile.recurrency_kind is not None:
        raise ProfileInvalid("recurrency_kind", "only a profile of kind Recurring recurs")
    if profile.valid_from and profile.valid_to and profile.valid_to <= profile.valid_from:
        raise ProfileInvalid("valid_to", "must be after valid_from")
    _validate_schedule(profile.schedule)


def _validate_schedule(schedule: ChargingSchedule) -> None:
    if schedule.rate_unit not in ("A", "W"):
        raise ProfileInvalid("schedule.rate_unit", "must be A (current) or W (power)")
    if schedule.duration is not None and schedule.duration <= 0:
        raise ProfileInvalid("schedule.duration", "must be a positive number of seconds")
    if schedule.min_charging_rate is not None:
        if schedule.min_charging_rate < 0:
            raise ProfileInvalid("schedule.min_charging_rate", "must not be negative")
        _one_decimal(schedule.min_charging_rate, "schedule.min_charging_rate")
    if not schedule.periods:
        raise ProfileInvalid("schedule.periods", "at least one period is required")
    if len(schedule.periods) > MAX_PERIODS:
        raise ProfileInvalid("schedule.periods", f"at most {MAX_PERIODS} periods")
    previous: int | None = None
    for i, period in enumerate(schedule.periods):
        name = f"schedule.periods[{i}]"
        if i == 0 and period.start_period != 0:
            raise ProfileInvalid(f"{name}.start_period", "the first period starts at 0")
        if previous is not None and period.start_period <= previous:
            raise ProfileInvalid(f"{name}.start_period", "periods must be in ascending order of start_period")
        if schedule.duration is not None and period.start_period >= schedule.duration:
            raise ProfileInvalid(f"{name}.start_period", f"starts at or after the schedule's duration "
                                                         f"({schedule.duration} s)")
        if period.limit <= 0:
            raise ProfileInvalid(f"{name}.limit", "must be greater than 0")
        _one_decimal(period.limit, f"{name}.limit")
        if period.number_phases is not None and not 1 <= period.number_phases <= 3:
            raise ProfileInvalid(f"{name}.number_phases", "must be 1, 2 or 3")
        previous = period.start_period


# ---------------------------------------------------------------- the operator's simple limit


def allows_power(allowed_units: str | None) -> bool:
    """Whether a charger takes schedules in W: 1.6 ChargingScheduleAllowedChargingRateUnit ("Current", "Power",
    "Current,Power") or 2.0.1 SmartChargingCtrlr.RateUnit ("A", "W", "A,W"); unknown: assumed to."""
    if not allowed_units:
        return True
    words = {word.strip().lower() for word in allowed_units.split(",")}
    return bool(words & {"power", "w"})


def watts_to_amps(watts: Decimal, phases: int = ASSUMED_PHASES, voltage: int = ASSUMED_VOLTAGE) -> Decimal:
    """The per-phase current limit for a power limit: W / (V × phases), rounded down to 0.1 A (never above)."""
    return (watts / (voltage * phases)).quantize(Decimal("0.1"), rounding=ROUND_DOWN)


def limit_profile(profile_id: int, connector_id: int, kilowatts: Decimal, *, allowed_units: str | None, now: datetime,
                  phases: int = ASSUMED_PHASES, voltage: int = ASSUMED_VOLTAGE) -> ChargingProfile:
    """"Limit this connector (or the whole charger, connector 0) to N kW" as a profile: a connector gets a
    TxDefault profile (every transaction on it), the charger a ChargerMax profile; Absolute from ``now``, one
    period, no end. In W, or — when the charger takes only Current — in A per phase under the stated assumption
    (``phases`` at ``voltage``), with numberPhases."""
    if kilowatts <= 0:
        raise ProfileInvalid("kw", "must be greater than 0")
    watts = (kilowatts * 1000).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    if allows_power(allowed_units):
        period = SchedulePeriod(0, watts)
        unit = "W"
    else:
        period = SchedulePeriod(0, watts_to_amps(watts, phases, voltage), phases)
        unit = "A"
    profile = ChargingProfile(
        profile_id=profile_id, connector_id=connector_id,
        purpose=Purpose.CHARGER_MAX if connector_id == 0 else Purpose.TX_DEFAULT,
        stack_level=OPERATOR_STACK_LEVEL, kind=Kind.ABSOLUTE,
        schedule=ChargingSchedule(rate_unit=unit, periods=(period,), start_schedule=now))
    validate(profile)
    return profile


def site_shares(kilowatts: Decimal, charger_ids: Sequence[str]) -> dict[str, Decimal]:
    """A site's limit divided across its chargers: equal shares, each rounded down to 0.1 kW, so the chargers
    together never exceed the site's limit (whatever each draws)."""
    if not charger_ids:
        return {}
    share = (kilowatts / len(charger_ids)).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    if share <= 0:
        raise ProfileInvalid("kw", f"{kilowatts} kW across {len(charger_ids)} chargers leaves none a limit of 0.1 kW")
    return dict.fromkeys(sorted(charger_ids), share)


# ---------------------------------------------------------------- what a station reports (2.0.1), as changes


@dataclass(frozen=True)
class ChargingProfilesReported:
    """Profiles a station holds (2.0.1 ReportChargingProfiles, answering GetChargingProfiles), in neutral form
    (``profiles`` as :func:`profile_to_json` gives them; ``transaction_id`` there is the station's reference)."""

    request_id: int
    connector_id: int
    limit_source: str  # EMS | Other | SO | CSO
    profiles: tuple[dict[str, Any], ...]
    more_to_come: bool
    at: datetime


@dataclass(frozen=True)
class ChargingLimitChanged:
    """An external limit set or lifted on a station (2.0.1 NotifyChargingLimit / ClearedChargingLimit): by an
    energy management system, the system operator, …; ``schedules`` as :func:`profile_to_json` schedules."""

    connector_id: int  # 0: the whole station
    limit_source: str
    cleared: bool
    grid_critical: bool | None
    schedules: tuple[dict[str, Any], ...]
    at: datetime
