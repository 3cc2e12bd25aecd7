"""The baseline dispatcher: nearest idle courier, first come first served, no bundling.

What a dispatcher without a planner does, and what the planner is measured against: orders in
placement order each take the free courier that reaches their pharmacy first, and leave at once.
Same signature as ``planner.plan``; Rx orders wait for approval here too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Assignment, HoldReason, Plan, Stop, StopKind
from yaodao.dispatch.planner import DEFAULT_PARAMS, build_problem
from yaodao.dispatch.snapshot import P, Snapshot
from yaodao.dispatch.travel_matrix import TravelMatrix


def plan_baseline(
    snapshot: Snapshot[P], travel: TravelMatrix[P], params: PlannerParams = DEFAULT_PARAMS, seed: int = 0
) -> Plan:
    """Commit each order, oldest first, to the idle courier that reaches its pharmacy first."""
    problem, orders, couriers, held = build_problem(snapshot, travel, params)
    at = snapshot.at

    def when(minutes: float) -> datetime:
        return at + timedelta(minutes=minutes)

    free = problem.can_leave_now.copy()
    assignments: list[Assignment] = []
    deferred: list[str] = []
    by_age = sorted(range(len(orders)), key=lambda i: (orders[i].placed_at, orders[i].id))
    for n, i in enumerate(by_age):
        if not free.any():  # every courier is taken: the rest wait (and a long queue costs nothing more)
            deferred.extend(orders[k].id for k in by_age[n:])
            break
        g = int(problem.group[i])
        arrive = problem.to_pickup[:, g]
        pickup = np.maximum(arrive + problem.pickup_before, problem.ready[i])
        ok = free & (pickup <= problem.shift_end) & (problem.capacity >= problem.size[i])
        if problem.cold[i]:
            ok &= problem.cold_ok
        if not ok.any():
            deferred.append(orders[i].id)
            continue
        j = int(np.flatnonzero(ok)[np.argmin(arrive[ok])])
        free[j] = False
        p_at = float(pickup[j])
        drop = p_at + problem.pickup_after + float(problem.direct[i]) + problem.dropoff_before
        o = orders[i]
        stops = (
            Stop(
                StopKind.PICKUP,
                o.pickup_id,
                (o.id,),
                when(float(arrive[j])),
                when(p_at),
                when(p_at + problem.pickup_after),
            ),
            Stop(
                StopKind.DROPOFF,
                o.id,
                (o.id,),
                when(drop - problem.dropoff_before),
                when(drop),
                when(drop + problem.dropoff_after),
            ),
        )
        assignments.append(Assignment(couriers[j].id, (o.id,), stops, at, True, p_at - float(problem.ready[i])))
    if not couriers:
        held.update({o.id: HoldReason.NO_ELIGIBLE_COURIER for o in orders})
        deferred = []
    return Plan(at, tuple(sorted(assignments, key=lambda a: a.courier_id)), tuple(sorted(deferred)), held)
