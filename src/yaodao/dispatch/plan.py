"""A plan: which courier takes which orders, in which sequence, when, and what is dispatched now."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class StopKind(enum.StrEnum):
    PICKUP = "pickup"
    DROPOFF = "dropoff"


class HoldReason(enum.StrEnum):
    AWAITING_PHARMACIST = "awaiting_pharmacist"  # Rx order not yet approved: never planned
    NO_ELIGIBLE_COURIER = "no_eligible_courier"  # no courier on shift can take it (cold chain, size, shift end)


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop of a courier's route. ``place_id`` is the pharmacy (pickup) or the order (drop-off).

    ``arrive_at`` is when the courier gets there, ``handover_at`` when the parcel changes hands
    (for a pickup: not before the last order is ready), ``leave_at`` when the courier rides on.
    """

    kind: StopKind
    place_id: str
    order_ids: tuple[str, ...]
    arrive_at: datetime
    handover_at: datetime
    leave_at: datetime


@dataclass(frozen=True, slots=True)
class Assignment:
    """A courier's next bundle: one pickup, then the drop-offs in ``order_ids`` order.

    ``commit`` means dispatch now: the courier must leave by ``depart_at`` (within this tick) to
    make the pickup on time. Uncommitted assignments are tentative and re-planned next tick.
    """

    courier_id: str
    order_ids: tuple[str, ...]
    stops: tuple[Stop, ...]
    depart_at: datetime
    commit: bool
    cost: float

    @property
    def pickup(self) -> Stop:
        return self.stops[0]


@dataclass(frozen=True, slots=True)
class Plan:
    at: datetime
    assignments: tuple[Assignment, ...]
    deferred: tuple[str, ...]  # plannable, but no courier this tick: planned again next tick
    held: Mapping[str, HoldReason] = field(default_factory=dict)

    @property
    def committed(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.commit)

    def courier_of(self, order_id: str) -> str | None:
        for a in self.assignments:
            if order_id in a.order_ids:
                return a.courier_id
        return None
