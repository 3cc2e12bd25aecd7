"""One tick as numbers, and the courier-to-order matching (``scipy.optimize.linear_sum_assignment``).

Times are minutes after the snapshot. Courier ``j`` is free at ``avail[j]`` at some point from
which it rides ``to_pickup[j, g]`` minutes to pickup ``g``. Order ``i`` alone with courier ``j``:

    pickup  = max(ready[i], avail[j] + to_pickup[j, g(i)] + pickup_before)
    dropoff = pickup + pickup_after + direct[i] + dropoff_before
    cost    = wait_weight x (pickup - ready) + late_weight x (dropoff - due)+
              + courier_minute x min(to_pickup + services + direct,   # the courier's time it uses,
                                     minutes left in its shift)        # only while others could use it
              + pay_weight if the order is beyond the courier's guaranteed pay
              - keep_weight if j is the order's current courier

``courier_minute`` prices a courier's minute in customer minutes: ``travel_weight`` when couriers
are plentiful, rising with the backlog per courier (``congestion_weight``), because then every
minute a courier spends on one order is a minute the queue waits.

The matching is rectangular and may leave orders out. An order left out this tick is served
later, so each order carries a value for being served now: its cost with its ``regret_rank``-th
best courier (what deferring it would likely cost), or its best cost plus ``no_alternative_minutes``
when fewer couriers can take it, plus ``match_bonus``. The matching minimises the sum of
``cost - value`` over matched pairs, and only pairs below zero are kept, so an urgent order with
few good couriers wins over one that could just as well wait for the next tick. The planner then
raises the values of the orders left out to what waiting for the first courier to finish would
cost them (``bundling.deferred_values``) and matches again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from yaodao.dispatch.params import PlannerParams

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class ProblemLists:
    """The per-order and per-courier arrays as Python lists: the bundling loops read them one by one."""

    ready: list[float]
    due: list[float]
    direct: list[float]
    size: list[int]
    cold: list[bool]
    group: list[int]
    keep: list[int]
    avail: list[float]
    shift_end: list[float]
    capacity: list[int]
    cold_ok: list[bool]
    guarantee_left: list[float]


@dataclass
class TickProblem:
    params: PlannerParams
    # couriers
    avail: FloatArray
    shift_end: FloatArray
    capacity: IntArray
    cold_ok: BoolArray
    can_leave_now: BoolArray
    guarantee_left: FloatArray  # orders within guaranteed pay; inf without a guarantee
    # orders
    ready: FloatArray
    due: FloatArray
    size: IntArray
    cold: BoolArray
    group: IntArray
    direct: FloatArray
    keep: IntArray  # the order's current courier index, or -1
    # travel
    to_pickup: FloatArray  # (couriers, pickup groups)
    drop_ride: Callable[[int, int], float]  # minutes from order i's door to order k's door
    door_to_pickups: Callable[[Sequence[int]], FloatArray]  # minutes from these orders' doors to every pickup
    courier_minute: float = 0.0
    seed: int = 0
    pickup_before: float = field(init=False)
    pickup_after: float = field(init=False)
    dropoff_before: float = field(init=False)
    dropoff_after: float = field(init=False)

    def __post_init__(self) -> None:
        p = self.params
        self.pickup_before = p.pickup_service_minutes / 2
        self.pickup_after = p.pickup_service_minutes - self.pickup_before
        self.dropoff_before = p.dropoff_service_minutes / 2
        self.dropoff_after = p.dropoff_service_minutes - self.dropoff_before

    @cached_property
    def lists(self) -> ProblemLists:
        return ProblemLists(
            ready=self.ready.tolist(),
            due=self.due.tolist(),
            direct=self.direct.tolist(),
            size=self.size.tolist(),
            cold=self.cold.tolist(),
            group=self.group.tolist(),
            keep=self.keep.tolist(),
            avail=self.avail.tolist(),
            shift_end=self.shift_end.tolist(),
            capacity=self.capacity.tolist(),
            cold_ok=self.cold_ok.tolist(),
            guarantee_left=self.guarantee_left.tolist(),
        )

    @property
    def busy(self) -> FloatArray:
        """Courier minutes an order takes from arrival at the pharmacy to leaving its door, alone."""
        p = self.params
        busy: FloatArray = p.pickup_service_minutes + self.direct + p.dropoff_service_minutes
        return busy

    @property
    def shift_left(self) -> FloatArray:
        """Minutes each courier still works after it is free."""
        left: FloatArray = np.maximum(self.shift_end - self.avail, 0.0)
        return left

    @property
    def couriers(self) -> int:
        return len(self.avail)

    @property
    def orders(self) -> int:
        return len(self.ready)


def single_order_costs(problem: TickProblem, orders: IntArray | None = None) -> FloatArray:
    """Cost of each (courier, order) pair as a one-order bundle; ``inf`` where the pair is infeasible.

    ``orders`` restricts the columns to those orders (in that order); all orders by default.
    """
    p = problem.params
    cols = np.arange(problem.orders) if orders is None else orders
    ready, size, cold, keep = problem.ready[cols], problem.size[cols], problem.cold[cols], problem.keep[cols]
    travel = problem.to_pickup[:, problem.group[cols]]  # (m, n)
    pickup = problem.avail[:, None] + travel
    pickup += problem.pickup_before
    np.maximum(pickup, ready[None, :], out=pickup)
    feasible = pickup <= problem.shift_end[:, None]
    feasible &= size[None, :] <= problem.capacity[:, None]
    feasible &= ~cold[None, :] | problem.cold_ok[:, None]
    ride_after = problem.pickup_after + problem.direct[cols] + problem.dropoff_before - problem.due[cols]
    late = pickup + ride_after[None, :]  # dropoff - due
    np.maximum(late, 0.0, out=late)
    cost = pickup
    cost -= ready[None, :]
    cost *= p.wait_weight
    late *= p.late_weight
    cost += late
    # Only the courier's minutes before its shift ends are dear: after it, nobody else needs them.
    travel += problem.busy[cols][None, :]
    np.minimum(travel, problem.shift_left[:, None], out=travel)
    travel *= problem.courier_minute
    cost += travel
    if p.pay_weight > 0:
        cost += (p.pay_weight * np.clip(1.0 - problem.guarantee_left, 0.0, 1.0))[:, None]
    held = np.flatnonzero(keep >= 0)
    cost[keep[held], held] -= p.keep_weight
    cost[~feasible] = np.inf
    return cost


def order_values(problem: TickProblem, cost: FloatArray) -> FloatArray:
    """What serving each order this tick is worth (see the module docstring); ``nan`` when no courier can."""
    p = problem.params
    m, n = cost.shape
    if m == 0:
        return np.full(n, np.nan)
    best = cost.min(axis=0)
    fallback = best + p.wait_weight * p.no_alternative_minutes
    value: FloatArray
    if p.regret_rank == 1:
        value = best
    elif m >= p.regret_rank:
        kth = np.partition(cost, p.regret_rank - 1, axis=0)[p.regret_rank - 1]
        value = np.where(np.isfinite(kth), np.minimum(kth, fallback), fallback)
    else:
        value = fallback
    value = value + p.match_bonus
    value[~np.isfinite(best)] = np.nan
    return value


def match(problem: TickProblem, cost: FloatArray, value: FloatArray, seed: int) -> list[tuple[int, int]]:
    """(courier, order) pairs of the best matching; each courier and each order at most once."""
    m, n = cost.shape
    if m == 0 or n == 0:
        return []
    gain = cost - value[None, :]
    worth = gain < 0.0  # False where not worth it, infeasible (inf) or no courier can (nan)
    couriers, orders = np.flatnonzero(worth.any(axis=1)), np.flatnonzero(worth.any(axis=0))
    if len(couriers) == 0:
        return []
    if 2 * len(couriers) * len(orders) < m * n:  # worth compacting
        gain, worth = gain[np.ix_(couriers, orders)], worth[np.ix_(couriers, orders)]
    else:
        couriers, orders = np.arange(m), np.arange(n)
    # Ties go to the pair the seed favours: a tiny seeded perturbation, the same for the same seed.
    rng = np.random.default_rng(seed)
    tie = np.outer(rng.random(len(couriers)), rng.random(len(orders)))
    tie *= 1e-7
    gain -= tie
    gain[~worth] = 0.0
    rows, cols = linear_sum_assignment(gain)
    keep = worth[rows, cols]
    return [(int(couriers[j]), int(orders[i])) for j, i in zip(rows[keep], cols[keep], strict=True)]
