"""The live fleet's reach: how soon a courier can stand at each pharmacy's counter, from one tick.

The promise quoted at checkout and on the landing page must be one the dispatcher can keep, so
after each tick the dispatcher publishes what it knows of its couriers (``FleetView``): those
able to take new work, each free at a known time at a known place. ``fleet_reach`` turns a view
into, for every pharmacy of the city, ``courier_reach_minutes`` = the smallest, over those
couriers, of (minutes until the courier is free + ride minutes from where it is then to the
pharmacy, at the hour of the tick). The availability index then quotes
``max(prep, reach) + ride + handover`` instead of the model's ``prep + ride + handover``.

Which couriers count (``fleet_couriers``):

* idle now: free now, where it is;
* with work, taken or planned this tick: free when its modelled route ends (the last stop of its
  plan, or the dispatcher's estimate of its taken work), at its last drop-off;
* and in either case with enough of its shift left: a pickup after the shift's end is never
  planned, so a pharmacy the courier reaches later than ``shift_end - min_shift_minutes_left``
  is out of its reach.

A view is valid for ``max_age_s`` around its instant (by default three dispatcher ticks): an
older one means the dispatcher stopped publishing, and the index falls back to the model. A view
with no courier online at all (none on shift with a known position: ``FleetView.online == 0``) is
no fleet data either, as on a fresh install. A fresh view in which couriers are online but none
can reach a pharmacy gives that pharmacy ``inf``: it cannot deliver now.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from yaodao.dispatch.plan import Plan, StopKind
from yaodao.dispatch.snapshot import CourierStatus, Snapshot
from yaodao.dispatch.travel_matrix import TravelMatrix
from yaodao.kernel.clock import require_aware
from yaodao.kernel.geo import LatLng


@dataclass(frozen=True, slots=True)
class FleetParams:
    max_age_s: float = 60.0  # how long a view stands for the fleet (three 20 s dispatcher ticks)
    min_shift_minutes_left: float = 5.0  # a courier must reach the pharmacy this long before its shift ends

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_age_s) and self.max_age_s > 0):
            raise ValueError(f"max_age_s must be a finite number > 0, got {self.max_age_s!r}.")
        if not (math.isfinite(self.min_shift_minutes_left) and self.min_shift_minutes_left >= 0):
            raise ValueError(
                f"min_shift_minutes_left must be a finite number >= 0, got {self.min_shift_minutes_left!r}."
            )


@dataclass(frozen=True, slots=True)
class FleetCourier:
    """A courier able to take new work: free ``free_in_minutes`` after the view's instant, at ``position``."""

    id: str
    position: LatLng
    free_in_minutes: float  # 0: idle now
    shift_left_minutes: float  # from the view's instant to the end of its shift
    capacity: int


@dataclass(frozen=True, slots=True)
class FleetView:
    """What one dispatcher tick knew of a city's couriers at ``at``."""

    city_id: str
    at: datetime
    couriers: tuple[FleetCourier, ...]  # able to take new work
    online: int  # couriers online, on shift and with a known position, able to take new work or not
    params: FleetParams

    def __post_init__(self) -> None:
        require_aware(self.at)


@dataclass(frozen=True, slots=True)
class FleetReach:
    """``minutes``: pharmacy id -> the soonest a courier can be there (``inf``: none can), as of ``at``."""

    city_id: str
    at: datetime
    minutes: Mapping[str, float]
    couriers: int  # couriers it was computed from
    max_age_s: float

    def __post_init__(self) -> None:
        require_aware(self.at)

    def fresh_at(self, at: datetime) -> bool:
        """Whether the reach stands for the fleet at ``at`` (within ``max_age_s`` of its instant)."""
        return abs((at - self.at).total_seconds()) <= self.max_age_s


def fleet_couriers(snapshot: Snapshot[LatLng], plan: Plan, params: FleetParams) -> tuple[FleetCourier, ...]:
    """The couriers of a tick's snapshot able to take new work after the tick's ``plan``, by id."""
    at = snapshot.at
    dropoff = {o.id: o.dropoff for o in snapshot.orders}
    planned_end: dict[str, tuple[datetime, LatLng]] = {}
    for a in plan.assignments:
        last = a.stops[-1]
        where = dropoff.get(last.place_id) if last.kind is StopKind.DROPOFF else None
        known = planned_end.get(a.courier_id)
        if where is not None and (known is None or last.leave_at > known[0]):
            planned_end[a.courier_id] = (last.leave_at, where)
    found: list[FleetCourier] = []
    for c in sorted(snapshot.couriers, key=lambda c: c.id):
        if c.status is CourierStatus.OFFLINE:
            continue
        free_at, position = at, c.position
        if c.free_at is not None:
            free_at, position = c.free_at, c.free_position if c.free_position is not None else c.position
        if c.shift_start is not None and c.shift_start > free_at:
            free_at = c.shift_start
        if c.id in planned_end and planned_end[c.id][0] > free_at:
            free_at, position = planned_end[c.id]
        free_in = max(0.0, (free_at - at) / timedelta(minutes=1))
        shift_left = (c.shift_end - at) / timedelta(minutes=1)
        if shift_left - free_in < params.min_shift_minutes_left:
            continue
        found.append(FleetCourier(c.id, position, free_in, shift_left, c.capacity))
    return tuple(found)


def fleet_reach(
    view: FleetView,
    pharmacy_ids: Sequence[str],
    locations: Sequence[LatLng],
    travel: TravelMatrix[LatLng],
) -> FleetReach | None:
    """Each pharmacy's courier reach in minutes from ``view``; None when the view holds no fleet data.

    One (couriers x pharmacies) ride matrix at the hour of the view; a courier counts for a
    pharmacy only if it gets there ``min_shift_minutes_left`` before its shift ends.
    """
    if view.online == 0:
        return None
    if len(pharmacy_ids) != len(locations):
        raise ValueError("pharmacy_ids and locations must have the same length.")
    n = len(pharmacy_ids)
    if not view.couriers or n == 0:
        best = np.full(n, np.inf)
    else:
        cs = view.couriers
        free_in = np.fromiter((c.free_in_minutes for c in cs), dtype=np.float64, count=len(cs))
        latest = np.fromiter((c.shift_left_minutes for c in cs), dtype=np.float64, count=len(cs))
        latest -= view.params.min_shift_minutes_left
        arrive = travel.matrix([c.position for c in cs], list(locations), view.at)
        arrive += free_in[:, None]
        arrive[arrive > latest[:, None]] = np.inf
        best = arrive.min(axis=0)
    return FleetReach(
        city_id=view.city_id,
        at=view.at,
        minutes=dict(zip(pharmacy_ids, best.tolist(), strict=True)),
        couriers=len(view.couriers),
        max_age_s=view.params.max_age_s,
    )
