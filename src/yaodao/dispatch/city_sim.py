"""A simulated city day: generated demand, pharmacies, courier shifts, and a dispatch policy on a simulated clock.

``simulate_city(city, pharmacies, params, policy, seed)`` is pure and seeded:

* **Demand.** Orders per half hour follow a 24-hour curve (lunch and evening peaks, a thin night).
  An address is drawn from a district chosen by its weight, near one of that district's stores
  (stores follow population), inside the service area. The order goes to the nearest pharmacy
  open at placement (only 24-hour stores at night, DOMAIN DL2) and is placed only when that store
  is within ``delivery_radius_km`` and the quote (preparation + handover + modelled ride +
  ``quote_margin_minutes``) fits the promise; other addresses are not offered 30/60 (DL3) and are
  redrawn, so the day holds ``orders_per_day`` promised orders. All orders are OTC (Rx share 0):
  the clock starts at payment (DL1), which is placement.
* **Pharmacies** are ready after the store's ``prep_minutes`` (what the dispatcher is told) times
  a lognormal factor (what happens).
* **Couriers** work shifts of ``shift_hours``, rostered hour by hour to follow demand down to a
  night floor, starting at the store that serves a demand point. Every ride takes the city's
  modelled time times a lognormal noise factor of mean 1.
* **Dispatch.** Every ``tick_seconds`` the policy (``planner.plan`` or ``baseline.plan_baseline``)
  gets a ``Snapshot`` of the orders not yet dispatched and the couriers on shift. Committed
  assignments are final: the courier leaves now, picks up when it arrives and the orders are
  ready, and drops off in the assignment's order. Tentative ones only mark the order's courier.
  Both policies commit only to couriers free now, so a tick without one is skipped. A courier
  still riding is shown free at its modelled finish (at least a tick ahead while it runs late);
  an idle courier waits where its last drop-off was.

Day and night are the city's windows at placement; ``window_metrics`` sums a result per window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import shapely

from yaodao.catalog.model import Pharmacy
from yaodao.dispatch.lateness import LateCause, late_cause_minutes
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Plan
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot
from yaodao.dispatch.travel_matrix import CityTravelMatrix, TravelMatrix
from yaodao.kernel.city import City
from yaodao.kernel.geo import LatLng, haversine_km

Policy = Callable[[Snapshot[LatLng], TravelMatrix[LatLng], PlannerParams, int], Plan]

# Relative orders per local hour 00..23: a thin night, a lunch peak (12:00) and an evening peak (20:00).
DEMAND_BY_HOUR: tuple[float, ...] = (
    *(1.2, 0.8, 0.5, 0.4, 0.4, 0.5, 1.0, 2.5, 4.0, 5.0, 5.5, 7.0),  # 00-11
    *(8.0, 6.5, 5.0, 4.5, 4.5, 5.0, 6.0, 7.5, 8.5, 7.5, 5.0, 3.0),  # 12-23
)
SLOT_MINUTES = 30  # store hours change on the half hour, so each slot has one set of open stores
KM_PER_DEGREE = 111.32


@dataclass(frozen=True, slots=True)
class CitySimParams:
    hours: float = 24.0  # simulated from ``start_hour`` local time on ``start_date``
    start_hour: int = 0
    orders_per_day: int = 30_000  # promised orders in a whole day; a shorter run gets its share of the curve
    couriers: int = 2000  # couriers on shift at the busiest hour (sized for Hangzhou at 30,000 orders a day)
    night_fleet_share: float = 0.15  # on shift at any hour, at least this share of ``couriers``
    night_fleet_factor: float = 1.5  # couriers per night order, relative to a day order (see fleet_by_hour)
    shift_hours: float = 4.0
    courier_capacity: int = 3
    tick_seconds: float = 20.0
    travel_noise_sigma: float = 0.15  # lognormal sigma of every ride's factor (mean 1)
    prep_noise_sigma: float = 0.2  # lognormal sigma of the store's preparation time (mean 1)
    handover_minutes: float = 4.0  # at the pharmacy and at the door (half before the handover, half after)
    quote_margin_minutes: float = 8.0  # the promise is offered when the quote plus this fits it
    address_spread_km: float = 1.5  # addresses around their store, per axis
    delivery_radius_km: float = 5.0  # beyond it (great circle) the promise is not offered (DOMAIN DL3)
    drain_hours: float = 3.0  # after the last placement, at most this long to deliver what is open
    demand_by_hour: tuple[float, ...] = DEMAND_BY_HOUR
    start_date: date = date(2026, 3, 2)
    planner: PlannerParams = field(default_factory=PlannerParams)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not 0 < self.hours <= 168:
            problems.append("hours must be in (0, 168].")
        if not 0 <= self.start_hour <= 23:
            problems.append("start_hour must be between 0 and 23.")
        if self.orders_per_day < 0:
            problems.append("orders_per_day must be >= 0.")
        if self.couriers < 1:
            problems.append("couriers must be >= 1.")
        if not 0 <= self.night_fleet_share <= 1:
            problems.append("night_fleet_share must be between 0 and 1.")
        if not (math.isfinite(self.night_fleet_factor) and self.night_fleet_factor > 0):
            problems.append("night_fleet_factor must be a positive number.")
        if not 0.5 <= self.shift_hours <= 24:
            problems.append("shift_hours must be between 0.5 and 24.")
        if self.courier_capacity < 1:
            problems.append("courier_capacity must be >= 1.")
        if not 1 <= self.tick_seconds <= 600:
            problems.append("tick_seconds must be between 1 and 600.")
        for name in ("travel_noise_sigma", "prep_noise_sigma", "handover_minutes", "quote_margin_minutes"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                problems.append(f"{name} must be a finite number >= 0.")
        for name in ("address_spread_km", "delivery_radius_km"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                problems.append(f"{name} must be a positive number.")
        if self.drain_hours < 0:
            problems.append("drain_hours must be >= 0.")
        if len(self.demand_by_hour) != 24 or min(self.demand_by_hour) < 0 or sum(self.demand_by_hour) <= 0:
            problems.append("demand_by_hour needs 24 values >= 0, not all zero.")
        if problems:
            raise ValueError(" ".join(problems))

    def planner_params(self) -> PlannerParams:
        """The policy's parameters with this simulation's tick and handover times."""
        return replace(
            self.planner,
            tick_seconds=self.tick_seconds,
            pickup_service_minutes=self.handover_minutes,
            dropoff_service_minutes=self.handover_minutes,
        )


@dataclass(frozen=True, slots=True)
class DemandOrder:
    """A promised order: placed (and paid) at ``placed`` minutes after the start."""

    id: str
    placed: float
    pharmacy: int  # index into the pharmacies
    address: LatLng
    promise_minutes: int
    window: str
    expected_prep: float  # what the store says
    prep: float  # what it takes
    direct_ride: float  # modelled pickup-to-door minutes alone, handovers included


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    start: float  # minutes after the start
    end: float
    position: LatLng


@dataclass(frozen=True, slots=True)
class Demand:
    orders: tuple[DemandOrder, ...]
    shifts: tuple[Shift, ...]
    not_offered: int  # addresses drawn whose quote did not fit the promise


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One order's timeline in minutes after its placement (the clock start); ``None``: did not happen."""

    order: DemandOrder
    ready: float
    picked_up: float | None = None
    delivered: float | None = None
    courier_id: str | None = None
    bundle_size: int = 0
    ride_overrun: float = 0.0
    km: float = 0.0  # its share of its courier's ride for the bundle

    @property
    def on_time(self) -> bool:
        return self.delivered is not None and self.delivered <= self.order.promise_minutes + 1e-9

    @property
    def late_cause(self) -> LateCause | None:
        """Why it missed the promise (``lateness``); an order never delivered had no courier in time."""
        if self.delivered is None or self.picked_up is None:
            return LateCause.NO_COURIER_NEAR if self.delivered is None else None
        return late_cause_minutes(
            promise=self.order.promise_minutes,
            prep=self.ready,
            courier_wait=max(0.0, self.picked_up - self.ready),
            ride=self.delivered - self.picked_up,
            direct_ride=self.order.direct_ride,
            ride_overrun=self.ride_overrun,
            ready_delay=max(0.0, self.ready - self.order.expected_prep),
        )


@dataclass(frozen=True, slots=True)
class CourierRecord:
    shift: Shift
    busy: tuple[tuple[float, float], ...]  # (from, to) minutes after the start: riding, waiting, handing over
    orders: int
    km: float


@dataclass(frozen=True, slots=True)
class CityResult:
    start: datetime  # minute 0: ``start_hour`` local time on the start date
    orders: tuple[OrderRecord, ...]
    couriers: tuple[CourierRecord, ...]
    ticks: int
    not_offered: int


def generate_demand(city: City, pharmacies: Sequence[Pharmacy], params: CitySimParams, seed: int) -> Demand:
    """The promised orders and the courier shifts of one run; the same inputs give the same demand."""
    rng = np.random.default_rng([seed, 1])
    space = _Space(city, pharmacies, params, _start(city, params))
    slots = math.ceil(params.hours * 60 / SLOT_MINUTES - 1e-9)
    hour = params.start_hour
    weights = np.array([params.demand_by_hour[(hour + s * SLOT_MINUTES // 60) % 24] for s in range(slots)])
    total = round(params.orders_per_day * weights.sum() / (2 * sum(params.demand_by_hour)))
    counts = rng.multinomial(total, weights / weights.sum())
    orders: list[DemandOrder] = []
    for s, n in enumerate(counts.tolist()):
        placed = np.sort(rng.uniform(s * SLOT_MINUTES, (s + 1) * SLOT_MINUTES, n))
        points, stores, rides = space.draw(rng, s * SLOT_MINUTES, n)
        window = city.window_at(space.at(s * SLOT_MINUTES))
        factor = rng.lognormal(-(params.prep_noise_sigma**2) / 2, params.prep_noise_sigma, n)
        for k in range(len(points)):  # fewer than n only when no store is open
            expected = float(pharmacies[stores[k]].prep_minutes)
            orders.append(
                DemandOrder(
                    f"o{len(orders) + 1:06d}",
                    float(placed[k]),
                    stores[k],
                    points[k],
                    window.promise_minutes,
                    window.name,
                    expected,
                    expected * float(factor[k]),
                    rides[k] + params.handover_minutes,
                )
            )
    not_offered = space.not_offered
    return Demand(tuple(orders), _roster(space, params, rng), not_offered)


def _start(city: City, params: CitySimParams) -> datetime:
    return datetime.combine(params.start_date, time(params.start_hour), tzinfo=city.tz).astimezone(UTC)


class _Space:
    """Addresses, open stores and quotes for one city and one pharmacy network."""

    def __init__(self, city: City, pharmacies: Sequence[Pharmacy], params: CitySimParams, start: datetime) -> None:
        self.city, self.pharmacies, self.params, self.start = city, pharmacies, params, start
        self.travel = CityTravelMatrix(city)
        self.stores = [p.location for p in pharmacies]
        self.lat = np.array([p.lat for p in self.stores])
        self.lng = np.array([p.lng for p in self.stores])
        self.prep = np.array([p.prep_minutes for p in pharmacies], dtype=np.float64)
        codes = sorted({p.district_code for p in pharmacies}, key=str)
        weight = {d.code: d.weight for d in city.districts}
        self.district_stores = [np.array([i for i, p in enumerate(pharmacies) if p.district_code == c]) for c in codes]
        w = np.array([weight.get(str(c), 1.0) for c in codes])
        self.district_weight = w / w.sum()
        self.area = shapely.MultiPolygon([shapely.Polygon(r) for r in city.service_area])
        shapely.prepare(self.area)
        self.not_offered = 0

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def draw(self, rng: np.random.Generator, minute: float, n: int) -> tuple[list[LatLng], list[int], list[float]]:
        """``n`` addresses whose nearest open store can keep the promise at ``minute``: points, stores, rides."""
        at = self.at(minute)
        local = self.city.local(at).time()
        promise = self.city.promise_minutes(at)
        night = promise > min(w.promise_minutes for w in self.city.windows)
        # At night only 24-hour stores take orders (DOMAIN DL2), even where a day store is still open.
        is_open = np.array([p.is_open_at(local) and (p.open_24h or not night) for p in self.pharmacies])
        points: list[LatLng] = []
        stores: list[int] = []
        rides: list[float] = []
        while len(points) < n and is_open.any():
            m = max(64, 2 * (n - len(points)))
            districts = rng.choice(len(self.district_stores), size=m, p=self.district_weight)
            home = np.array([rng.choice(self.district_stores[d]) for d in districts.tolist()])
            spread = self.params.address_spread_km / KM_PER_DEGREE
            lat = self.lat[home] + rng.normal(0.0, spread, m)
            lng = self.lng[home] + rng.normal(0.0, spread, m) / np.cos(np.radians(self.lat[home]))
            inside = shapely.contains_xy(self.area, lng, lat)
            candidates = [LatLng(float(a), float(b)) for a, b, ok in zip(lat, lng, inside, strict=True) if ok]
            if not candidates:
                continue
            minutes = self.travel.matrix(candidates, self.stores, at)
            minutes[:, ~is_open] = np.inf
            nearest = np.argmin(minutes, axis=1)
            ride = minutes[np.arange(len(candidates)), nearest]
            quote = self.prep[nearest] + self.params.handover_minutes + ride + self.params.quote_margin_minutes
            reach = self.params.delivery_radius_km * self.city.detour_factor / self.city.speed_kmh(at) * 60.0
            ok = (quote <= promise) & (ride <= reach)
            self.not_offered += int((~ok).sum()) + (m - len(candidates))
            for k in np.flatnonzero(ok).tolist()[: n - len(points)]:
                points.append(candidates[k])
                stores.append(int(nearest[k]))
                rides.append(float(ride[k]))
        return points, stores, rides


def fleet_by_hour(city: City, params: CitySimParams) -> list[int]:
    """Couriers wanted on shift in each simulated hour: demand-shaped, never below the night floor.

    In a window with a longer promise than the shortest (the night) rides are longer and stores
    sparser, so each order there wants ``night_fleet_factor`` times the couriers of a day order.
    """
    peak = max(params.demand_by_hour)
    start = _start(city, params)
    shortest = min(w.promise_minutes for w in city.windows)
    wanted: list[int] = []
    for h in range(math.ceil(params.hours - 1e-9)):
        night = city.promise_minutes(start + timedelta(hours=h)) > shortest
        share = (
            params.demand_by_hour[(params.start_hour + h) % 24] / peak * (params.night_fleet_factor if night else 1.0)
        )
        wanted.append(math.ceil(params.couriers * min(1.0, max(params.night_fleet_share, share)) - 1e-9))
    return wanted


def _roster(space: _Space, params: CitySimParams, rng: np.random.Generator) -> tuple[Shift, ...]:
    length = params.shift_hours * 60
    shifts: list[Shift] = []
    for h, wanted in enumerate(fleet_by_hour(space.city, params)):
        minute = h * 60.0
        on = sum(1 for s in shifts if s.start <= minute < s.end)
        if wanted > on:
            _, stores, _ = space.draw(rng, minute, wanted - on)
            for k in stores:
                shifts.append(Shift(f"c{len(shifts) + 1:05d}", minute, minute + length, space.stores[k]))
    return tuple(shifts)


@dataclass(slots=True)
class _Courier:
    shift: Shift
    state: CourierState[LatLng]
    position: LatLng
    free: float  # minutes after the start: when its committed work ends (as it happens)
    planned_free: float  # ... as the model expected it to end when it was committed
    busy: list[tuple[float, float]] = field(default_factory=list)
    orders: int = 0
    km: float = 0.0


class _Run:
    """One policy over one demand: the simulated clock, the open orders and the couriers."""

    def __init__(self, city: City, pharmacies: Sequence[Pharmacy], params: CitySimParams, seed: int) -> None:
        self.city, self.params, self.seed = city, params, seed
        self.planner = params.planner_params()
        self.travel = CityTravelMatrix(city)
        self.start = _start(city, params)
        self.stores = [p.location for p in pharmacies]
        self.store_ids = [p.id for p in pharmacies]
        self.noise = np.random.default_rng([seed, 2])
        self.records: dict[str, OrderRecord] = {}
        self.open: dict[str, OpenOrder[LatLng]] = {}
        self.couriers: dict[str, _Courier] = {}
        self.done: list[CourierRecord] = []

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def ride(self, a: LatLng, b: LatLng, minute: float) -> tuple[float, float, float]:
        """(minutes it takes, minutes modelled, road km) leaving at ``minute``."""
        km = haversine_km(a, b) * self.city.detour_factor
        modelled = km / self.city.speed_kmh(self.at(minute)) * 60.0
        sigma = self.params.travel_noise_sigma
        return modelled * float(self.noise.lognormal(-(sigma**2) / 2, sigma)), modelled, km

    def run(self, demand: Demand, policy: Policy) -> CityResult:
        orders = sorted(demand.orders, key=lambda o: (o.placed, o.id))
        shifts = sorted(demand.shifts, key=lambda s: (s.start, s.id))
        tick = self.params.tick_seconds / 60.0
        end = max(self.params.hours * 60.0, orders[-1].placed if orders else 0.0) + self.params.drain_hours * 60.0
        next_order = next_shift = ticks = 0
        now = 0.0
        while now <= end:
            while next_order < len(orders) and orders[next_order].placed <= now:
                self._place(orders[next_order])
                next_order += 1
            while next_shift < len(shifts) and shifts[next_shift].start <= now:
                self._clock_in(shifts[next_shift])
                next_shift += 1
            self._update_couriers(now)
            if self.open:
                # Only a courier free now can be committed to: a tick without one changes nothing.
                if any(c.state.status is CourierStatus.IDLE for c in self.couriers.values()):
                    ticks += 1
                    self._apply(policy(self._snapshot(now), self.travel, self.planner, self.seed), now)
                now += tick
            elif next_order < len(orders):
                now += tick * max(1, math.ceil((orders[next_order].placed - now) / tick))
            else:
                break
        for c in self.couriers.values():
            self.done.append(CourierRecord(c.shift, tuple(c.busy), c.orders, c.km))
        records = [self.records.get(o.id) or OrderRecord(o, o.prep) for o in orders]
        return CityResult(self.start, tuple(records), tuple(self.done), ticks, demand.not_offered)

    def _place(self, o: DemandOrder) -> None:
        self.records[o.id] = OrderRecord(o, o.prep)
        self.open[o.id] = OpenOrder(
            o.id,
            self.store_ids[o.pharmacy],
            self.stores[o.pharmacy],
            o.address,
            self.at(o.placed),
            self.at(o.placed + o.expected_prep),
            self.at(o.placed + o.promise_minutes),
        )

    def _clock_in(self, s: Shift) -> None:
        state = CourierState(
            s.id, s.position, CourierStatus.IDLE, self.at(s.end), capacity=self.params.courier_capacity
        )
        self.couriers[s.id] = _Courier(s, state, s.position, s.start, s.start)

    def _update_couriers(self, now: float) -> None:
        tick = self.params.tick_seconds / 60.0
        for c in list(self.couriers.values()):
            if c.free <= now:
                if c.shift.end <= now:
                    self.done.append(CourierRecord(c.shift, tuple(c.busy), c.orders, c.km))
                    del self.couriers[c.shift.id]
                elif c.state.status is not CourierStatus.IDLE:
                    c.state = replace(c.state, position=c.position, status=CourierStatus.IDLE, free_at=None)
            elif c.planned_free < now + tick:  # running late: not free before the next tick
                c.state = replace(c.state, free_at=self.at(now + tick))

    def _snapshot(self, now: float) -> Snapshot[LatLng]:
        return Snapshot(self.at(now), tuple(self.open.values()), tuple(c.state for c in self.couriers.values()))

    def _apply(self, plan: Plan, now: float) -> None:
        for a in plan.assignments:
            if not a.commit:
                for order_id in a.order_ids:
                    o = self.open[order_id]
                    if o.courier_id != a.courier_id:
                        self.open[order_id] = replace(o, courier_id=a.courier_id)
                continue
            c = self.couriers[a.courier_id]
            if c.free > now + 1e-9 or any(i not in self.open for i in a.order_ids):
                raise ValueError(f"t={now:.2f}: commit to {a.courier_id} of {a.order_ids} breaks the rules")
            self._dispatch(c, [self.records[i] for i in a.order_ids], now)

    def _dispatch(self, c: _Courier, bundle: list[OrderRecord], now: float) -> None:
        half = self.params.handover_minutes / 2
        store = self.stores[bundle[0].order.pharmacy]
        took, modelled, km = self.ride(c.position, store, now)
        ready = max(r.order.placed + r.ready for r in bundle)
        pickup = max(now + took + half, ready)
        clock = planned = pickup + half
        overrun, here = 0.0, store
        share = km / len(bundle)  # the ride to the pharmacy is shared; each order owns its last leg
        for r in bundle:
            took, modelled, leg_km = self.ride(here, r.order.address, clock)
            overrun += took - modelled
            km += leg_km
            delivered = clock + took + half
            self.records[r.order.id] = replace(
                r,
                picked_up=pickup - r.order.placed,
                delivered=delivered - r.order.placed,
                courier_id=c.shift.id,
                bundle_size=len(bundle),
                ride_overrun=overrun,
                km=share + leg_km,
            )
            del self.open[r.order.id]
            clock, planned, here = delivered + half, planned + modelled + 2 * half, r.order.address
        c.busy.append((now, clock))
        c.orders += len(bundle)
        c.km += km
        c.free, c.planned_free, c.position = clock, max(planned, now), here
        c.state = replace(
            c.state,
            status=CourierStatus.DELIVERING,
            free_at=self.at(max(planned, now + self.params.tick_seconds / 60.0)),
            free_position=here,
        )


def simulate_city(
    city: City,
    pharmacies: Sequence[Pharmacy],
    params: CitySimParams,
    policy: Policy,
    seed: int,
    *,
    demand: Demand | None = None,
) -> CityResult:
    """Run ``policy`` over ``demand`` (by default the one ``seed`` generates); the same inputs give the same result."""
    if demand is None:
        demand = generate_demand(city, pharmacies, params, seed)
    return _Run(city, pharmacies, params, seed).run(demand, policy)
