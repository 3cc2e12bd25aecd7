"""The customer's view of one order on its way: pure, built from a snapshot the read side hands over.

Only what the customer needs: the courier's first name and a masked phone, and their last position
while they carry (or go to fetch) the order; never the courier's account, full number or trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# Order statuses after which nothing more happens on the way to the door.
FINAL_ORDER_STATUSES = frozenset({"delivered", "delivery_failed", "cancelled", "rejected", "refunded"})
FINAL_DELIVERY_STATES = frozenset({"delivered", "failed", "cancelled"})
# Delivery states in which the courier is on their way to the pharmacy or to the door.
COURIER_ON_THE_WAY = frozenset({"assigned", "at_pickup", "picked_up"})
# Order statuses in rank order, for a timeline of equal timestamps.
STATUS_RANK = (
    "created", "awaiting_payment", "paid", "awaiting_review", "accepted", "picking", "ready_for_pickup",
    "picked_up", "delivered", "delivery_failed", "cancelled", "rejected", "refunded",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class CourierRow:
    first_name: str
    phone: str
    lat: float | None
    lng: float | None
    position_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    state: str
    due_at: datetime
    quoted_at: datetime
    eta_at: datetime | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    dropoff: Point
    courier: CourierRow | None


@dataclass(frozen=True, slots=True)
class TrackingSnapshot:
    """What the read side found for one order: the order, its pharmacy, and its delivery if one exists yet."""

    order_id: str
    city_id: str
    status: str
    entered_at: Mapping[str, datetime]
    promise_minutes: int
    quoted_eta_minutes: int
    address_text: str | None
    dropoff: Point | None
    pharmacy_name: str
    pharmacy_address: str
    pharmacy: Point
    delivery: DeliveryRow | None


@dataclass(frozen=True, slots=True)
class CourierView:
    first_name: str
    phone_masked: str
    position: Point | None  # only while on the way
    position_at: datetime | None
    position_age_s: int | None


@dataclass(frozen=True, slots=True)
class TrackingView:
    order_id: str
    city_id: str
    status: str
    stage: str  # what to tell the customer: the order's status, or the courier's step while it is more telling
    timeline: tuple[tuple[str, datetime], ...]
    pharmacy_name: str
    pharmacy_address: str
    pharmacy: Point
    dropoff: Point | None
    address_text: str | None
    delivery_state: str | None
    courier: CourierView | None
    eta_at: datetime | None
    eta_source: str | None  # "live" (the dispatcher's estimate) or "quote" (what checkout promised)
    due_at: datetime | None
    at_risk: bool
    late: bool
    delivered_at: datetime | None
    final: bool

    def as_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at is not None else None

        def point(p: Point | None) -> dict[str, float] | None:
            return {"lat": p.lat, "lng": p.lng} if p is not None else None

        courier = self.courier
        return {
            "order_id": self.order_id,
            "status": self.status,
            "stage": self.stage,
            "timeline": [{"status": s, "at": at.isoformat()} for s, at in self.timeline],
            "pharmacy": {"name": self.pharmacy_name, "address": self.pharmacy_address, **(point(self.pharmacy) or {})},
            "dropoff": point(self.dropoff),
            "address_text": self.address_text,
            "delivery_state": self.delivery_state,
            "courier": None if courier is None else {
                "first_name": courier.first_name,
                "phone_masked": courier.phone_masked,
                "position": point(courier.position),
                "position_at": iso(courier.position_at),
                "position_age_s": courier.position_age_s,
            },
            "eta_at": iso(self.eta_at),
            "eta_source": self.eta_source,
            "due_at": iso(self.due_at),
            "at_risk": self.at_risk,
            "late": self.late,
            "delivered_at": iso(self.delivered_at),
            "final": self.final,
        }  # fmt: skip


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``: the first three and last four digits of a mainland mobile number.

    A country prefix (+86 / 0086 / 86 before eleven digits) is dropped first; a short number keeps only
    its last two digits; no digits at all gives ``****``.
    """
    digits = "".join(ch for ch in phone if ch.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
            break
    if len(digits) >= 8:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 3:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "****"


def build_view(snapshot: TrackingSnapshot, now: datetime) -> TrackingView:
    """The customer's view at ``now``: the live ETA if the dispatcher has one, else the quote; at risk when
    the estimate (or the clock) is past the promise before the order has arrived."""
    delivery = snapshot.delivery
    rank = {s: i for i, s in enumerate(STATUS_RANK)}
    timeline = tuple(sorted(snapshot.entered_at.items(), key=lambda item: (item[1], rank.get(item[0], len(rank)))))
    final = snapshot.status in FINAL_ORDER_STATUSES or (
        delivery is not None and delivery.state in FINAL_DELIVERY_STATES
    )
    eta_at: datetime | None
    due_at: datetime | None
    source: str | None
    dropoff: Point | None = snapshot.dropoff
    if delivery is not None:
        eta_at, source = (delivery.eta_at, "live") if delivery.eta_at is not None else (delivery.quoted_at, "quote")
        due_at = delivery.due_at
        dropoff = dropoff or delivery.dropoff
        delivered_at = delivery.delivered_at or snapshot.entered_at.get("delivered")
    else:
        started = snapshot.entered_at.get("paid")
        eta_at = started + timedelta(minutes=snapshot.quoted_eta_minutes) if started else None
        due_at = started + timedelta(minutes=snapshot.promise_minutes) if started else None
        source = "quote" if eta_at else None
        delivered_at = snapshot.entered_at.get("delivered")
    late = False
    if due_at is not None:
        late = delivered_at > due_at if delivered_at is not None else (not final and now > due_at)
    at_risk = not final and due_at is not None and (late or (eta_at is not None and eta_at > due_at))
    stage = snapshot.status
    if delivery is not None and delivery.state in ("assigned", "at_pickup") and not final:
        stage = delivery.state
    return TrackingView(
        order_id=snapshot.order_id, city_id=snapshot.city_id, status=snapshot.status, stage=stage, timeline=timeline,
        pharmacy_name=snapshot.pharmacy_name, pharmacy_address=snapshot.pharmacy_address, pharmacy=snapshot.pharmacy,
        dropoff=dropoff, address_text=snapshot.address_text,
        delivery_state=delivery.state if delivery else None,
        courier=_courier(delivery, now), eta_at=None if final else eta_at, eta_source=None if final else source,
        due_at=due_at, at_risk=at_risk, late=late, delivered_at=delivered_at, final=final,
    )  # fmt: skip


def _courier(delivery: DeliveryRow | None, now: datetime) -> CourierView | None:
    if delivery is None or delivery.courier is None or delivery.state in ("unassigned", "cancelled"):
        return None
    row = delivery.courier
    on_the_way = delivery.state in COURIER_ON_THE_WAY and row.lat is not None and row.lng is not None
    position_at = row.position_at if on_the_way else None
    return CourierView(
        first_name=row.first_name,
        phone_masked=mask_phone(row.phone),
        position=Point(row.lat, row.lng) if on_the_way and row.lat is not None and row.lng is not None else None,
        position_at=position_at,
        position_age_s=max(0, int((now - position_at).total_seconds())) if position_at else None,
    )


def fingerprint(view: TrackingView) -> dict[str, Any]:
    """The view without what changes by itself as time passes (the position's age): equal fingerprints
    mean nothing happened worth telling the customer about."""
    data = view.as_json()
    if data["courier"] is not None:
        data["courier"] = {k: v for k, v in data["courier"].items() if k != "position_age_s"}
    return data
