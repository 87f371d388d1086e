"""The charging-session state machine: start, meter samples, stop, and the meter field bugs.

Pure: every function takes a session and returns a new one. Energy is integer Wh and never negative;
each repair or doubt is recorded in ``flags`` so billing can repair by rule or ask for review.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from .meter import Sample

# Average power below which a connected vehicle counts as idle (parking) rather than charging.
IDLE_POWER_THRESHOLD_W = 100


class Flag:
    """Meter anomalies from the field (DOMAIN.md), recorded on the session."""

    REGISTER_RESET = "register_reset"  # register went back (reboot); energy continues from the new base
    STOP_BELOW_LAST_SAMPLE = "stop_below_last_sample"  # meterStop < last register sample: last sample used
    METER_STOP_ZERO = "meter_stop_zero"  # meterStop 0 after samples: last sample used
    MISSING_STOP = "missing_stop"  # never stopped by the charger: closed at the last sample
    UNIT_SUSPECT = "unit_suspect"  # a kWh figure labelled Wh: scaled by 1000
    NO_METER_DATA = "no_meter_data"  # neither samples nor a plausible stop value
    SEQUENCE_GAP = "sequence_gap"  # OCPP 2.0.1: a TransactionEvent seqNo was skipped (a message is missing)
    DELIVERED_OFFLINE = "delivered_offline"  # OCPP 2.0.1: events were queued while offline and delivered late
    START_FROM_FIRST_SAMPLE = "start_from_first_sample"  # no reading at the start: energy counts from the first
    LATE_SAMPLES = "late_samples"  # samples older than ones already applied arrived (applied where order allows)
    INLET_REGISTER = "inlet_register"  # energy from the grid-side (Inlet) register: the charger sent no Outlet
    POWER_ESTIMATED = "power_estimated"  # no Power.Active.Import reported: power is estimated from energy
    START_REFUSED = "start_refused"  # StartTransaction answered with an idTagInfo other than Accepted


@dataclass(frozen=True, slots=True)
class ChargingSession:
    transaction_id: int
    charger_id: str
    connector_id: int
    id_tag: str
    started_at: datetime
    meter_start_wh: int
    status: str = "active"  # active | completed | rejected (a refused start the charger never stopped)
    stopped_at: datetime | None = None
    meter_stop_wh: int | None = None
    stop_reason: str | None = None
    energy_wh: int = 0
    last_register_wh: int | None = None
    baseline_wh: int | None = None  # register value energy is counted from (meterStart, or 0 after a reset)
    offset_wh: int = 0  # energy counted before the last register reset
    last_sample_at: datetime | None = None
    power_w: int | None = None
    max_power_w: int = 0
    soc: int | None = None
    charging_seconds: int = 0
    idle_seconds: int = 0
    flags: tuple[str, ...] = ()
    reservation_id: int | None = None
    transaction_ref: str | None = None  # the charger's reference: 1.6 id as text, 2.0.1 transactionId
    last_seq_no: int | None = None  # OCPP 2.0.1: the highest TransactionEvent seqNo applied
    start_status: str | None = None  # a refused start: the idTagInfo status its StartTransaction was answered
    evse_connector_id: int = 1  # the physical connector on the charging point (a 2.0.1 EVSE may have several)

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def duration_seconds(self) -> int:
        end = self.stopped_at or self.last_sample_at or self.started_at
        return max(0, int((end - self.started_at).total_seconds()))


def start(
    transaction_id: int,
    charger_id: str,
    connector_id: int,
    id_tag: str,
    started_at: datetime,
    meter_start_wh: int,
    reservation_id: int | None = None,
    refused: bool = False,
    start_status: str | None = None,
) -> ChargingSession:
    """A new session; ``refused`` when the StartTransaction was answered with anything but Accepted
    (``start_status``: what it was answered, e.g. Invalid or Blocked)."""
    return ChargingSession(
        transaction_id=transaction_id,
        charger_id=charger_id,
        connector_id=connector_id,
        id_tag=id_tag,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        last_register_wh=meter_start_wh,
        baseline_wh=meter_start_wh,
        reservation_id=reservation_id,
        flags=(Flag.START_REFUSED,) if refused else (),
        start_status=start_status if refused else None,
    )


def _without_flag(flags: tuple[str, ...], flag: str) -> tuple[str, ...]:
    return tuple(f for f in flags if f != flag)


def _with_flag(flags: tuple[str, ...], flag: str) -> tuple[str, ...]:
    return flags if flag in flags else (*flags, flag)


# Below this register value a kWh-as-Wh figure cannot be told from a register reset.
_KWH_DETECTABLE_FROM_WH = 10_000
# The most a connector can plausibly deliver (high-power DC); a larger jump is a reset, not a unit slip, and
# power estimated from energy is never above it when the connector's own rating is not known.
_MAX_POWER_W = 400_000
# A kWh figure with few decimals is up to half a kWh off the true register.
_KWH_ROUNDING_WH = 1_000


def _looks_like_kwh(value: Decimal, previous: int, seconds: float) -> bool:
    """A register labelled Wh that, times 1000, plausibly continues the previous one was sent in kWh."""
    scaled = value * 1000
    reachable = previous + int(_MAX_POWER_W * max(seconds, 0) / 3600) + _KWH_ROUNDING_WH
    return (
        previous >= _KWH_DETECTABLE_FROM_WH
        and value < previous / 100
        and previous - _KWH_ROUNDING_WH <= scaled <= reachable
    )


def _register(
    session: ChargingSession, value: Decimal, declared_unit: str, at: datetime
) -> tuple[ChargingSession, int]:
    """Fold a register reading in, handling unit mistakes and resets; returns the new energy."""
    previous = session.last_register_wh if session.last_register_wh is not None else session.meter_start_wh
    flags = session.flags
    seconds = (at - (session.last_sample_at or session.started_at)).total_seconds()
    if declared_unit == "Wh" and _looks_like_kwh(value, previous, seconds):
        value *= 1000
        flags = _with_flag(flags, Flag.UNIT_SUSPECT)
    register = int(value)
    offset, baseline = session.offset_wh, session.baseline_wh if session.baseline_wh is not None else previous
    if register < previous:
        offset += max(0, previous - baseline)
        baseline = 0
        flags = _with_flag(flags, Flag.REGISTER_RESET)
    energy = offset + max(0, register - baseline)
    updated = replace(session, last_register_wh=register, baseline_wh=baseline, offset_wh=offset, flags=flags)
    return updated, energy


def _power(session: ChargingSession, reported: int | None, delivered_wh: int, seconds: int,
           rating_w: int | None) -> ChargingSession:
    """Live and maximum power: the charger's Power.Active.Import when it sends one; else estimated from energy.

    An estimate is only made for a session whose charger has reported no power so far, and it is bounded by
    the connector's rating (or, with none known, by what any connector can deliver): energy deltas over short
    or bursty intervals are not a power measurement.
    """
    flags = session.flags
    if reported is not None:
        if Flag.POWER_ESTIMATED in flags:  # the first real value replaces the estimates
            return replace(session, power_w=reported, max_power_w=reported,
                           flags=_without_flag(flags, Flag.POWER_ESTIMATED))
        return replace(session, power_w=reported, max_power_w=max(session.max_power_w, reported))
    if session.power_w is not None and Flag.POWER_ESTIMATED not in flags:
        return session  # the charger reports power, just not in this sample: its last value stands
    if not seconds:
        return session
    bound = min(rating_w, _MAX_POWER_W) if rating_w else _MAX_POWER_W
    estimate = min(delivered_wh * 3600 // seconds, bound)
    return replace(session, power_w=estimate, max_power_w=max(session.max_power_w, estimate),
                   flags=_with_flag(flags, Flag.POWER_ESTIMATED))


def _advance(session: ChargingSession, at: datetime, energy: int, power_w: int | None,
             rating_w: int | None = None) -> ChargingSession:
    """Account the interval since the previous sample as charging or idle, by its average power."""
    since = session.last_sample_at or session.started_at
    seconds = max(0, int((at - since).total_seconds()))
    delivered = max(0, energy - session.energy_wh)
    average_w = delivered * 3600 // seconds if seconds else 0
    drawing = average_w >= IDLE_POWER_THRESHOLD_W or (power_w is not None and power_w >= IDLE_POWER_THRESHOLD_W)
    charging = session.charging_seconds + (seconds if drawing else 0)
    idle = session.idle_seconds + (0 if drawing else seconds)
    session = _power(session, power_w, delivered, seconds, rating_w)
    return replace(
        session,
        energy_wh=max(session.energy_wh, energy),
        last_sample_at=max(at, since),
        charging_seconds=charging,
        idle_seconds=idle,
    )


def _interval_energy(session: ChargingSession, interval_wh: Decimal) -> int:
    # Integer Wh: each interval is rounded to the nearest Wh (half to even); an interval never takes energy back.
    return session.energy_wh + max(0, int(interval_wh.to_integral_value()))


def apply_sample(session: ChargingSession, sample: Sample, rating_w: int | None = None) -> ChargingSession:
    """Apply one timestamp's readings.

    A sample at the last applied time is a replay (ignored). One older than that is late: it is flagged, and
    what does not depend on order is applied (interval energy, reported power); a register older than the last
    one says nothing new. The caller keeps samples it has already stored out (the machine keeps no history).
    """
    if not session.active or sample.timestamp < session.started_at:
        return session
    if session.last_sample_at is not None and sample.timestamp <= session.last_sample_at:
        return session if sample.timestamp == session.last_sample_at else _apply_late(session, sample)
    energy = session.energy_wh
    if sample.register_wh is not None:
        session, energy = _register(session, sample.register_wh, sample.declared_unit, sample.timestamp)
        if sample.inlet:
            session = replace(session, flags=_with_flag(session.flags, Flag.INLET_REGISTER))
    elif sample.interval_wh is not None:
        energy = _interval_energy(session, sample.interval_wh)
    session = _advance(session, sample.timestamp, energy, sample.power_w, rating_w)
    if sample.soc is not None:
        session = replace(session, soc=sample.soc)
    return session


def _apply_late(session: ChargingSession, sample: Sample) -> ChargingSession:
    energy = session.energy_wh
    if sample.register_wh is None and sample.interval_wh is not None:
        energy = _interval_energy(session, sample.interval_wh)
    peak = max(session.max_power_w, sample.power_w) if sample.power_w is not None else session.max_power_w
    return replace(session, flags=_with_flag(session.flags, Flag.LATE_SAMPLES), energy_wh=energy, max_power_w=peak)


def stop(
    session: ChargingSession,
    stopped_at: datetime,
    meter_stop_wh: int,
    reason: str,
    final_samples: list[Sample] = (),  # type: ignore[assignment]
    rating_w: int | None = None,
) -> ChargingSession:
    """Close the session with the charger's meterStop, repairing the known field bugs by rule."""
    if not session.active:
        return session
    for sample in final_samples:
        session = apply_sample(session, sample, rating_w)
    had_samples = session.last_sample_at is not None
    last = session.last_register_wh if session.last_register_wh is not None else session.meter_start_wh
    flags = session.flags
    if meter_stop_wh == 0 and last > 0:
        flags = _with_flag(flags, Flag.METER_STOP_ZERO)
        energy = session.energy_wh
    elif meter_stop_wh < last and not _looks_like_kwh(
        Decimal(meter_stop_wh), last, (stopped_at - (session.last_sample_at or session.started_at)).total_seconds()
    ):
        flags = _with_flag(flags, Flag.STOP_BELOW_LAST_SAMPLE)
        energy = session.energy_wh
    else:
        session, energy = _register(session, Decimal(meter_stop_wh), "Wh", stopped_at)
        flags = session.flags
    if not had_samples and energy == 0 and meter_stop_wh == 0:
        flags = _with_flag(flags, Flag.NO_METER_DATA)
    end = max(stopped_at, session.started_at)
    session = _advance(replace(session, flags=flags), end, energy, None, rating_w)
    # A refused start the charger stopped without delivering anything stays what it was: rejected, never billed.
    # (One that delivered energy is completed and held for billing review.)
    refused_empty = Flag.START_REFUSED in session.flags and session.energy_wh == 0
    return replace(
        session,
        status="rejected" if refused_empty else "completed",
        stopped_at=end,
        meter_stop_wh=meter_stop_wh,
        stop_reason=reason,
        power_w=0,
    )


def close_missing_stop(session: ChargingSession, reason: str = "Other") -> ChargingSession:
    """The charger will never stop this session (a new one began on the connector): close at the last sample."""
    if not session.active:
        return session
    end = session.last_sample_at or session.started_at
    return replace(
        session,
        status="completed",
        stopped_at=end,
        stop_reason=reason,
        power_w=0,
        flags=_with_flag(session.flags, Flag.MISSING_STOP),
    )


def close_refused(session: ChargingSession, at: datetime) -> ChargingSession:
    """A start the server refused and the charger never stopped ends when its connector is free again (Available,
    or a new transaction on it): rejected, with no energy, so it is never billed."""
    if not session.active:
        return session
    return replace(
        session,
        status="rejected",
        stopped_at=max(at, session.started_at),
        stop_reason="DeAuthorized",
        energy_wh=0,
        power_w=0,
        max_power_w=0,
        charging_seconds=0,
        idle_seconds=0,
        flags=_without_flag(session.flags, Flag.POWER_ESTIMATED),
    )
