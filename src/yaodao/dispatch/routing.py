"""Drop-off sequencing with PyVRP (pinned at 0.14.1), behind the bundling ``Sequencer`` signature.

One courier leaves the pharmacy with a bundle and visits every door; PyVRP minimises the time
until the last drop-off, with each door's promise as a time window. Bundling's own sequencer
(enumeration up to ``exact_sequence_limit``, cheapest insertion beyond) minimises the customers'
waiting instead. ``sequencer="pyvrp"`` swaps this one in for bundles above the limit; the MDRP
benchmark compares both (docs/benchmarks.md).

PyVRP 0.14 specifics: locations are explicit (``add_location`` then ``add_depot`` /
``add_client``), routes are read with ``schedule()``, and a bundle that cannot keep every promise
makes PyVRP warn (``PenaltyBoundWarning``) and report time warp: a late sequence is still a
sequence, so the warning is silenced here and lateness is priced by the caller.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from pyvrp import Model
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxIterations

from yaodao.dispatch.assignment import TickProblem

SECONDS = 60  # PyVRP works in integers: minutes are rounded up to whole seconds


def pyvrp_sequence(problem: TickProblem, courier: int, orders: Sequence[int]) -> list[int]:
    """The drop-off order PyVRP finds for ``courier`` taking ``orders`` (one pharmacy)."""
    orders = list(orders)
    if len(orders) < 2:
        return orders
    g = int(problem.group[orders[0]])
    arrive = float(problem.avail[courier] + problem.to_pickup[courier, g])
    pickup = max(arrive + problem.pickup_before, max(float(problem.ready[i]) for i in orders))
    leave = pickup + problem.pickup_after

    n = len(orders)
    # 0: the pharmacy, 1..n: the doors, n + 1: where the route ends (free to reach from anywhere).
    minutes = np.zeros((n + 2, n + 2))
    for a, i in enumerate(orders, start=1):
        minutes[0, a] = problem.direct[i]
        for b, k in enumerate(orders, start=1):
            if a != b:
                minutes[a, b] = problem.drop_ride(i, k)
    minutes[n + 1, :] = math.inf  # never leave the end
    minutes[:, n + 1] = 0.0
    duration = np.where(np.isfinite(minutes), np.ceil(minutes * SECONDS), 10**9).astype(np.int64)

    model = Model()
    locations = [model.add_location(x=0, y=0) for _ in range(n + 2)]
    start = model.add_depot(locations[0])
    end = model.add_depot(locations[n + 1])
    model.add_vehicle_type(1, start_depot=start, end_depot=end, unit_distance_cost=0, unit_duration_cost=1)
    service = round(problem.params.dropoff_service_minutes * SECONDS)
    for a, i in enumerate(orders, start=1):
        latest = float(problem.due[i]) - problem.dropoff_before - leave
        model.add_client(locations[a], service_duration=service, tw_late=max(0, math.floor(latest * SECONDS)))
    for a in range(n + 2):
        for b in range(n + 2):
            if a != b:
                model.add_edge(locations[a], locations[b], distance=0, duration=int(duration[a, b]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = model.solve(
            stop=MaxIterations(problem.params.pyvrp_iterations),
            seed=problem.seed,
            collect_stats=False,
            display=False,
        )
    visited = [activity.idx for route in result.best.routes() for activity in route.schedule() if activity.is_client()]
    if sorted(visited) != list(range(n)):
        return orders  # PyVRP dropped a door: keep the input order rather than lose an order
    return [orders[k] for k in visited]
