"""The pricing engine: an OCPI 2.2.1 tariff applied to a session's charging periods.

Rules (OCPI 2.2.1 mod_tariffs, cited by section name):
- Tariff object: per period and per dimension, the active PriceComponent comes from the first
  TariffElement in list order that has that dimension and whose restrictions all hold; none: free.
- TariffRestrictions are evaluated at the period's start, in the location's local time; the period
  builder (`periods.py`) starts a new period wherever a restriction can change.
- FLAT is charged once per session (and once more for a reservation, from the reservation element).
- step_size: see `StepSizeRule`.
- VAT per component (absent: none applies); min_price/max_price clamp excl. and incl. VAT separately.
- Exact Decimal arithmetic throughout; rounding to 4 decimals happens once, on the totals.

Speed matters (live cost for every active session, re-pricing for reports), so a tariff is compiled
once per (tariff, time zone) into flat candidate lists and cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.price import ZERO, Price
from chargewatch.billing.tariff import (
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
)

_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_THOUSAND = Decimal(1000)
_HOUR_S = Decimal(3600)
# Volumes in hours are inexact fractions (100 s = 0.02777… h); step rounding first snaps them to
# microseconds / milli-Wh so 600 s never rounds up to the next 300 s block because of the 28th digit.
_MICRO = Decimal("0.000001")
_MILLI = Decimal("0.001")


class StepSizeRule(StrEnum):
    """How step_size treats TIME and PARKING_TIME when a session has both.

    OCPI 2.2.1 is not consistent here. Its PriceComponent text says that when TIME and PARKING_TIME
    are both used, step_size applies only to the total parking time. Its own worked examples do
    otherwise: the "Complex Tariff" example bills 147 charging minutes as 150 *and* 42 parking
    minutes as 45 (8.75 EUR), and "switching to different Tariff Element #1" bills 10 charging
    minutes as 15 and the 2 parking minutes not at all, because they fall inside the charging
    rounding (0.50 EUR).

    WORKED_EXAMPLES (default) reproduces every worked example: TIME and PARKING_TIME are each
    rounded up with the step of the last component used for them; when the charging-time rounding
    already covers all the parking time, parking is not billed.
    SPEC_TEXT follows the sentence literally: with both in use, only parking is rounded.
    In both, ENERGY and reservation time are rounded on their own session totals.
    """

    WORKED_EXAMPLES = "WORKED_EXAMPLES"
    SPEC_TEXT = "SPEC_TEXT"


class CostCategory(StrEnum):
    """The CDR total a cost line adds to (total_energy_cost, total_time_cost, …)."""

    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING = "PARKING"
    FIXED = "FIXED"
    RESERVATION = "RESERVATION"


class CostLine(NamedTuple):
    """One priced quantity: what an invoice line item shows. Amounts are exact, not yet rounded.

    `step_rounding` marks the extra quantity billed because of step_size; it sits on the period
    whose component set the step. `quantity` is kWh, hours, or 1 for a flat fee.
    """

    period: int
    category: CostCategory
    dimension: TariffDimensionType
    quantity: Decimal
    unit_price: Decimal
    vat: Decimal | None
    excl_vat: Decimal
    incl_vat: Decimal
    step_rounding: bool = False


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A priced session: CDR totals (rounded to 4 decimals) plus the exact line items behind them.

    `price_limit_adjustment` is what min_price/max_price added (positive) or removed (negative), so
    the category totals plus the adjustment equal `total_cost`.
    """

    currency: str
    total_cost: Price
    total_energy_cost: Price
    total_time_cost: Price
    total_parking_cost: Price
    total_fixed_cost: Price
    total_reservation_cost: Price
    price_limit_adjustment: Price
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    total_reservation_time: Decimal
    lines: tuple[CostLine, ...]


def price_session(
    tariff: Tariff,
    periods: Sequence[ChargingPeriod],
    *,
    time_zone: str | ZoneInfo = "UTC",
    session_start: datetime | None = None,
    reservation_expired: bool = False,
    step_size_rule: StepSizeRule = StepSizeRule.WORKED_EXAMPLES,
) -> PricedSession:
    """Price `periods` (in time order) with `tariff`, evaluating restrictions in `time_zone`.

    `session_start` is what min/max_duration count from; it defaults to the first period's start.
    Set `reservation_expired` when the reservation ended without a charging session, so
    RESERVATION_EXPIRES elements take precedence (OCPI ReservationRestrictionType note).
    """
    return compiled_tariff(tariff, time_zone).price(
        periods,
        session_start=session_start,
        reservation_expired=reservation_expired,
        step_size_rule=step_size_rule,
    )


_CACHE: OrderedDict[tuple[int, str], tuple[Tariff, CompiledTariff]] = OrderedDict()
_CACHE_SIZE = 512


def compiled_tariff(tariff: Tariff, time_zone: str | ZoneInfo) -> CompiledTariff:
    """The compiled form of `tariff` for `time_zone`, built once and kept in a small LRU cache."""
    zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
    key = (id(tariff), zone.key)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is tariff:
        _CACHE.move_to_end(key)
        return hit[1]
    compiled = CompiledTariff(tariff, zone)
    _CACHE[key] = (tariff, compiled)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled


def _minutes(value: time | None) -> int | None:
    return None if value is None else value.hour * 60 + value.minute


class _Rule:
    """A TariffElement's restrictions flattened into plain numbers for fast evaluation."""

    __slots__ = (
        "start_min", "end_min", "start_ord", "end_ord", "min_kwh", "max_kwh", "min_current",
        "max_current", "min_power", "max_power", "min_duration", "max_duration", "weekdays", "trivial",
    )

    def __init__(self, element: TariffElement) -> None:
        r = element.restrictions
        self.start_min = _minutes(r.start_time) if r else None
        end = _minutes(r.end_time) if r else None
        # "00:00" as end_time means the end of the day (the element runs until midnight).
        self.end_min = 1440 if end == 0 else end
        self.start_ord = r.start_date.toordinal() if r and r.start_date else None
        self.end_ord = r.end_date.toordinal() if r and r.end_date else None
        self.min_kwh = r.min_kwh if r else None
        self.max_kwh = r.max_kwh if r else None
        self.min_current = r.min_current if r else None
        self.max_current = r.max_current if r else None
        self.min_power = r.min_power if r else None
        self.max_power = r.max_power if r else None
        self.min_duration = r.min_duration if r else None
        self.max_duration = r.max_duration if r else None
        self.weekdays = frozenset(d.iso_index for d in r.day_of_week) if r and r.day_of_week else None
        self.trivial = all(
            getattr(self, name) is None for name in self.__slots__ if name != "trivial"
        )

    def holds(self, ctx: _Context) -> bool:
        if self.trivial:
            return True
        start, end, minute = self.start_min, self.end_min, ctx.minute
        if start is not None and end is not None and start != end:
            if start < end:
                if not start <= minute < end:
                    return False
            elif end <= minute < start:  # window wraps past midnight
                return False
        elif start is not None and end is None:
            if minute < start:
                return False
        elif end is not None and start is None and minute >= end:
            return False
        if self.start_ord is not None and ctx.ordinal < self.start_ord:
            return False
        if self.end_ord is not None and ctx.ordinal >= self.end_ord:
            return False
        if self.weekdays is not None and ctx.weekday not in self.weekdays:
            return False
        if self.min_kwh is not None and ctx.kwh < self.min_kwh:
            return False
        if self.max_kwh is not None and ctx.kwh >= self.max_kwh:
            return False
        if self.min_duration is not None and ctx.seconds < self.min_duration:
            return False
        if self.max_duration is not None and ctx.seconds >= self.max_duration:
            return False
        # Current and power: the period's lowest value must reach min_*, its highest stay below
        # max_*; with only one of the two measured, that one stands for both; unmeasured passes.
        if self.min_current is not None and ctx.low_current is not None and ctx.low_current < self.min_current:
            return False
        if self.max_current is not None and ctx.high_current is not None and ctx.high_current >= self.max_current:
            return False
        if self.min_power is not None and ctx.low_power is not None and ctx.low_power < self.min_power:
            return False
        return not (
            self.max_power is not None and ctx.high_power is not None and ctx.high_power >= self.max_power
        )


class _Context:
    """The facts restrictions are checked against, for one period."""

    __slots__ = ("minute", "ordinal", "weekday", "kwh", "seconds", "low_current", "high_current",
                 "low_power", "high_power")

    def __init__(self, period: ChargingPeriod, local: datetime, kwh: Decimal, seconds: float) -> None:
        self.minute = local.hour * 60 + local.minute
        self.ordinal = local.toordinal()
        self.weekday = local.weekday()
        self.kwh = kwh
        self.seconds = seconds
        lo, hi = period.min_current, period.max_current
        self.low_current = lo if lo is not None else hi
        self.high_current = hi if hi is not None else lo
        lo, hi = period.min_power, period.max_power
        self.low_power = lo if lo is not None else hi
        self.high_power = hi if hi is not None else lo


class _Candidate(NamedTuple):
    element: int
    rule: _Rule
    component: PriceComponent
    vat_factor: Decimal


_Candidates = tuple[_Candidate, ...]


def _pick(candidates: _Candidates, ctx: _Context, memo: dict[int, bool]) -> _Candidate | None:
    for cand in candidates:
        ok = memo.get(cand.element)
        if ok is None:
            ok = memo[cand.element] = cand.rule.holds(ctx)
        if ok:
            return cand
    return None


class CompiledTariff:
    """A tariff prepared for repeated pricing in one time zone."""

    def __init__(self, tariff: Tariff, zone: ZoneInfo) -> None:
        self.tariff = tariff
        self.zone = zone
        rules = [_Rule(e) for e in tariff.elements]
        D = TariffDimensionType

        def candidates(
            dimension: TariffDimensionType, kinds: tuple[ReservationRestrictionType | None, ...]
        ) -> _Candidates:
            found = []
            for kind in kinds:
                for i, element in enumerate(tariff.elements):
                    if (element.restrictions.reservation if element.restrictions else None) is not kind:
                        continue
                    comp = next((c for c in element.price_components if c.type is dimension), None)
                    if comp is not None:
                        factor = _ONE if comp.vat is None else _ONE + comp.vat / _HUNDRED
                        found.append(_Candidate(i, rules[i], comp, factor))
            return tuple(found)

        R = ReservationRestrictionType
        self.energy = candidates(D.ENERGY, (None,))
        self.time = candidates(D.TIME, (None,))
        self.parking = candidates(D.PARKING_TIME, (None,))
        self.flat = candidates(D.FLAT, (None,))
        self.reservation_time = candidates(D.TIME, (R.RESERVATION,))
        self.reservation_flat = candidates(D.FLAT, (R.RESERVATION,))
        # An expired reservation is priced by RESERVATION_EXPIRES elements first, then RESERVATION.
        self.expired_time = candidates(D.TIME, (R.RESERVATION_EXPIRES, R.RESERVATION))
        self.expired_flat = candidates(D.FLAT, (R.RESERVATION_EXPIRES, R.RESERVATION))

    def price(
        self,
        periods: Sequence[ChargingPeriod],
        *,
        session_start: datetime | None = None,
        reservation_expired: bool = False,
        step_size_rule: StepSizeRule = StepSizeRule.WORKED_EXAMPLES,
    ) -> PricedSession:
        """See `price_session`."""
        C = CostCategory
        zone = self.zone
        if session_start is None and periods:
            session_start = periods[0].start_date_time
        res_time = self.expired_time if reservation_expired else self.reservation_time
        res_flat = self.expired_flat if reservation_expired else self.reservation_flat
        lines: list[CostLine] = []
        add = lines.append
        # Billed volume and last component used, per step-rounded quantity.
        billed = {C.ENERGY: ZERO, C.TIME: ZERO, C.PARKING: ZERO, C.RESERVATION: ZERO}
        last: dict[CostCategory, tuple[int, _Candidate]] = {}
        flat_done = res_flat_done = False
        kwh = total_time = total_parking = total_res = ZERO
        for index, period in enumerate(periods):
            start = period.start_date_time
            seconds = (start - session_start).total_seconds() if session_start is not None else 0.0
            ctx = _Context(period, start.astimezone(zone), kwh, seconds)
            memo: dict[int, bool] = {}
            if period.reservation_time:
                volume = period.reservation_time
                total_res += volume
                if not res_flat_done:
                    cand = _pick(res_flat, ctx, memo)
                    if cand is not None:
                        add(_line(index, C.RESERVATION, cand, _ONE))
                        res_flat_done = True
                cand = _pick(res_time, ctx, memo)
                if cand is not None:
                    add(_line(index, C.RESERVATION, cand, volume))
                    billed[C.RESERVATION] += volume
                    last[C.RESERVATION] = (index, cand)
            if period.energy or period.time or period.parking_time:
                if not flat_done:
                    cand = _pick(self.flat, ctx, memo)
                    if cand is not None:
                        add(_line(index, C.FIXED, cand, _ONE))
                        flat_done = True
                for category, volume, cands in (
                    (C.ENERGY, period.energy, self.energy),
                    (C.TIME, period.time, self.time),
                    (C.PARKING, period.parking_time, self.parking),
                ):
                    if volume:
                        cand = _pick(cands, ctx, memo)
                        if cand is not None:
                            add(_line(index, category, cand, volume))
                            billed[category] += volume
                            last[category] = (index, cand)
            kwh += period.energy
            total_time += period.time
            total_parking += period.parking_time

        self._round_steps(lines, billed, last, step_size_rule)

        sums = {c: [ZERO, ZERO] for c in C}
        for line in lines:
            acc = sums[line.category]
            acc[0] += line.excl_vat
            acc[1] += line.incl_vat
        excl = sum((acc[0] for acc in sums.values()), ZERO)
        incl = sum((acc[1] for acc in sums.values()), ZERO)
        limited_excl, limited_incl = excl, incl
        tariff = self.tariff
        if tariff.max_price is not None:
            limited_excl = min(limited_excl, tariff.max_price.excl_vat)
            if tariff.max_price.incl_vat is not None:
                limited_incl = min(limited_incl, tariff.max_price.incl_vat)
        if tariff.min_price is not None:
            limited_excl = max(limited_excl, tariff.min_price.excl_vat)
            if tariff.min_price.incl_vat is not None:
                limited_incl = max(limited_incl, tariff.min_price.incl_vat)

        def total(category: CostCategory) -> Price:
            acc = sums[category]
            return Price(acc[0], acc[1]).rounded()

        return PricedSession(
            currency=tariff.currency,
            total_cost=Price(limited_excl, limited_incl).rounded(),
            total_energy_cost=total(C.ENERGY),
            total_time_cost=total(C.TIME),
            total_parking_cost=total(C.PARKING),
            total_fixed_cost=total(C.FIXED),
            total_reservation_cost=total(C.RESERVATION),
            price_limit_adjustment=Price(limited_excl - excl, limited_incl - incl).rounded(),
            total_energy=kwh,
            total_time=total_time + total_parking,
            total_parking_time=total_parking,
            total_reservation_time=total_res,
            lines=tuple(lines),
        )

    @staticmethod
    def _round_steps(
        lines: list[CostLine],
        billed: dict[CostCategory, Decimal],
        last: dict[CostCategory, tuple[int, _Candidate]],
        rule: StepSizeRule,
    ) -> None:
        C = CostCategory
        for category in (C.ENERGY, C.RESERVATION):
            if category in last:
                _append_step(lines, category, billed[category], last[category])
        has_time, has_parking = C.TIME in last, C.PARKING in last
        if rule is StepSizeRule.SPEC_TEXT:
            if has_time and not has_parking:
                _append_step(lines, C.TIME, billed[C.TIME], last[C.TIME])
            if has_parking:
                _append_step(lines, C.PARKING, billed[C.PARKING], last[C.PARKING])
            return
        time_extra = ZERO
        if has_time:
            time_extra = _append_step(lines, C.TIME, billed[C.TIME], last[C.TIME])
        if has_parking:
            if billed[C.PARKING] <= time_extra:
                lines[:] = [line for line in lines if line.category is not C.PARKING]
            else:
                _append_step(lines, C.PARKING, billed[C.PARKING], last[C.PARKING])


def _line(index: int, category: CostCategory, cand: _Candidate, volume: Decimal, step: bool = False) -> CostLine:
    comp = cand.component
    excl = volume * comp.price
    return CostLine(index, category, comp.type, volume, comp.price, comp.vat, excl, excl * cand.vat_factor, step)


def _append_step(
    lines: list[CostLine], category: CostCategory, volume: Decimal, last: tuple[int, _Candidate]
) -> Decimal:
    """Round the billed session total up to the last component's step; bill the rest at its price.

    Returns the extra volume billed (kWh or hours).
    """
    index, cand = last
    step = cand.component.step_size
    unit = _THOUSAND if category is CostCategory.ENERGY else _HOUR_S
    quantum = _MILLI if category is CostCategory.ENERGY else _MICRO
    amount = (volume * unit).quantize(quantum, rounding=ROUND_HALF_EVEN)
    blocks = (amount / step).to_integral_value(rounding=ROUND_CEILING)
    extra = blocks * step - amount
    if extra <= 0:
        return ZERO
    extra_volume = extra / unit
    lines.append(_line(index, category, cand, extra_volume, step=True))
    return extra_volume
