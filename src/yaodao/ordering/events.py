"""Order events: facts in the past tense, one per transition, carrying the order's city.

Dispatch follows ``ordering.order_ready_for_pickup``; payments follow cancellations and rejections
(``refund_due_fen``) and ``ordering.order_delivered`` (settlement, insurance accrual).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from yaodao.kernel.events import Event


@dataclass(frozen=True, kw_only=True)
class OrderCreated(Event):
    topic: ClassVar[str] = "ordering.order_created"
    order_id: str
    user_id: str
    patient_id: str
    pharmacy_id: str
    total_fen: int
    has_rx: bool
    fulfilment: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderAwaitingPayment(Event):
    topic: ClassVar[str] = "ordering.order_awaiting_payment"
    order_id: str
    total_fen: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderPaid(Event):
    topic: ClassVar[str] = "ordering.order_paid"
    order_id: str
    payment_ref: str
    amount_fen: int


@dataclass(frozen=True, kw_only=True)
class OrderReviewRequested(Event):
    topic: ClassVar[str] = "ordering.order_review_requested"
    order_id: str
    pharmacy_id: str
    has_rx: bool
    hold_codes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class OrderReviewed(Event):
    topic: ClassVar[str] = "ordering.order_reviewed"
    order_id: str
    result: str
    pharmacist_id: str
    second_pharmacist_id: str | None


@dataclass(frozen=True, kw_only=True)
class OrderAccepted(Event):
    topic: ClassVar[str] = "ordering.order_accepted"
    order_id: str
    pharmacy_id: str


@dataclass(frozen=True, kw_only=True)
class OrderPickingStarted(Event):
    topic: ClassVar[str] = "ordering.order_picking_started"
    order_id: str
    pharmacy_id: str


@dataclass(frozen=True, kw_only=True)
class OrderReadyForPickup(Event):
    topic: ClassVar[str] = "ordering.order_ready_for_pickup"
    order_id: str
    pharmacy_id: str
    fulfilment: str
    promise_minutes: int
    clock_started_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class OrderPickedUp(Event):
    topic: ClassVar[str] = "ordering.order_picked_up"
    order_id: str
    courier_id: str | None


@dataclass(frozen=True, kw_only=True)
class OrderDelivered(Event):
    topic: ClassVar[str] = "ordering.order_delivered"
    order_id: str
    fulfilment: str
    promise_minutes: int
    clock_started_at: datetime | None
    delivered_at: datetime


@dataclass(frozen=True, kw_only=True)
class OrderDeliveryFailed(Event):
    topic: ClassVar[str] = "ordering.order_delivery_failed"
    order_id: str
    reason: str
    refund_due_fen: int


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(Event):
    topic: ClassVar[str] = "ordering.order_cancelled"
    order_id: str
    by: str
    reason: str
    expired: bool
    refund_due_fen: int


@dataclass(frozen=True, kw_only=True)
class OrderRejected(Event):
    topic: ClassVar[str] = "ordering.order_rejected"
    order_id: str
    by: str
    reason: str
    refund_due_fen: int


@dataclass(frozen=True, kw_only=True)
class OrderRefunded(Event):
    """A refund was recorded; ``fully_refunded`` when it brought the total to what was paid."""

    topic: ClassVar[str] = "ordering.order_refunded"
    order_id: str
    refund_ref: str
    amount_fen: int
    refunded_fen: int
    fully_refunded: bool
