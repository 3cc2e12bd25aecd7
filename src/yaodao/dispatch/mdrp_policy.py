"""Any planner as an MDRP dispatch policy: the simulator's view becomes a snapshot, commits go back.

Minutes of the instance's day map to timezone-aware datetimes from ``EPOCH``; points are the
instance's location ids, measured by ``MdrpTravel``. Each order is due ``target click-to-door``
minutes after placement. Courier shifts are known ahead (they are planned), so a courier about
to start is offered from its ``on_time``. Bundles have no size limit in the MDRP: couriers get an
unbounded capacity and ``max_bundle_orders`` alone limits them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from yaodao.dispatch.mdrp import Instance, MdrpTravel
from yaodao.dispatch.mdrp_sim import Commit, SimView
from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Plan
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot
from yaodao.dispatch.travel_matrix import TravelMatrix

EPOCH = datetime(2018, 1, 1, tzinfo=UTC)
UNBOUNDED = 1_000_000

Planner = Callable[[Snapshot[str], TravelMatrix[str], PlannerParams, int], Plan]


def minute(t: float) -> datetime:
    return EPOCH + timedelta(minutes=t)


def mdrp_params(instance: Instance, params: PlannerParams, tick_minutes: int) -> PlannerParams:
    """``params`` with the instance's service times and the simulator's tick."""
    p = instance.params
    return dataclasses.replace(
        params,
        tick_seconds=60.0 * tick_minutes,
        pickup_service_minutes=float(p.pickup_service_minutes),
        dropoff_service_minutes=float(p.dropoff_service_minutes),
    )


def snapshot_of(view: SimView) -> Snapshot[str]:
    p = view.instance.params
    target = p.target_click_to_door
    guaranteed = p.guaranteed_pay_per_hour / 60.0 / p.pay_per_order if p.pay_per_order > 0 else 0.0  # orders per minute
    orders = tuple(
        OpenOrder(
            id=o.id,
            pickup_id=o.restaurant,
            pickup=o.restaurant,
            dropoff=o.id,
            placed_at=minute(o.placement_time),
            ready_at=minute(o.ready_time),
            due_at=minute(o.placement_time + target),
        )
        for o in view.open_orders
    )
    couriers = tuple(
        CourierState(
            id=c.courier.id,
            position=c.location,
            status=CourierStatus.DELIVERING if c.free_at > view.now else CourierStatus.IDLE,
            shift_end=minute(c.courier.off_time),
            shift_start=minute(c.courier.on_time) if c.courier.on_time > view.now else None,
            capacity=UNBOUNDED,
            free_at=minute(c.free_at) if c.free_at > view.now else None,
            free_position=c.location,
            guarantee_left=guaranteed * (c.courier.off_time - c.courier.on_time) - c.orders,
        )
        for c in view.couriers
    )
    return Snapshot(minute(view.now), orders, couriers)


class PlannerPolicy:
    """Plan every tick; commit the assignments the plan says must leave now."""

    def __init__(
        self, instance: Instance, planner: Planner, params: PlannerParams, *, tick_minutes: int = 1, seed: int = 0
    ):
        self._travel = MdrpTravel(instance)
        self._planner = planner
        self._params = mdrp_params(instance, params, tick_minutes)
        self._seed = seed

    def decide(self, view: SimView) -> Sequence[Commit]:
        result = self._planner(snapshot_of(view), self._travel, self._params, self._seed)
        return [Commit(a.courier_id, a.order_ids) for a in result.committed]
