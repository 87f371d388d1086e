"""The pricing engine: an OCPI 2.2.1 tariff applied to a session's charging periods.

Rules (OCPI 2.2.1 mod_tariffs, cited by section name):
- Tariff object: per period and per dimension, the active PriceComponent comes from the first
  TariffElement in list order that has that dimension and whose restrictions all hold; none: free.
- TariffRestrictions are evaluated at the period's start, in the location's local time; the period
  builder (`periods.py`) starts a new period wherever a restriction can change.
- FLAT is charged once per session (and once more for a reservation, from the reservation element).
- step_size: see `_round_steps` (the OCPI 2.2.1-d2 corrected text, quoted there).
- VAT per component (absent: none applies); min_price/max_price clamp excl. and incl. VAT separately.
- Exact Decimal arithmetic throughout; rounding to 4 decimals happens once, on the totals.

Speed matters (live cost for every active session, re-pricing for reports), so a tariff is compiled
once per (tariff, time zone) into flat candidate lists and cached.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, time
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.price import OCPI_QUANTUM, ZERO, Price
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
_US_PER_HOUR = Decimal(3_600_000_000)
# Volumes in hours are inexact fractions (100 s = 0.02777… h); step rounding first snaps them to
# microseconds / milli-Wh so 600 s never rounds up to the next 300 s block because of the 28th digit.
_MICRO = Decimal("0.000001")
_MILLI = Decimal("0.001")


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


class PricedSession(NamedTuple):
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
    session_end: datetime | None = None,
    reservation_expired: bool = False,
) -> PricedSession:
    """Price `periods` (in time order) with `tariff`, evaluating restrictions in `time_zone`.

    `session_start` is what min/max_duration count from; it defaults to the first period's start.
    `session_end` makes `total_time` the session's duration (OCPI 2.2.1 mod_cdrs CDR.total_time: "Total
    duration of the charging session (including the duration of charging and not charging), in hours"),
    counted from the session start or the first period, whichever is earlier; without it (a running
    session priced so far) `total_time` is the charging plus parking time of the periods.
    Set `reservation_expired` when the reservation ended without a charging session, so
    RESERVATION_EXPIRES elements take precedence (OCPI ReservationRestrictionType note).
    """
    return compiled_tariff(tariff, time_zone).price(
        periods,
        session_start=session_start,
        session_end=session_end,
        reservation_expired=reservation_expired,
    )


_CACHE: OrderedDict[tuple[int, str], tuple[Tariff, CompiledTariff]] = OrderedDict()
_CACHE_SIZE = 512
_SELECTION_CACHE_SIZE = 65536


def compiled_tariff(tariff: Tariff, time_zone: str | ZoneInfo) -> CompiledTariff:
    """The compiled form of `tariff` for `time_zone`, built once and kept in a small LRU cache."""
    key = (id(tariff), time_zone if isinstance(time_zone, str) else time_zone.key)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is tariff:
        _CACHE.move_to_end(key)
        return hit[1]
    zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
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
        self._lists = (self.energy, self.time, self.parking, self.flat, self.reservation_time,
                       self.reservation_flat, self.expired_time, self.expired_flat)
        # Which element wins depends only on which side of each restriction threshold a period
        # falls, so selections are cached per combination of sides ("bands").
        self._uses_date = any(r.start_ord is not None or r.end_ord is not None for r in rules)
        self._uses_weekday = any(r.weekdays is not None for r in rules)

        def marks(*names: str) -> tuple:
            return tuple(sorted({v for r in rules for n in names if (v := getattr(r, n)) is not None}))

        self._minute_marks = marks("start_min", "end_min")
        self._kwh_marks = marks("min_kwh", "max_kwh")
        self._duration_marks = marks("min_duration", "max_duration")
        self._min_current_marks = marks("min_current")
        self._max_current_marks = marks("max_current")
        self._min_power_marks = marks("min_power")
        self._max_power_marks = marks("max_power")
        self._uses_electric = bool(self._min_current_marks or self._max_current_marks
                                   or self._min_power_marks or self._max_power_marks)
        self._selections: dict[tuple[object, ...], tuple[_Candidate | None, ...]] = {}

    def _select(
        self, period: ChargingPeriod, local: datetime, kwh: Decimal, seconds: float
    ) -> tuple[_Candidate | None, ...]:
        """The winning candidate of each list for this period, from the band cache when possible."""
        if self._uses_date:
            day = local.toordinal()
        elif self._uses_weekday:
            day = local.weekday()
        else:
            day = 0
        marks = self._minute_marks
        key: tuple[object, ...] = (day, bisect_right(marks, local.hour * 60 + local.minute) if marks else 0)
        if self._kwh_marks:
            key += (bisect_right(self._kwh_marks, kwh),)
        if self._duration_marks:
            key += (bisect_right(self._duration_marks, seconds),)
        if self._uses_electric:
            key += _electric_bands(period, self)
        selection = self._selections.get(key)
        if selection is None:
            ctx = _Context(period, local, kwh, seconds)
            memo: dict[int, bool] = {}
            selection = tuple(_pick(cands, ctx, memo) for cands in self._lists)
            if len(self._selections) >= _SELECTION_CACHE_SIZE:
                self._selections.clear()
            self._selections[key] = selection
        return selection

    def components_at(self, period: ChargingPeriod, kwh: Decimal = ZERO, seconds: float = 0.0) -> dict[
            TariffDimensionType, int]:
        """Which element prices each dimension for `period` (by default: a session starting then)."""
        selection = self._select(period, period.start_date_time.astimezone(self.zone), kwh, seconds)
        D = TariffDimensionType
        return {dimension: cand.element for dimension, cand in zip(
            (D.ENERGY, D.TIME, D.PARKING_TIME, D.FLAT), selection[:4], strict=True) if cand is not None}

    def price(
        self,
        periods: Sequence[ChargingPeriod],
        *,
        session_start: datetime | None = None,
        session_end: datetime | None = None,
        reservation_expired: bool = False,
    ) -> PricedSession:
        """See `price_session`."""
        zone, select = self.zone, self._select
        if session_start is None and periods:
            session_start = periods[0].start_date_time
        needs_seconds = bool(self._duration_marks)
        flat_slot, time_slot = (7, 6) if reservation_expired else (5, 4)
        lines: list[CostLine] = []
        # Per category index (_ENERGY … _RESERVATION): billed volume, last (period, candidate), sums.
        billed = [ZERO, ZERO, ZERO, ZERO, ZERO]
        last: list[tuple[int, _Candidate] | None] = [None, None, None, None, None]
        excl = [ZERO, ZERO, ZERO, ZERO, ZERO]
        incl = [ZERO, ZERO, ZERO, ZERO, ZERO]
        new, categories, add = tuple.__new__, _CATEGORIES, lines.append

        def charge(index: int, category: int, cand: _Candidate, volume: Decimal, step: bool = False) -> None:
            comp = cand.component
            amount = volume * comp.price
            gross = amount * cand.vat_factor
            excl[category] += amount
            incl[category] += gross
            add(new(CostLine, (index, categories[category], comp.type, volume, comp.price, comp.vat,
                               amount, gross, step)))

        flat_done = res_flat_done = False
        kwh = total_time = total_parking = total_res = ZERO
        for index, period in enumerate(periods):
            start = period.start_date_time
            seconds = (start - session_start).total_seconds() if needs_seconds else 0.0  # type: ignore[operator]
            selection = select(period, start.astimezone(zone), kwh, seconds)
            volume = period.reservation_time
            if volume:
                total_res += volume
                cand = selection[flat_slot]
                if not res_flat_done and cand is not None:
                    charge(index, _RESERVATION, cand, _ONE)
                    res_flat_done = True
                cand = selection[time_slot]
                if cand is not None:
                    charge(index, _RESERVATION, cand, volume)
                    billed[_RESERVATION] += volume
                    last[_RESERVATION] = (index, cand)
            energy, charging, parking = period.energy, period.time, period.parking_time
            if energy or charging or parking:
                if not flat_done:
                    cand = selection[3]
                    if cand is not None:
                        charge(index, _FIXED, cand, _ONE)
                        flat_done = True
                if energy:
                    kwh += energy
                    cand = selection[0]
                    if cand is not None:
                        charge(index, _ENERGY, cand, energy)
                        billed[_ENERGY] += energy
                        last[_ENERGY] = (index, cand)
                if charging:
                    total_time += charging
                    cand = selection[1]
                    if cand is not None:
                        charge(index, _TIME, cand, charging)
                        billed[_TIME] += charging
                        last[_TIME] = (index, cand)
                if parking:
                    total_parking += parking
                    cand = selection[2]
                    if cand is not None:
                        charge(index, _PARKING, cand, parking)
                        billed[_PARKING] += parking
                        last[_PARKING] = (index, cand)

        _round_steps(charge, billed, last)

        sum_excl = excl[0] + excl[1] + excl[2] + excl[3] + excl[4]
        sum_incl = incl[0] + incl[1] + incl[2] + incl[3] + incl[4]
        limited_excl, limited_incl = sum_excl, sum_incl
        tariff = self.tariff
        if tariff.max_price is not None:
            limited_excl = min(limited_excl, tariff.max_price.excl_vat)
            if tariff.max_price.incl_vat is not None:
                limited_incl = min(limited_incl, tariff.max_price.incl_vat)
        if tariff.min_price is not None:
            limited_excl = max(limited_excl, tariff.min_price.excl_vat)
            if tariff.min_price.incl_vat is not None:
                limited_incl = max(limited_incl, tariff.min_price.incl_vat)

        # Built with tuple.__new__: NamedTuple constructors are Python functions, measurably slow here.
        quantum, half_up, noise, even = _QUANTUM, _HALF_UP, _NOISE, _HALF_EVEN

        def price(net: Decimal, gross: Decimal) -> Price:
            # Hours like 125/60 are inexact at the 28th digit; snapping to 1e-12 first keeps a total that
            # is exactly x.xxxx5 from rounding differently depending on how its periods were split.
            net = net.quantize(noise, None, even)
            gross = gross.quantize(noise, None, even)
            return new(Price, (net.quantize(quantum, None, half_up), gross.quantize(quantum, None, half_up)))

        return new(PricedSession, (
            tariff.currency,
            price(limited_excl, limited_incl),
            price(excl[_ENERGY], incl[_ENERGY]),
            price(excl[_TIME], incl[_TIME]),
            price(excl[_PARKING], incl[_PARKING]),
            price(excl[_FIXED], incl[_FIXED]),
            price(excl[_RESERVATION], incl[_RESERVATION]),
            price(limited_excl - sum_excl, limited_incl - sum_incl),
            kwh,
            _session_hours(periods, session_start, session_end, total_time + total_parking),
            total_parking,
            total_res,
            tuple(lines),
        ))


def _electric_bands(period: ChargingPeriod, compiled: CompiledTariff) -> tuple[int, ...]:
    """Which side of every current/power threshold the period is on; -1 when not measured."""
    bands = []
    for lo_marks, hi_marks, lo, hi in (
        (compiled._min_current_marks, compiled._max_current_marks, period.min_current, period.max_current),
        (compiled._min_power_marks, compiled._max_power_marks, period.min_power, period.max_power),
    ):
        low = lo if lo is not None else hi
        high = hi if hi is not None else lo
        bands.append(-1 if low is None else bisect_right(lo_marks, low))
        bands.append(-1 if high is None else bisect_right(hi_marks, high))
    return tuple(bands)


class _Charge(Protocol):
    def __call__(self, index: int, category: int, cand: _Candidate, volume: Decimal, step: bool = False) -> None:
        ...


def _round_steps(charge: _Charge, billed: list[Decimal], last: list[tuple[int, _Candidate] | None]) -> None:
    """Bill the step_size rounding of each dimension, once per session, as OCPI 2.2.1-d2 corrects it.

    The corrected text (mod_cdrs, CDR object, notes on `step_size`; the 2.2.1-d2 errata replaced the
    worked examples of mod_tariffs that contradicted it) says:
      "`step_size` SHALL only be taken into account once per session for the TariffDimensionType
      `ENERGY` and once for `PARKING_TIME` and `TIME` combined."
      "`step_size` is not taken into account when switching time based paying for charging to paying
      for parking (charging has stopped but EV still connected). Example: `step_size` for both charging
      (`TIME`) and parking is 5 minutes. After 21 minutes of charging, the EV is full but remains
      connected for 7 more minutes. The cost of charging will be calculated based on 21 minutes (not
      25). The cost of parking will be calculated based on 10 minutes (`step_size` is 5)."
      "If the `step_size` differs for the different TariffElements, the `step_size` of the last
      relevant PriceComponent is used."
      "The `step_size` uses the total amount of a certain unit used during a session, not only the
      last ChargingPeriod."
      "In the cases that `TIME` and `PARKING_TIME` Tariff Elements are both used, `step_size` is only
      taken into account for the total parking duration."
    So ENERGY (and reservation time) is rounded on its session total with the step of the last
    component used; of TIME and PARKING_TIME, only parking is rounded when parking was priced, else
    charging time is. The step-size example tariff (16:55, 10 min charging, 2 min parking) therefore
    costs 0.10 + 0.20 + 0.25 = 0.55 EUR.
    """
    for category in (_ENERGY, _RESERVATION):
        used = last[category]
        if used is not None:
            _charge_step(charge, category, billed[category], used)
    time_used, parking_used = last[_TIME], last[_PARKING]
    if parking_used is not None:
        _charge_step(charge, _PARKING, billed[_PARKING], parking_used)
    elif time_used is not None:
        _charge_step(charge, _TIME, billed[_TIME], time_used)


def _session_hours(periods: Sequence[ChargingPeriod], start: datetime | None, end: datetime | None,
                   fallback: Decimal) -> Decimal:
    """CDR total_time: the whole session in hours, from its start (or an earlier first period) to its end."""
    if end is None or start is None:
        return fallback
    first = min(start, periods[0].start_date_time) if periods else start
    delta = end - first
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(ZERO, Decimal(micros) / _US_PER_HOUR)


_ENERGY, _TIME, _PARKING, _FIXED, _RESERVATION = range(5)
_CATEGORIES = (CostCategory.ENERGY, CostCategory.TIME, CostCategory.PARKING, CostCategory.FIXED,
               CostCategory.RESERVATION)
_CATEGORY_INDEX = {category: i for i, category in enumerate(_CATEGORIES)}


_QUANTUM = OCPI_QUANTUM
_HALF_UP = Context(rounding=ROUND_HALF_UP)
_HALF_EVEN = Context(rounding=ROUND_HALF_EVEN)
_NOISE = Decimal("1e-12")


def _charge_step(charge: _Charge, category: int, volume: Decimal, last: tuple[int, _Candidate]) -> Decimal:
    """Round the billed session total up to the last component's step; bill the rest at its price.

    Returns the extra volume billed (kWh or hours).
    """
    index, cand = last
    step = cand.component.step_size
    if category == _ENERGY:
        unit, quantum = _THOUSAND, _MILLI
    else:
        unit, quantum = _HOUR_S, _MICRO
    amount = (volume * unit).quantize(quantum, None, _HALF_EVEN)
    blocks = (amount / step).to_integral_value(ROUND_CEILING)
    extra = blocks * step - amount
    if extra <= 0:
        return ZERO
    extra_volume = extra / unit
    charge(index, category, cand, extra_volume, True)
    return extra_volume
