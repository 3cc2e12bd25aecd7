"""The dispatcher's planner: a pure, seeded function of one tick's snapshot.

``plan(snapshot, travel, params, seed)``:

1. holds Rx orders a pharmacist has not approved (they are never planned) and orders no courier
   on shift can take (cold chain, size, shift end);
2. prices every (courier, order) pair and matches couriers to orders with
   ``linear_sum_assignment`` (``assignment``); a courier's next job starts when and where its
   current work ends. An order left out is worth what waiting would cost it: first its cost with
   its runner-up courier, then, once the matching has shown which couriers are taken, its cost
   with the first courier to finish (``rematch_rounds`` times re-matched);
3. bundles within each pharmacy (``bundling``): left-out orders join matched bundles where that
   costs less than waiting, orders move between bundles while the total falls, couriers freed
   that way are matched again, and every bundle gets its best drop-off sequence;
4. commits an assignment only when its pickup is near: the courier is free now and must leave
   within this tick to reach the pharmacy by the time the bundle is ready. Everything else is
   tentative and planned again next tick, with what has changed (new orders, couriers going
   offline, pharmacy delays, cancellations) folded in, so a late commit keeps options open.

Why a delivery ended up late is classified by ``late_cause`` (re-exported from ``lateness``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Generic

import numpy as np

from yaodao.dispatch.assignment import FloatArray, TickProblem, match, order_values, single_order_costs
from yaodao.dispatch.bundling import (
    Route,
    Sequencer,
    add_to_bundles,
    deferred_values,
    evaluate,
    merge_bundles,
    pickup_group,
    resequence,
)
from yaodao.dispatch.lateness import DeliveryTimeline, LateCause, late_cause
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Assignment, HoldReason, Plan, Stop, StopKind
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, P, Snapshot
from yaodao.dispatch.travel_matrix import TravelMatrix

__all__ = ["DeliveryTimeline", "LateCause", "late_cause", "plan"]

DEFAULT_PARAMS = PlannerParams()


def _minutes(at: datetime, when: datetime) -> float:
    return (when - at).total_seconds() / 60.0


class _DropRides(Generic[P]):
    """Door-to-door minutes between orders of one pharmacy, one table per pharmacy on first use."""

    def __init__(self, travel: TravelMatrix[P], orders: Sequence[OpenOrder[P]], group: Sequence[int], at: datetime):
        self._travel, self._orders, self._at = travel, orders, at
        self._members: dict[int, list[int]] = {}
        for i, g in enumerate(group):
            self._members.setdefault(g, []).append(i)
        self._group = group
        self._position = [0] * len(group)
        for members in self._members.values():
            for k, i in enumerate(members):
                self._position[i] = k
        self._rows: dict[int, list[float]] = {}  # order -> its row of its pharmacy's table

    def __call__(self, i: int, k: int) -> float:
        row = self._rows.get(i)
        if row is None:
            members = self._members[self._group[i]]
            points = [self._orders[m].dropoff for m in members]
            table: list[list[float]] = self._travel.matrix(points, points, self._at).tolist()
            self._rows.update(zip(members, table, strict=True))
            row = table[self._position[i]]
        return row[self._position[k]]


def _usable(courier: CourierState[P], at: datetime, params: PlannerParams) -> tuple[float, P, float] | None:
    """(free in minutes, where, shift end in minutes) or ``None`` when the courier cannot be planned."""
    if courier.status is CourierStatus.OFFLINE:
        return None
    free, where = 0.0, courier.position
    if courier.status is CourierStatus.DELIVERING and courier.free_at is not None:
        free = _minutes(at, courier.free_at)
        if courier.free_position is not None:
            where = courier.free_position
    if courier.shift_start is not None:
        free = max(free, _minutes(at, courier.shift_start))
    free = max(free, 0.0)
    end = _minutes(at, courier.shift_end)
    if end < free or free > params.lookahead_minutes:
        return None
    return free, where, end


def build_problem(
    snapshot: Snapshot[P], travel: TravelMatrix[P], params: PlannerParams
) -> tuple[TickProblem, list[OpenOrder[P]], list[CourierState[P]], dict[str, HoldReason]]:
    """The tick in numbers: releasable orders, plannable couriers, and what is held back."""
    at = snapshot.at
    held = {o.id: HoldReason.AWAITING_PHARMACIST for o in snapshot.orders if not o.releasable}
    orders = [o for o in snapshot.orders if o.releasable]
    couriers: list[CourierState[P]] = []
    avail, ends, starts = [], [], []
    for c in snapshot.couriers:
        usable = _usable(c, at, params)
        if usable is not None:
            couriers.append(c)
            avail.append(usable[0])
            starts.append(usable[1])
            ends.append(usable[2])
    group_of: dict[str, int] = {}
    group_points: list[P] = []
    for o in orders:
        if o.pickup_id not in group_of:
            group_of[o.pickup_id] = len(group_points)
            group_points.append(o.pickup)
    group = [group_of[o.pickup_id] for o in orders]
    index = {c.id: j for j, c in enumerate(couriers)}
    if couriers and group_points:
        to_pickup = travel.matrix(starts, group_points, at)
    else:
        to_pickup = np.zeros((len(couriers), len(group_points)))
    direct = travel.pairwise([o.pickup for o in orders], [o.dropoff for o in orders], at) if orders else np.zeros(0)
    backlog = max(0.0, len(orders) / max(1, len(couriers)) - 1.0)

    def door_to_pickups(indices: Sequence[int]) -> FloatArray:
        return travel.matrix([orders[i].dropoff for i in indices], group_points, at)

    problem = TickProblem(
        params=params,
        avail=np.array(avail, dtype=np.float64),
        shift_end=np.array(ends, dtype=np.float64),
        capacity=np.array([c.capacity for c in couriers], dtype=np.intp),
        cold_ok=np.array([c.cold_chain for c in couriers], dtype=np.bool_),
        can_leave_now=np.array([a <= 1e-9 for a in avail], dtype=np.bool_),
        guarantee_left=np.array(
            [np.inf if c.guarantee_left is None else c.guarantee_left for c in couriers], dtype=np.float64
        ),
        ready=np.array([_minutes(at, o.ready_at) for o in orders], dtype=np.float64),
        due=np.array([_minutes(at, o.due_at) for o in orders], dtype=np.float64),
        size=np.array([o.size for o in orders], dtype=np.intp),
        cold=np.array([o.cold_chain for o in orders], dtype=np.bool_),
        group=np.array(group, dtype=np.intp),
        direct=np.asarray(direct, dtype=np.float64),
        keep=np.array([index.get(o.courier_id, -1) if o.courier_id else -1 for o in orders], dtype=np.intp),
        to_pickup=np.asarray(to_pickup, dtype=np.float64),
        drop_ride=_DropRides(travel, orders, group, at),
        door_to_pickups=door_to_pickups,
        courier_minute=params.travel_weight + params.congestion_weight * backlog,
    )
    return problem, orders, couriers, held


def plan(snapshot: Snapshot[P], travel: TravelMatrix[P], params: PlannerParams = DEFAULT_PARAMS, seed: int = 0) -> Plan:
    """Assign, bundle and sequence this tick's orders; commit what must leave now."""
    problem, orders, couriers, held = build_problem(snapshot, travel, params)
    problem.seed = seed
    if not orders:
        return Plan(snapshot.at, (), (), held)
    cost = single_order_costs(problem)
    value = order_values(problem, cost)
    routes = _matched_routes(problem, cost, value, seed)
    unmatched = _unmatched(problem, routes)
    for round_ in range(params.rematch_rounds + 1):
        if not unmatched or not routes:
            break
        later = deferred_values(problem, routes, unmatched)
        if not (later > value + 1e-9).any():
            break
        value = np.maximum(value, later)
        if round_ < params.rematch_rounds:
            routes = _matched_routes(problem, cost, value, seed)
            unmatched = _unmatched(problem, routes)
    left = add_to_bundles(problem, routes, unmatched, value)
    freed = merge_bundles(problem, routes)
    if freed and left:
        sub = np.full_like(cost, np.inf)
        sub[np.ix_(freed, left)] = cost[np.ix_(freed, left)]
        routes.update(_matched_routes(problem, sub, value, seed))
        still = set(_unmatched(problem, routes))
        left = [i for i in left if i in still]
    resequence(problem, routes, _sequencer(params))
    for i in left:
        if np.isnan(value[i]):
            held[orders[i].id] = HoldReason.NO_ELIGIBLE_COURIER
    deferred = tuple(sorted(orders[i].id for i in left if not np.isnan(value[i])))
    assignments = tuple(
        sorted(
            (_assignment(problem, snapshot.at, orders, couriers, r) for r in routes.values()),
            key=lambda a: a.courier_id,
        )
    )
    return Plan(snapshot.at, assignments, deferred, held)


def _unmatched(problem: TickProblem, routes: dict[int, Route]) -> list[int]:
    matched = {i for r in routes.values() for i in r.orders}
    return [i for i in range(problem.orders) if i not in matched]


def _matched_routes(problem: TickProblem, cost: FloatArray, value: FloatArray, seed: int) -> dict[int, Route]:
    routes: dict[int, Route] = {}
    for j, i in match(problem, cost, value, seed):
        route = evaluate(problem, j, [i])
        if route is not None:
            routes[j] = route
    return routes


def _sequencer(params: PlannerParams) -> Sequencer | None:
    if params.sequencer == "pyvrp":
        from yaodao.dispatch.routing import pyvrp_sequence

        return pyvrp_sequence
    return None


def _assignment(
    problem: TickProblem, at: datetime, orders: list[OpenOrder[P]], couriers: list[CourierState[P]], route: Route
) -> Assignment:
    j = route.courier
    g = pickup_group(problem, route)
    ready = max(float(problem.ready[i]) for i in route.orders)
    latest_departure = ready - problem.pickup_before - float(problem.to_pickup[j, g])
    window = problem.params.tick_minutes + problem.params.commit_lead_minutes
    commit = bool(problem.can_leave_now[j]) and latest_departure < window - 1e-9
    depart = 0.0 if commit else max(float(problem.avail[j]), latest_departure)

    def when(minutes: float) -> datetime:
        return at + timedelta(minutes=minutes)

    ids = tuple(orders[i].id for i in route.orders)
    first = orders[route.orders[0]]
    stops = [
        Stop(
            StopKind.PICKUP,
            first.pickup_id,
            ids,
            when(depart + float(problem.to_pickup[j, g])),
            when(route.pickup),
            when(route.pickup + problem.pickup_after),
        )
    ]
    for i, drop in zip(route.orders, route.drops, strict=True):
        stops.append(
            Stop(
                StopKind.DROPOFF,
                orders[i].id,
                (orders[i].id,),
                when(drop - problem.dropoff_before),
                when(drop),
                when(drop + problem.dropoff_after),
            )
        )
    return Assignment(couriers[j].id, ids, tuple(stops), when(depart), commit, route.cost)
