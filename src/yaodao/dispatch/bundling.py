"""Bundles: several orders of one pharmacy on one courier, and the drop-off sequence that costs least.

A bundle is picked up once, when its last order is ready and the courier is there, then dropped
off door by door. Each order costs what it costs alone (wait at the pharmacy, minutes past the
promise) plus ``detour_weight`` per minute it rides longer than it would alone, and the courier's
minutes cost ``courier_minute`` each (see ``assignment``).

Bundling runs after the matching, in three moves, all within one pharmacy:

* ``add_to_bundles``: an order the matching left without a courier joins a matched bundle when
  that costs less than what waiting would cost it (``deferred_values``);
* ``merge_bundles``: an order moves from one bundle to another while the total cost falls; a
  courier whose bundle empties is freed for the orders still waiting;
* ``resequence``: each final bundle gets its best drop-off sequence, enumerated up to
  ``exact_sequence_limit`` orders, by cheapest insertion (or PyVRP, ``sequencer="pyvrp"``) beyond.

During the first two moves an order is tried at every position of the current sequence, which
keeps a tick with thousands of orders within its time budget.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from yaodao.dispatch.assignment import FloatArray, TickProblem, single_order_costs

Sequencer = Callable[[TickProblem, int, Sequence[int]], list[int]]
NOW_OR_NEVER = 1e6  # the value of an order no courier can take after this tick


@dataclass(slots=True)
class Route:
    """A courier's next bundle, in minutes after the snapshot."""

    courier: int
    orders: list[int]  # drop-off sequence
    arrive: float  # at the pharmacy
    pickup: float
    drops: list[float]
    cost: float


def pickup_group(problem: TickProblem, route: Route) -> int:
    return problem.lists.group[route.orders[0]]


def evaluate(problem: TickProblem, courier: int, sequence: Sequence[int]) -> Route | None:
    """Times and cost of ``courier`` taking ``sequence`` (one pharmacy) in that order; ``None`` if infeasible."""
    p = problem.params
    q = problem.lists
    ready, due, direct = q.ready, q.due, q.direct
    travel = float(problem.to_pickup[courier, q.group[sequence[0]]])
    arrive = q.avail[courier] + travel
    pickup = arrive + problem.pickup_before
    size = 0
    for i in sequence:
        if ready[i] > pickup:
            pickup = ready[i]
        size += q.size[i]
        if q.cold[i] and not q.cold_ok[courier]:
            return None
    if pickup > q.shift_end[courier] or size > q.capacity[courier]:
        return None
    leave = pickup + problem.pickup_after
    wait_weight, detour_weight, late_weight = p.wait_weight, p.detour_weight, p.late_weight
    t = leave
    cost = 0.0
    drops: list[float] = []
    previous = -1
    for i in sequence:
        t += direct[i] if previous < 0 else problem.drop_ride(previous, i)
        drop = t + problem.dropoff_before
        cost += wait_weight * (pickup - ready[i]) + detour_weight * (t - leave - direct[i])
        if drop > due[i]:
            cost += late_weight * (drop - due[i])
        if q.keep[i] == courier:
            cost -= p.keep_weight
        drops.append(drop)
        t = drop + problem.dropoff_after
        previous = i
    if p.pay_weight > 0:
        n = len(sequence)
        cost += p.pay_weight * min(max(n - q.guarantee_left[courier], 0.0), n)
    riding = travel + p.pickup_service_minutes + (t - leave)  # waiting at the pharmacy excluded
    cost += problem.courier_minute * min(riding, max(0.0, q.shift_end[courier] - q.avail[courier]))
    return Route(courier, list(sequence), arrive, pickup, drops, cost)


def best_route(
    problem: TickProblem, courier: int, orders: Sequence[int], sequencer: Sequencer | None = None
) -> Route | None:
    """The cheapest drop-off sequence of ``orders`` for ``courier``: enumerated, or built by insertion."""
    if len(orders) <= problem.params.exact_sequence_limit:
        best: Route | None = None
        for sequence in itertools.permutations(orders):
            route = evaluate(problem, courier, sequence)
            if route is not None and (best is None or route.cost < best.cost):
                best = route
        return best
    if sequencer is not None:
        return evaluate(problem, courier, sequencer(problem, courier, orders))
    by_due = sorted(orders, key=lambda i: (problem.lists.due[i], i))
    route = evaluate(problem, courier, by_due[:1])
    for i in by_due[1:]:
        if route is None:
            return None
        route = inserted(problem, route, i)
    return route


def inserted(problem: TickProblem, route: Route, order: int) -> Route | None:
    """``route`` with ``order`` at its cheapest position, the others kept in sequence."""
    best: Route | None = None
    sequence = route.orders
    for k in range(len(sequence) + 1):
        candidate = evaluate(problem, route.courier, [*sequence[:k], order, *sequence[k:]])
        if candidate is not None and (best is None or candidate.cost < best.cost):
            best = candidate
    return best


def deferred_values(problem: TickProblem, routes: dict[int, Route], orders: Sequence[int]) -> FloatArray:
    """What waiting costs each of ``orders``: its best cost with a courier once that courier is done.

    Matched couriers are free again after their bundle, at its last door; the others as they are.
    Only ``orders`` get a value; the rest are ``-inf``.
    """
    avail = problem.avail.copy()
    to_pickup = problem.to_pickup.copy()
    couriers = list(routes)
    if couriers:
        avail[couriers] = [routes[j].drops[-1] + problem.dropoff_after for j in couriers]
        to_pickup[couriers] = problem.door_to_pickups([routes[j].orders[-1] for j in couriers])
    later = dataclasses.replace(problem, avail=avail, to_pickup=to_pickup)
    cost = single_order_costs(later, np.asarray(orders, dtype=np.intp))
    value = np.full(problem.orders, -np.inf)
    if cost.shape[0]:
        best = cost.min(axis=0)
        # No courier will be able to take it later (shifts end): now or never.
        value[list(orders)] = np.where(np.isinf(best), NOW_OR_NEVER, best) + problem.params.match_bonus
    return value


def _routes_by_group(problem: TickProblem, routes: dict[int, Route]) -> dict[int, list[int]]:
    by_group: dict[int, list[int]] = {}
    for courier, route in routes.items():
        by_group.setdefault(pickup_group(problem, route), []).append(courier)
    return by_group


def add_to_bundles(
    problem: TickProblem, routes: dict[int, Route], unmatched: Sequence[int], value: FloatArray
) -> list[int]:
    """Put unmatched orders into matched bundles of the same pharmacy where that pays; return who is left."""
    p = problem.params
    if p.max_bundle_orders < 2 or not routes:
        return list(unmatched)
    by_group = _routes_by_group(problem, routes)
    ready = problem.lists.ready
    left: list[int] = []
    # Most valuable first: the orders that lose most by waiting get the bundles' room.
    for i in sorted(unmatched, key=lambda i: (-_number(float(value[i])), ready[i], i)):
        couriers = by_group.get(problem.lists.group[i], ())
        if np.isnan(value[i]) or not couriers:  # no courier can take it at all, or no bundle to join
            left.append(i)
            continue
        best: tuple[float, Route] | None = None
        for courier in couriers:
            route = routes[courier]
            if len(route.orders) >= p.max_bundle_orders or ready[i] > route.pickup + p.bundle_slack_minutes:
                continue  # full, or it would hold the bundle at the pharmacy too long
            candidate = inserted(problem, route, i)
            if candidate is None:
                continue
            extra = candidate.cost - route.cost
            if extra < value[i] and (best is None or extra < best[0]):
                best = (extra, candidate)
        if best is None:
            left.append(i)
        else:
            routes[best[1].courier] = best[1]
    return left


def merge_bundles(problem: TickProblem, routes: dict[int, Route]) -> list[int]:
    """Move orders between bundles of the same pharmacy while that lowers the total cost.

    A courier whose bundle empties is freed (returned) for the orders still waiting. Under
    congestion a courier minute is dear, so two half-empty trips from one pharmacy become one.
    """
    if problem.params.max_bundle_orders < 2:
        return []
    freed: list[int] = []
    for couriers in _routes_by_group(problem, routes).values():
        if len(couriers) < 2:
            continue
        for _ in range(problem.params.merge_passes):
            moved = False
            for source, target in itertools.permutations(sorted(couriers), 2):
                if source not in routes or target not in routes:
                    continue
                move = _best_move(problem, routes[source], routes[target])
                if move is None:
                    continue
                shrunk, grown = move
                routes[target] = grown
                if shrunk is None:
                    del routes[source]
                    freed.append(source)
                else:
                    routes[source] = shrunk
                moved = True
            if not moved:
                break
    return sorted(freed)


def _best_move(problem: TickProblem, source: Route, target: Route) -> tuple[Route | None, Route] | None:
    p = problem.params
    if len(target.orders) >= p.max_bundle_orders:
        return None
    best: tuple[float, Route | None, Route] | None = None
    for i in source.orders:
        if problem.lists.ready[i] > target.pickup + p.bundle_slack_minutes:
            continue
        grown = inserted(problem, target, i)
        if grown is None:
            continue
        rest = [k for k in source.orders if k != i]
        shrunk = evaluate(problem, source.courier, rest) if rest else None
        if rest and shrunk is None:
            continue
        delta = grown.cost + (shrunk.cost if shrunk is not None else 0.0) - source.cost - target.cost
        if delta < -1e-6 and (best is None or delta < best[0]):
            best = (delta, shrunk, grown)
    return None if best is None else (best[1], best[2])


def resequence(problem: TickProblem, routes: dict[int, Route], sequencer: Sequencer | None = None) -> None:
    """Give every bundle of two or more orders its best drop-off sequence."""
    for courier, route in routes.items():
        if len(route.orders) > 1:
            best = best_route(problem, courier, route.orders, sequencer)
            if best is not None and best.cost < route.cost:
                routes[courier] = best


def _number(x: float) -> float:
    return -1.0 if np.isnan(x) else float(x)
