"""What telemetry said about a session, frozen next to the driver's feedback.

Feedback is only actionable when it can be related to what happened on the charger: a 2-star
rating after a session that ran at a third of the connector's power means something different
from a 2-star rating after a perfect session. The facts are captured once, when the feedback is
stored, so analytics never depend on re-deriving them from a raw log that may have been compacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from chargewatch.feedback.timestamps import as_utc, parse_utc


class FactFlag(StrEnum):
    """Telemetry conditions that plausibly explain a poor rating."""

    SLOW = "slow"
    LONG_IDLE = "long_idle"
    HAD_INCIDENT = "had_incident"
    ABORTED = "aborted"
    ZERO_ENERGY = "zero_energy"


INCIDENT_FLAG_PREFIX = "incident:"

# Stop reasons (OCPP 1.6 Reason, OCPP 2.0.1 ReasonEnumType) where the session ended for a reason other
# than the driver or the car deciding it was done.
ABORTED_STOP_REASONS: frozenset[str] = frozenset(
    {
        "EmergencyStop",
        "HardReset",
        "SoftReset",
        "Reboot",
        "PowerLoss",
        "DeAuthorized",
        "UnlockCommand",
        "GroundFault",
        "ImmediateReset",
        "OvercurrentFault",
        "PowerQuality",
        "Timeout",
        "MasterPass",
    }
)


def incident_flag(code: str) -> str:
    """The flag name for 'an incident with this code happened', e.g. ``incident:EVCommunicationError``."""
    return f"{INCIDENT_FLAG_PREFIX}{code}"


@dataclass(frozen=True, slots=True)
class FactThresholds:
    """Where 'slow' and 'long idle' begin; operators with mostly AC sites may want to tune them."""

    slow_power_ratio: Decimal = Decimal("0.5")
    long_idle_seconds: int = 30 * 60


DEFAULT_THRESHOLDS = FactThresholds()


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """A snapshot of one charging session's telemetry, as known when feedback was given.

    Power values are W, energy is integer Wh, instants are aware UTC. Optional values are None when
    the charger did not report them; derived flags then stay off rather than guessing.
    """

    session_id: str
    charger_id: str
    connector_id: int
    station_id: str
    started_at: datetime
    ended_at: datetime | None
    energy_wh: int
    avg_power_w: int | None = None
    peak_power_w: int | None = None
    connector_rating_w: int | None = None
    idle_seconds: int = 0
    price: Decimal | None = None
    currency: str | None = None
    incident_codes: frozenset[str] = frozenset()
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", as_utc(self.started_at, "started_at"))
        if self.ended_at is not None:
            ended = as_utc(self.ended_at, "ended_at")
            if ended < self.started_at:
                raise ValueError("ended_at must not be before started_at")
            object.__setattr__(self, "ended_at", ended)
        for name in ("energy_wh", "idle_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        for name in ("avg_power_w", "peak_power_w", "connector_rating_w"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative integer or None")
        if self.price is not None:
            if not isinstance(self.price, Decimal) or not self.price.is_finite() or self.price < 0:
                raise ValueError("price must be a finite non-negative Decimal")
            if not self.currency:
                raise ValueError("currency is required when price is given")
        object.__setattr__(self, "incident_codes", frozenset(self.incident_codes))

    def is_slow(self, thresholds: FactThresholds = DEFAULT_THRESHOLDS) -> bool:
        """Average power under the ratio of the connector rating; zero-energy sessions are flagged apart."""
        if self.avg_power_w is None or not self.connector_rating_w or self.energy_wh == 0:
            return False
        return Decimal(self.avg_power_w) < thresholds.slow_power_ratio * Decimal(self.connector_rating_w)

    def had_long_idle(self, thresholds: FactThresholds = DEFAULT_THRESHOLDS) -> bool:
        return self.idle_seconds >= thresholds.long_idle_seconds

    @property
    def had_incident(self) -> bool:
        return bool(self.incident_codes)

    @property
    def was_aborted(self) -> bool:
        return self.stop_reason in ABORTED_STOP_REASONS

    @property
    def delivered_no_energy(self) -> bool:
        return self.energy_wh == 0

    def flags(self, thresholds: FactThresholds = DEFAULT_THRESHOLDS) -> frozenset[str]:
        """All derived flags: `FactFlag` values plus one ``incident:<code>`` per incident code."""
        flags: set[str] = {incident_flag(code) for code in self.incident_codes}
        if self.is_slow(thresholds):
            flags.add(FactFlag.SLOW)
        if self.had_long_idle(thresholds):
            flags.add(FactFlag.LONG_IDLE)
        if self.had_incident:
            flags.add(FactFlag.HAD_INCIDENT)
        if self.was_aborted:
            flags.add(FactFlag.ABORTED)
        if self.delivered_no_energy:
            flags.add(FactFlag.ZERO_ENERGY)
        return frozenset(str(flag) for flag in flags)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict for storage; money as a decimal string, instants as ISO 8601 UTC."""
        return {
            "session_id": self.session_id,
            "charger_id": self.charger_id,
            "connector_id": self.connector_id,
            "station_id": self.station_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "energy_wh": self.energy_wh,
            "avg_power_w": self.avg_power_w,
            "peak_power_w": self.peak_power_w,
            "connector_rating_w": self.connector_rating_w,
            "idle_seconds": self.idle_seconds,
            "price": str(self.price) if self.price is not None else None,
            "currency": self.currency,
            "incident_codes": sorted(self.incident_codes),
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SessionFacts:
        """Inverse of `to_record`; raises ValueError on malformed stored data."""
        try:
            price = Decimal(record["price"]) if record.get("price") is not None else None
        except InvalidOperation as error:
            raise ValueError("price is not a decimal string") from error
        ended = record.get("ended_at")
        return cls(
            session_id=record["session_id"],
            charger_id=record["charger_id"],
            connector_id=record["connector_id"],
            station_id=record["station_id"],
            started_at=parse_utc(record["started_at"]),
            ended_at=parse_utc(ended) if ended else None,
            energy_wh=record["energy_wh"],
            avg_power_w=record.get("avg_power_w"),
            peak_power_w=record.get("peak_power_w"),
            connector_rating_w=record.get("connector_rating_w"),
            idle_seconds=record.get("idle_seconds", 0),
            price=price,
            currency=record.get("currency"),
            incident_codes=frozenset(record.get("incident_codes", ())),
            stop_reason=record.get("stop_reason"),
        )
