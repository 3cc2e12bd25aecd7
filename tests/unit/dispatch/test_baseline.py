"""The baseline dispatcher: nearest idle courier, first come first served, no bundling.

Planar little worlds: points are (x, y) in km, 3 minutes per km.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from yaodao.dispatch.baseline import plan_baseline
from yaodao.dispatch.plan import HoldReason, Plan
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot

Point = tuple[float, float]
NOW = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


class PlaneTravel:
    def matrix(self, origins: Sequence[Point], destinations: Sequence[Point], at: datetime) -> npt.NDArray[np.float64]:
        a, b = np.array(origins, dtype=float).reshape(-1, 2), np.array(destinations, dtype=float).reshape(-1, 2)
        return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]) * 3.0

    def pairwise(
        self, origins: Sequence[Point], destinations: Sequence[Point], at: datetime
    ) -> npt.NDArray[np.float64]:
        a, b = np.array(origins, dtype=float).reshape(-1, 2), np.array(destinations, dtype=float).reshape(-1, 2)
        return np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) * 3.0


def minutes(m: float) -> datetime:
    return NOW + timedelta(minutes=m)


def order(id: str, placed: float, pharmacy: Point = (0.0, 0.0), **changes: object) -> OpenOrder[Point]:
    base = OpenOrder(
        id=id,
        pickup_id=f"ph{pharmacy}",
        pickup=pharmacy,
        dropoff=(pharmacy[0] + 1.0, pharmacy[1]),
        placed_at=minutes(placed),
        ready_at=minutes(placed + 10),
        due_at=minutes(placed + 30),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def courier(id: str, at: Point, **changes: object) -> CourierState[Point]:
    base = CourierState(id=id, position=at, status=CourierStatus.IDLE, shift_end=minutes(240))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def baseline(orders: Sequence[OpenOrder[Point]], couriers: Sequence[CourierState[Point]]) -> Plan:
    return plan_baseline(Snapshot(NOW, tuple(orders), tuple(couriers)), PlaneTravel())


def test_the_oldest_order_takes_the_nearest_idle_courier_and_leaves_at_once() -> None:
    """First come, first served: the older order gets the nearer courier, and both are dispatched now."""
    orders = [order("newer", placed=-2), order("older", placed=-9)]
    result = baseline(orders, [courier("far", (0.0, 3.0)), courier("near", (0.0, 1.0))])
    assert result.courier_of("older") == "near"
    assert result.courier_of("newer") == "far"
    assert all(a.commit and a.depart_at == NOW for a in result.assignments)


def test_the_baseline_never_bundles() -> None:
    """Two orders from one pharmacy and one courier: one goes, the other waits for the next tick."""
    result = baseline([order("a", placed=-5), order("b", placed=-4)], [courier("c1", (0.0, 1.0))])
    assert [a.order_ids for a in result.assignments] == [("a",)]
    assert result.deferred == ("b",)


def test_the_baseline_uses_only_couriers_free_now() -> None:
    """A delivering courier next door is passed over for an idle one farther away."""
    busy = courier("busy", (0.0, 0.1), status=CourierStatus.DELIVERING, free_at=minutes(5), free_position=(0.0, 0.1))
    result = baseline([order("o1", placed=-5)], [busy, courier("idle", (0.0, 4.0))])
    assert result.courier_of("o1") == "idle"


def test_the_baseline_keeps_the_hard_rules() -> None:
    """Rx waits for approval; cold chain needs a cold box; no pickup after the shift ends."""
    orders = [
        order("rx", placed=-9, rx=True),
        order("cold", placed=-8, cold_chain=True),
        order("plain", placed=-7),
    ]
    couriers = [courier("ending", (0.0, 0.5), shift_end=minutes(2)), courier("warm", (0.0, 1.0))]
    result = baseline(orders, couriers)
    assert result.held == {"rx": HoldReason.AWAITING_PHARMACIST}
    assert result.courier_of("cold") is None
    assert "cold" in result.deferred
    assert result.courier_of("plain") == "warm"
    assert result.assignments[0].pickup.handover_at >= minutes(-7 + 10)
