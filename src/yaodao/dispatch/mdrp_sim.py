"""An event-driven replay of one MDRP day under any dispatch policy, with the instance's rules.

The rules (Reyes et al. 2018, and the upstream evaluator):

* an order is revealed at its placement time, with its ready time (or, in the
  ``restaurant_mean`` information mode, with an estimate from its restaurant's mean preparation);
* a commit gives a courier a bundle: orders of one restaurant, dropped off in the listed order.
  It can only name placed, not yet assigned orders, and it is final (no diversion en route);
* the courier leaves for the restaurant at ``max(now, when its previous work ends, on_time)``;
  pickup = ``max(latest ready time of the bundle, arrival + half the pickup service)``, and it
  leaves half a service later; each drop-off happens half a service after arriving and the
  courier leaves half a service after that;
* no pickup after the courier's ``off_time`` (drop-offs after it are fine). With estimated ready
  times the dispatcher cannot always know: a courier that would have to wait past its
  ``off_time`` rides to the restaurant, its shift ends there, and the bundle goes back to the pool;
* an idle courier waits where it is: its start location or its last drop-off.

The policy is asked for commits at every tick while orders are open; when none are open, time
jumps to the next placement. A commit that breaks a rule raises ``ValueError``: a policy bug, never
silently repaired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from yaodao.dispatch.mdrp import Instance, MdrpCourier, MdrpOrder

ReadyInformation = Literal["exact", "restaurant_mean"]


@dataclass(frozen=True, slots=True)
class Commit:
    """Courier ``courier_id`` takes ``order_ids`` (one restaurant), dropping them off in this order."""

    courier_id: str
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CourierView:
    courier: MdrpCourier
    free_at: int  # when its committed work ends (its on_time before the shift starts)
    location: str  # where it will be then: its start location or its last drop-off
    orders: int = 0  # orders committed to it so far


@dataclass(frozen=True, slots=True)
class SimView:
    """What a dispatcher knows at ``now``: open orders and the couriers that can still pick up."""

    instance: Instance
    now: int
    open_orders: tuple[MdrpOrder, ...]
    couriers: tuple[CourierView, ...]


class Policy(Protocol):
    def decide(self, view: SimView) -> Sequence[Commit]: ...


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    assignment_time: int
    pickup_time: int
    courier_id: str
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    order_id: str
    courier_id: str
    assignment_time: int
    arrival_at_restaurant: int
    pickup_time: int
    dropoff_time: int
    bundle_size: int
    position_in_bundle: int  # 0 for the first drop-off


@dataclass(frozen=True, slots=True)
class Move:
    courier_id: str
    departure: int
    origin: str  # a location id; the courier's own id is its start location
    destination: str
    arrival: int


@dataclass
class SimResult:
    instance: Instance
    assignments: list[AssignmentRecord] = field(default_factory=list)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    ticks: int = 0
    missed_pickups: int = 0  # restaurant_mean only: the courier's shift ended before the food was ready


@dataclass
class _Courier:
    courier: MdrpCourier
    free_at: int
    location: str
    orders: int = 0


def estimated_ready_times(instance: Instance) -> dict[str, int]:
    """placement + the restaurant's mean preparation time (rounded), as Reyes et al.'s second setting."""
    prep: dict[str, list[int]] = {}
    for o in instance.orders:
        prep.setdefault(o.restaurant, []).append(o.ready_time - o.placement_time)
    mean = {r: round(sum(v) / len(v)) for r, v in prep.items()}
    return {o.id: o.placement_time + mean[o.restaurant] for o in instance.orders}


def simulate(
    instance: Instance, policy: Policy, *, tick_minutes: int = 1, ready_information: ReadyInformation = "exact"
) -> SimResult:
    """Replay ``instance`` under ``policy``; return every assignment, delivery and courier move."""
    if tick_minutes < 1:
        raise ValueError("tick_minutes must be a whole number of minutes >= 1.")
    result = SimResult(instance)
    if not instance.orders:
        return result
    known_ready = estimated_ready_times(instance) if ready_information == "restaurant_mean" else None
    pending = sorted(instance.orders, key=lambda o: (o.placement_time, o.id))
    couriers = {c.id: _Courier(c, c.on_time, c.id) for c in instance.couriers}
    last_off = max((c.off_time for c in instance.couriers), default=-1)
    open_orders: dict[str, MdrpOrder] = {}
    next_index = 0
    now = pending[0].placement_time
    while True:
        while next_index < len(pending) and pending[next_index].placement_time <= now:
            order = pending[next_index]
            open_orders[order.id] = order
            next_index += 1
        if open_orders:
            seen = tuple(open_orders.values())
            if known_ready is not None:
                seen = tuple(replace(o, ready_time=max(o.placement_time, known_ready[o.id])) for o in seen)
            view = SimView(
                instance,
                now,
                seen,
                tuple(
                    CourierView(c.courier, c.free_at, c.location, c.orders)
                    for c in couriers.values()
                    if c.courier.off_time >= now
                ),
            )
            result.ticks += 1
            for commit in policy.decide(view):
                _apply(instance, result, couriers, open_orders, commit, now, estimated=known_ready is not None)
        if now > last_off:
            break  # no courier can pick up any more: what is still open stays undelivered
        if open_orders:
            now += tick_minutes
        elif next_index < len(pending):
            now = max(now + 1, pending[next_index].placement_time)
        else:
            break
    return result


def _apply(
    instance: Instance,
    result: SimResult,
    couriers: dict[str, _Courier],
    open_orders: dict[str, MdrpOrder],
    commit: Commit,
    now: int,
    *,
    estimated: bool = False,
) -> None:
    where = f"t={now} commit {commit.courier_id} {list(commit.order_ids)}"
    state = couriers.get(commit.courier_id)
    if state is None:
        raise ValueError(f"{where}: unknown courier")
    if not commit.order_ids or len(set(commit.order_ids)) != len(commit.order_ids):
        raise ValueError(f"{where}: a bundle needs one or more distinct orders")
    orders = []
    for order_id in commit.order_ids:
        order = open_orders.get(order_id)
        if order is None:
            raise ValueError(f"{where}: order {order_id} is not open (unknown, not yet placed or already assigned)")
        orders.append(order)
    restaurant = orders[0].restaurant
    if any(o.restaurant != restaurant for o in orders):
        raise ValueError(f"{where}: a bundle holds orders from a single restaurant")
    p = instance.params
    courier = state.courier
    depart = max(now, state.free_at, courier.on_time)
    arrival = depart + instance.travel_minutes(state.location, restaurant)
    pickup = max(max(instance.order_by_id[o.id].ready_time for o in orders), arrival + p.pickup_before)
    if pickup > courier.off_time:
        if not estimated or arrival + p.pickup_before > courier.off_time:
            raise ValueError(f"{where}: pickup at {pickup} is after the courier's off_time {courier.off_time}")
        # The dispatcher only had an estimate: the food is not ready before the shift ends. The
        # courier has ridden there for nothing, its shift is over, and the orders go back to the pool.
        result.moves.append(Move(courier.id, depart, state.location, restaurant, arrival))
        result.missed_pickups += 1
        state.free_at, state.location = max(arrival, courier.off_time), restaurant
        return
    result.moves.append(Move(courier.id, depart, state.location, restaurant, arrival))
    result.assignments.append(AssignmentRecord(now, pickup, courier.id, commit.order_ids))
    leave, here = pickup + p.pickup_after, restaurant
    for position, order in enumerate(orders):
        reach = leave + instance.travel_minutes(here, order.id)
        result.moves.append(Move(courier.id, leave, here, order.id, reach))
        dropoff = reach + p.dropoff_before
        result.deliveries[order.id] = Delivery(
            order.id, courier.id, now, arrival, pickup, dropoff, len(orders), position
        )
        leave, here = dropoff + p.dropoff_after, order.id
        del open_orders[order.id]
    state.free_at, state.location = leave, here
    state.orders += len(orders)
