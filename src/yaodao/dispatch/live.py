"""The live dispatcher's tick, without I/O: rows in, the planner's snapshot, and the changes to write.

``plan_tick(at, deliveries, couriers, travel, params, seed)`` is pure and seeded: the same rows
and seed give the same changes, whatever order the rows were read in.

* **Open orders.** A delivery is planned while nobody has taken it: ``unassigned``, or
  ``assigned`` and not yet accepted. Its order must be past payment and still open (``paid`` up to
  ``ready_for_pickup``); other deliveries are skipped. An Rx order is released only once a
  pharmacist approved it (``approved_at``, or a pharmacy state only an approved order reaches).
* **Taken work is left alone.** A delivery the courier accepted (or is standing at the pharmacy
  for, or carries) is never moved while its courier is on shift; that courier is planned as busy
  until its modelled finish, from its last drop-off. If the courier went offline or its shift
  ended (it is no longer among the couriers read), a delivery not yet picked up goes back to
  ``unassigned`` and is planned again in the same tick; a parcel already in its bag stays with it.
* **Changes.** Only committed assignments (``Assignment.commit``) are written as ``assigned``,
  with the bundle's id and the drop-off sequence; a tentative one only refreshes ``eta_at``. A
  delivery assigned to a courier and now planned for another (or for none) goes back to
  ``unassigned``. Every planned delivery gets its live ETA: the arrival at its drop-off stop.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from yaodao.dispatch.params import PlannerParams
from yaodao.dispatch.plan import Assignment, Plan, StopKind
from yaodao.dispatch.planner import plan as default_planner
from yaodao.dispatch.snapshot import CourierState, CourierStatus, OpenOrder, Snapshot
from yaodao.dispatch.travel_matrix import TravelMatrix
from yaodao.kernel.clock import require_aware
from yaodao.kernel.geo import LatLng

OPEN_ORDER_STATUSES = frozenset({"paid", "awaiting_review", "accepted", "picking", "ready_for_pickup"})
APPROVED_ORDER_STATUSES = frozenset({"accepted", "picking", "ready_for_pickup"})  # an Rx order gets there approved
PLANNED_STATES = frozenset({"unassigned", "assigned"})
TAKEN_STATES = frozenset({"assigned", "at_pickup", "picked_up"})
BUNDLE_NAMESPACE = uuid.UUID("6f1d7c1e-52a4-4c55-9d0e-3a7d2c9b8e10")

Planner = Callable[[Snapshot[LatLng], TravelMatrix[LatLng], PlannerParams, int], Plan]


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery as read for one tick, with the facts of its order and its pharmacy."""

    order_id: str
    version: int
    state: str  # unassigned | assigned | at_pickup | picked_up
    courier_id: str | None
    accepted_at: datetime | None
    bundle_id: str | None
    bundle_seq: int | None
    pharmacy_id: str
    pickup: LatLng  # the pharmacy
    dropoff: LatLng
    placed_at: datetime
    ready_at: datetime
    due_at: datetime
    eta_at: datetime | None
    size: int
    cold_chain: bool
    order_status: str
    has_rx: bool
    approved_at: datetime | None
    patient_id: str | None = None

    @property
    def taken(self) -> bool:
        """The courier took it: accepted, at the pharmacy, or carrying it."""
        return self.state in TAKEN_STATES and (self.accepted_at is not None or self.state != "assigned")

    @property
    def released_by_pharmacist(self) -> bool:
        return not self.has_rx or self.approved_at is not None or self.order_status in APPROVED_ORDER_STATUSES


@dataclass(frozen=True, slots=True)
class CourierRow:
    """A courier online, active and on a shift covering the tick."""

    id: str
    position: LatLng | None  # None until the phone reports one: not planned
    capacity: int
    cold_chain: bool
    shift_end: datetime


class ChangeKind(enum.StrEnum):
    ASSIGN = "assign"  # state assigned, courier, bundle, sequence, eta; the courier's acceptance is cleared
    UNASSIGN = "unassign"  # back to unassigned, no courier
    ETA = "eta"  # only eta_at


class UnassignReason(enum.StrEnum):
    REPLANNED = "replanned"  # planned for another courier, or for none this tick
    COURIER_GONE = "courier_gone"  # its courier went offline or its shift ended


@dataclass(frozen=True, slots=True)
class DeliveryChange:
    """One write, valid only while the delivery is still at ``expected_version``."""

    kind: ChangeKind
    order_id: str
    expected_version: int
    eta_at: datetime | None
    courier_id: str | None = None
    bundle_id: str | None = None
    bundle_seq: int | None = None
    previous_courier_id: str | None = None
    reason: UnassignReason | None = None


@dataclass(frozen=True, slots=True)
class TickPlan:
    """What one tick decided: the planner's plan, the changes to write, and the deliveries it skipped."""

    at: datetime
    plan: Plan
    changes: tuple[DeliveryChange, ...]
    skipped: tuple[str, ...]  # order not past payment, or closed
    couriers: int  # couriers the planner saw

    @property
    def assigned(self) -> tuple[DeliveryChange, ...]:
        return tuple(c for c in self.changes if c.kind is ChangeKind.ASSIGN)


def bundle_id(courier_id: str, order_ids: Iterable[str]) -> str:
    """The same courier with the same orders is the same bundle, tick after tick."""
    return str(uuid.uuid5(BUNDLE_NAMESPACE, courier_id + "|" + ",".join(order_ids)))


def plan_tick(
    at: datetime,
    deliveries: Sequence[DeliveryRow],
    couriers: Sequence[CourierRow],
    travel: TravelMatrix[LatLng],
    params: PlannerParams,
    seed: int,
    planner: Planner = default_planner,
) -> TickPlan:
    """Snapshot the rows, plan, and turn the plan into changes."""
    require_aware(at)
    rows = sorted(deliveries, key=lambda d: d.order_id)
    online = {c.id: c for c in sorted(couriers, key=lambda c: c.id) if c.position is not None}
    carried = [d for d in rows if d.state == "picked_up"]  # in a bag: never planned, only keeps its courier busy
    waiting = [d for d in rows if d.state != "picked_up"]
    skipped = tuple(d.order_id for d in waiting if d.order_status not in OPEN_ORDER_STATUSES)
    live = [d for d in waiting if d.order_status in OPEN_ORDER_STATUSES]
    gone = {d.order_id for d in live if d.taken and d.courier_id not in online}
    planned = [d for d in live if d.order_id in gone or (d.state in PLANNED_STATES and not d.taken)]
    work: dict[str, list[DeliveryRow]] = {c: [] for c in online}
    for d in live + carried:
        if d.taken and d.order_id not in gone and d.courier_id in work:
            work[d.courier_id].append(d)
    snapshot = Snapshot(
        at=at,
        orders=tuple(_open_order(d, gone) for d in planned),
        couriers=tuple(_courier_state(c, work[c.id], at, travel, params) for c in online.values()),
    )
    result = planner(snapshot, travel, params, seed)
    changes = changes_for(result, planned, gone)
    return TickPlan(at, result, changes, skipped, len(snapshot.couriers))


def changes_for(plan: Plan, planned: Sequence[DeliveryRow], gone: Collection[str]) -> tuple[DeliveryChange, ...]:
    """The writes that bring the planned deliveries in line with ``plan``."""
    by_order: dict[str, tuple[Assignment, int, datetime]] = {}
    for a in plan.assignments:
        drops = {s.place_id: s.arrive_at for s in a.stops if s.kind is StopKind.DROPOFF}
        for seq, order_id in enumerate(a.order_ids):
            by_order[order_id] = (a, seq, drops[order_id])
    changes: list[DeliveryChange] = []
    for d in planned:
        was = None if d.order_id in gone else d.courier_id
        found = by_order.get(d.order_id)
        if found is not None and not d.released_by_pharmacist:
            found = None  # the planner holds these; never let one through
        if found is None:
            if d.order_id in gone or d.courier_id is not None:
                reason = UnassignReason.COURIER_GONE if d.order_id in gone else UnassignReason.REPLANNED
                changes.append(_unassign(d, None, reason))
            continue
        a, seq, eta = found
        if a.commit:
            bundle = bundle_id(a.courier_id, a.order_ids)
            if d.state == "assigned" and (was, d.bundle_id, d.bundle_seq) == (a.courier_id, bundle, seq):
                changes.extend(_eta(d, eta))
            else:
                changes.append(
                    DeliveryChange(
                        ChangeKind.ASSIGN, d.order_id, d.version, eta, a.courier_id, bundle, seq, d.courier_id
                    )
                )
        elif d.order_id in gone or (was is not None and was != a.courier_id):
            reason = UnassignReason.COURIER_GONE if d.order_id in gone else UnassignReason.REPLANNED
            changes.append(_unassign(d, eta, reason))
        else:
            changes.extend(_eta(d, eta))
    return tuple(changes)


def _unassign(d: DeliveryRow, eta: datetime | None, reason: UnassignReason) -> DeliveryChange:
    return DeliveryChange(
        ChangeKind.UNASSIGN, d.order_id, d.version, eta, previous_courier_id=d.courier_id, reason=reason
    )


def _eta(d: DeliveryRow, eta: datetime) -> list[DeliveryChange]:
    eta = eta.replace(microsecond=0)
    if d.eta_at is not None and d.eta_at.replace(microsecond=0) == eta:
        return []
    return [DeliveryChange(ChangeKind.ETA, d.order_id, d.version, eta)]


def _open_order(d: DeliveryRow, gone: Collection[str]) -> OpenOrder[LatLng]:
    return OpenOrder(
        id=d.order_id,
        pickup_id=d.pharmacy_id,
        pickup=d.pickup,
        dropoff=d.dropoff,
        placed_at=d.placed_at,
        ready_at=d.ready_at,
        due_at=d.due_at,
        size=d.size,
        cold_chain=d.cold_chain,
        rx=d.has_rx,
        rx_approved=d.released_by_pharmacist,
        courier_id=None if d.order_id in gone else d.courier_id,
    )


def _courier_state(
    c: CourierRow, work: list[DeliveryRow], at: datetime, travel: TravelMatrix[LatLng], params: PlannerParams
) -> CourierState[LatLng]:
    assert c.position is not None
    if not work:
        return CourierState(
            id=c.id, position=c.position, status=CourierStatus.IDLE, shift_end=c.shift_end,
            capacity=c.capacity, cold_chain=c.cold_chain,
        )  # fmt: skip
    free_at, free_position = _finish(c.position, work, at, travel, params)
    return CourierState(
        id=c.id, position=c.position, status=CourierStatus.DELIVERING, shift_end=c.shift_end,
        capacity=c.capacity, cold_chain=c.cold_chain, carrying=tuple(d.order_id for d in work),
        free_at=max(free_at, at + timedelta(seconds=params.tick_seconds)), free_position=free_position,
    )  # fmt: skip


def _finish(
    start: LatLng, work: list[DeliveryRow], at: datetime, travel: TravelMatrix[LatLng], params: PlannerParams
) -> tuple[datetime, LatLng]:
    """When and where a courier's taken work ends: its pickups (pharmacy by pharmacy), then its drop-offs."""
    half_pickup = timedelta(minutes=params.pickup_service_minutes / 2)
    half_drop = timedelta(minutes=params.dropoff_service_minutes / 2)
    t, here = at, start

    def ride(to: LatLng) -> None:
        nonlocal t, here
        t += timedelta(minutes=float(travel.matrix([here], [to], t)[0, 0]))
        here = to

    to_collect = [d for d in work if d.state != "picked_up"]
    for pharmacy_id in sorted({d.pharmacy_id for d in to_collect}):
        batch = [d for d in to_collect if d.pharmacy_id == pharmacy_id]
        ride(batch[0].pickup)
        t = max(t + half_pickup, max(d.ready_at for d in batch)) + half_pickup
    for d in sorted(work, key=lambda d: (d.bundle_seq if d.bundle_seq is not None else 0, d.order_id)):
        ride(d.dropoff)
        t += half_drop * 2
    return t, here
