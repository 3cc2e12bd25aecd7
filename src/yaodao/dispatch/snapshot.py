"""What the planner sees at one tick: open orders and couriers, frozen, independent of any database.

A point is whatever the travel model measures between: ``LatLng`` in a city, a location id in
the MDRP benchmark. The planner never looks inside a point; it only asks a ``TravelMatrix``.
Times are timezone-aware datetimes.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from yaodao.kernel.clock import require_aware

P = TypeVar("P", bound=Hashable)


class CourierStatus(enum.StrEnum):
    IDLE = "idle"  # waiting where it is, free now (or at shift_start)
    TO_PICKUP = "to_pickup"  # riding to a pickup that may still be re-planned
    DELIVERING = "delivering"  # carrying orders; free at ``free_at`` at ``free_position``
    OFFLINE = "offline"  # logged off or unreachable: never planned


@dataclass(frozen=True, slots=True)
class OpenOrder(Generic[P]):
    """An order not yet picked up.

    ``due_at`` is the promise (clock start + 30/60 min). ``ready_at`` is when the pharmacy says it
    will be packed. An Rx order is never planned before ``rx_approved``. ``courier_id`` names the
    courier it was last given to, if any (re-planning prefers to keep it there). ``size`` counts
    against the courier's ``capacity``; a ``cold_chain`` order needs a cold-capable courier.
    """

    id: str
    pickup_id: str  # the pharmacy: orders with the same pickup_id can share a pickup
    pickup: P
    dropoff: P
    placed_at: datetime
    ready_at: datetime
    due_at: datetime
    size: int = 1
    cold_chain: bool = False
    rx: bool = False
    rx_approved: bool = False
    courier_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("placed_at", "ready_at", "due_at"):
            require_aware(getattr(self, name))
        if self.size < 1:
            raise ValueError(f"order {self.id}: size must be >= 1.")

    @property
    def releasable(self) -> bool:
        """OTC orders always; Rx orders only once a pharmacist has approved them."""
        return not self.rx or self.rx_approved


@dataclass(frozen=True, slots=True)
class CourierState(Generic[P]):
    """A courier as the dispatcher knows it.

    ``guarantee_left`` is how many more orders fit inside the courier's guaranteed minimum pay
    this shift (``None``: no guarantee); an order beyond it costs its pay, so the planner spreads
    work over couriers still inside their guarantee (``PlannerParams.pay_weight``).

    ``position`` is where it is now. A courier that is delivering is free at ``free_at`` at
    ``free_position`` (its last drop-off); the planner gives it new work from there. A courier
    whose shift has not started yet is free at ``shift_start``. No pickup may be planned after
    ``shift_end``; drop-offs after it are fine.
    """

    id: str
    position: P
    status: CourierStatus
    shift_end: datetime
    shift_start: datetime | None = None
    capacity: int = 3
    cold_chain: bool = False
    carrying: tuple[str, ...] = ()
    free_at: datetime | None = None
    free_position: P | None = None
    guarantee_left: float | None = None  # orders it can still take within its guaranteed minimum pay

    def __post_init__(self) -> None:
        require_aware(self.shift_end)
        for name in ("shift_start", "free_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value)
        if self.capacity < 1:
            raise ValueError(f"courier {self.id}: capacity must be >= 1.")


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[P]):
    """One city's open orders and couriers at ``at``."""

    at: datetime
    orders: tuple[OpenOrder[P], ...]
    couriers: tuple[CourierState[P], ...]

    def __post_init__(self) -> None:
        require_aware(self.at)
        for kind, ids in (("order", [o.id for o in self.orders]), ("courier", [c.id for c in self.couriers])):
            if len(set(ids)) != len(ids):
                raise ValueError(f"snapshot: a {kind} id appears twice.")
